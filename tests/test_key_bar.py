"""The footer (KeyBar): the keys that work now, drawn by one widget, redrawn only when they
change, and clickable."""

from __future__ import annotations

from apphelpers import make_app, wait_for
from fake_openai import Reply
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.screens.help import HelpScreen
from tuichat.ui.widgets.key_bar import KeyBar


def bar_text(app) -> str:
    return app.screen.query_one(KeyBar).render().plain


async def test_shows_the_screens_keys_and_the_palette_on_the_right(tmp_path):
    app = make_app(tmp_path, "http://127.0.0.1:9/v1")
    async with app.run_test(size=(120, 40)):
        text = bar_text(app)
        assert text.startswith(" ⏎ Send  ^r Reset  ^n New  f1 Help")
        assert text.rstrip().endswith("▏^p palette")
        assert len(text) == 120
        # A key the user remapped shows as remapped; hidden bindings never show.
        assert "Toggle thread list" not in text and "Stop" not in text


async def test_a_narrow_bar_keeps_the_palette_and_cuts_the_rest(tmp_path):
    app = make_app(tmp_path, "http://127.0.0.1:9/v1")
    async with app.run_test(size=(40, 12)):
        text = bar_text(app)
        assert len(text) == 40
        assert text.startswith(" ⏎ Send  ^r Reset")
        assert text.endswith("▏^p palette ")


async def test_follows_the_send_lock_and_redraws_only_on_a_change(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["a ", "b"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        bar = screen.query_one(KeyBar)
        renders: list[str] = []
        original = bar.render

        def spy():  # noqa: ANN202
            text = original()
            renders.append(text.plain)
            return text

        bar.render = spy
        screen.refresh_bindings()  # nothing the bar shows changed
        screen.composer.focus()
        await pilot.pause()
        assert renders == []
        screen.composer.text = "hi"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.generating and renders and "esc Stop" in renders[-1])
        assert "Send" not in renders[-1]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating and renders and "⏎ Send" in renders[-1])


async def test_clicking_a_key_presses_it(tmp_path):
    app = make_app(tmp_path, "http://127.0.0.1:9/v1")
    async with app.run_test(size=(120, 40)) as pilot:
        bar = app.screen.query_one(KeyBar)
        x = bar_text(app).index("f1 Help")
        assert bar.key_at(x) is not None and bar.key_at(x).key == "f1"
        await pilot.click(KeyBar, offset=(x, 0))
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
