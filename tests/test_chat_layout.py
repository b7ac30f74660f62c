"""The chat screen at any terminal size, and what it keeps between runs."""

from __future__ import annotations

from rich.cells import cell_len

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.store import Store
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.widgets.thread_panel import ThreadPanel


def chat(app) -> ChatScreen:
    assert isinstance(app.screen, ChatScreen)
    return app.screen


def status_text(screen: ChatScreen) -> tuple[str, str]:
    left = screen.query_one("#status-left")
    right = screen.query_one("#status-right")
    return (str(left.render_line(0).text), str(right.render_line(0).text))


async def test_at_80x24_the_thread_list_collapses_and_the_chat_is_at_least_76_wide(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = chat(app)
        await pilot.pause()
        panel = screen.query_one(ThreadPanel)
        assert not panel.display or panel.region.width == 0
        assert screen.query_one("#conversation").region.width >= 76
        assert screen.composer.region.width >= 76
        # Ctrl+T shows it over the chat; choosing or Esc closes it again.
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: panel.display and panel.region.width > 0)
        assert screen.composer.region.width >= 76  # laid over, not squeezing the chat
        await pilot.press("escape")
        await wait_for(pilot, lambda: not panel.display or panel.region.width == 0)
        assert screen.focused is screen.composer


async def test_at_40x12_the_app_is_usable(tmp_path, fake_server):
    fake_server.script(Reply.text("short reply"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(40, 12)) as pilot:
        screen = chat(app)
        await pilot.pause()
        assert screen.composer.region.width >= 30
        assert screen.transcript.region.height >= 3
        screen.composer.text = "hello there"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.generating and "short reply" in screen.transcript.all_text())
        assert "short reply" in screen.transcript.visible_text()


async def test_f9_hides_the_thread_list_at_full_width_and_it_is_remembered(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        panel = screen.query_one(ThreadPanel)
        await pilot.pause()
        assert panel.region.width > 0
        await pilot.press("f9")
        await wait_for(pilot, lambda: not panel.display or panel.region.width == 0)
        await wait_for(pilot, lambda: peek(app).get_pref("thread_list") == "hidden")
    store = Store(tmp_path / "tuichat.db")
    again = make_app(tmp_path, fake_server.base_url, store=store)
    async with again.run_test(size=(120, 40)) as pilot:
        screen = chat(again)
        panel = screen.query_one(ThreadPanel)
        await wait_for(pilot, lambda: not panel.display or panel.region.width == 0)
        await pilot.press("f9")
        await wait_for(pilot, lambda: panel.region.width > 0)


async def test_titles_are_cut_with_an_ellipsis_by_cell_width_japanese_included(tmp_path, fake_server):
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model", "日本語のとても長いタイトルがここに続きます、さらに続いて終わりません")
    store.add_message(thread.id, "user", "hi")
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    async with app.run_test(size=(40, 12)) as pilot:
        screen = chat(app)
        await wait_for(pilot, lambda: screen.ready)
        left, _ = status_text(screen)
        assert "日本語" in left
        assert left.rstrip().endswith("…")
        assert cell_len(left) <= screen.query_one("#status-left").region.width


async def test_generating_stays_visible_at_80_columns(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["x "], stall_after=1))
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model", "A rather long English title that would push things off the line")
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = chat(app)
        await wait_for(pilot, lambda: screen.ready)
        screen.composer.text = "go"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.generating)
        await wait_for(pilot, lambda: "generating" in status_text(screen)[1])
        left, right = status_text(screen)
        assert "esc" in right.lower()
        assert left.rstrip().endswith("…")  # the long title is cut, never the state
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)


async def test_the_theme_picked_in_the_app_is_kept(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme != "gruvbox"
        app.theme = "gruvbox"
        await wait_for(pilot, lambda: peek(app).get_pref("theme") == "gruvbox")
    again = make_app(tmp_path, fake_server.base_url, store=Store(tmp_path / "tuichat.db"))
    async with again.run_test(size=(100, 30)):
        assert again.theme == "gruvbox"
