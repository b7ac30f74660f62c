"""Thread management in the real app: the filter box, rename (F2), delete with a
confirmation (Delete in the list, F8 anywhere) and automatic titles, against the fake
server."""

from __future__ import annotations

import sqlite3

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from textual.widgets import Button, Input, Label

from tuichat.store import Store
from tuichat.session.titles import TITLE_MAX_TOKENS, TITLE_PROMPT
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.screens.dialogs import ConfirmDialog, TextPromptDialog
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.thread_list import ThreadList
from tuichat.ui.widgets.thread_panel import ThreadFilter
from tuichat.ui.widgets.transcript import Transcript

SIZE = (110, 32)


def seeded(tmp_path, titles: list[str]) -> tuple[Store, list[int]]:
    """A store with one two-message thread per title; the last title is the newest."""
    store = Store(tmp_path / "tuichat.db")
    ids = []
    for title in titles:
        thread = store.create_thread("default", "test-model")
        store.add_message(thread.id, "user", title)
        store.add_message(thread.id, "assistant", f"answer about {title}")
        ids.append(thread.id)
    return store, ids


def chat(app) -> ChatScreen:
    """The chat screen, also while a dialog is on top of it."""
    return next(s for s in app.screen_stack if isinstance(s, ChatScreen))


def listed_ids(app) -> list[int]:
    threads = chat(app).query_one(ThreadList)
    return [int(threads.get_option_at_index(i).id) for i in range(threads.option_count)]


def listed_text(app) -> str:
    threads = chat(app).query_one(ThreadList)
    return "\n".join(str(threads.get_option_at_index(i).prompt) for i in range(threads.option_count))


def status_text(app) -> str:
    return chat(app).status_text()


def rows_in_db(path, thread_id: int) -> tuple[int, int]:
    """(threads, messages) rows for `thread_id`, read through a separate connection."""
    with sqlite3.connect(path) as conn:
        threads = conn.execute("SELECT count(*) FROM threads WHERE id = ?", (thread_id,)).fetchone()[0]
        messages = conn.execute("SELECT count(*) FROM messages WHERE thread_id = ?", (thread_id,)).fetchone()[0]
    return threads, messages


async def focus_list_on(pilot, thread_id: int) -> ThreadList:
    threads = chat(pilot.app).query_one(ThreadList)
    threads.focus()
    threads.highlighted = threads.get_option_index(str(thread_id))
    await pilot.pause()
    return threads


# --- the filter box -------------------------------------------------------------------


async def test_filter_narrows_the_list_by_title_and_escape_clears_it(tmp_path, fake_server):
    store, (tokyo, sqlite, food, tenki) = seeded(
        tmp_path, ["Tokyo trip plan", "SQLite WAL mode", "Food in TOKYO", "東京の天気はどう？"]
    )
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        box = chat(app).query_one(ThreadFilter)
        assert box.placeholder == "Filter threads"
        assert listed_ids(app) == [tenki, food, sqlite, tokyo]
        box.focus()
        await pilot.press("t", "o", "k")
        await pilot.pause()
        assert listed_ids(app) == [food, tokyo]  # case-insensitive, newest first
        assert "Tokyo trip plan" in listed_text(app) and "SQLite" not in listed_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert box.value == ""
        assert listed_ids(app) == [tenki, food, sqlite, tokyo]
        # Japanese: typed one character at a time, as an IME commits it.
        await pilot.press("東", "京")
        await pilot.pause()
        assert box.value == "東京"
        assert listed_ids(app) == [tenki]
        await pilot.press("の", "雨")
        await pilot.pause()
        assert listed_ids(app) == []
        await pilot.press("escape")
        await pilot.pause()
        assert len(listed_ids(app)) == 4


async def test_typing_in_the_list_goes_to_the_filter_box(tmp_path, fake_server):
    store, (tokyo, sqlite, tenki) = seeded(tmp_path, ["Tokyo trip plan", "SQLite WAL mode", "東京の天気"])
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.focused, ThreadList)
        await pilot.press("s", "q")
        await pilot.pause()
        box = chat(app).query_one(ThreadFilter)
        assert box.value == "sq" and app.focused is box
        assert listed_ids(app) == [sqlite]
        # Back in the list, a Japanese character is added at the end of what is there.
        await pilot.press("escape", "down")
        assert isinstance(app.focused, ThreadList)
        await pilot.press("東")
        await pilot.pause()
        assert box.value == "東" and listed_ids(app) == [tenki]


async def test_filter_keeps_label_parts_and_searches_beyond_the_listed_threads(tmp_path, fake_server):
    # More threads than the list shows: an old one is found by filtering, not listed before.
    store = Store(tmp_path / "tuichat.db")
    needle = store.create_thread("ojousama", "test-model", title="The needle [bold]thread[/bold]")
    for i in range(205):
        store.create_thread("default", "test-model", title=f"hay {i}")
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        assert needle.id not in listed_ids(app) and len(listed_ids(app)) < 206
        chat(app).query_one(ThreadFilter).focus()
        await pilot.press(*"needle")
        await pilot.pause()
        assert listed_ids(app) == [needle.id]
        text = listed_text(app)
        # Title as plain text (no markup), persona and a relative time.
        assert "The needle [bold]thread[/bold]" in text and "ojousama" in text and "just now" in text


async def test_down_moves_into_the_list_and_enter_opens_the_first_match(tmp_path, fake_server):
    store, (first, second) = seeded(tmp_path, ["alpha one", "alpha two"])
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        box = screen.query_one(ThreadFilter)
        box.focus()
        await pilot.press(*"alpha")
        await pilot.press("down")
        await pilot.pause()
        threads = screen.query_one(ThreadList)
        assert threads.has_focus and threads.highlighted == 0
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: screen.thread is not None and screen.thread.id == first)
        assert "answer about alpha one" in screen.query_one(Transcript).all_text()
        box.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread.id == second)


# --- rename ---------------------------------------------------------------------------


async def test_f2_renames_the_open_thread(tmp_path, fake_server):
    store, (older, current) = seeded(tmp_path, ["old title", "current title"])
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=store.get_thread(current))
    async with app.run_test(size=SIZE) as pilot:
        assert "current title" in status_text(app)
        await pilot.press("f2")  # from the composer: the open thread
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, TextPromptDialog)
        field = dialog.query_one(Input)
        assert field.value == "current title" and field.has_focus
        field.value = ""
        await pilot.press(*"東京の旅 [b]plan")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, TextPromptDialog)
        assert store.get_thread(current).title == "東京の旅 [b]plan"
        assert store.get_thread(older).title == "old title"
        assert "東京の旅 [b]plan" in listed_text(app)
        assert "東京の旅 [b]plan" in status_text(app)
        assert chat(app).query_one(Composer).has_focus  # focus goes back where it was


async def test_f2_in_the_list_renames_the_highlighted_thread(tmp_path, fake_server):
    store, (older, current) = seeded(tmp_path, ["old title", "current title"])
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=store.get_thread(current))
    async with app.run_test(size=SIZE) as pilot:
        await focus_list_on(pilot, older)
        await pilot.press("f2")
        await pilot.pause()
        field = app.screen.query_one(Input)
        assert field.value == "old title"
        field.value = "renamed from the list"
        await pilot.press("enter")
        await pilot.pause()
        assert store.get_thread(older).title == "renamed from the list"
        assert store.get_thread(current).title == "current title"
        assert "renamed from the list" in listed_text(app)


async def test_rename_escape_cancels(tmp_path, fake_server):
    store, (current,) = seeded(tmp_path, ["keep me"])
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=store.get_thread(current))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        app.screen.query_one(Input).value = "something else"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        assert store.get_thread(current).title == "keep me"
        assert "keep me" in listed_text(app)


async def test_rename_refuses_an_empty_title(tmp_path, fake_server):
    store, (current,) = seeded(tmp_path, ["keep me"])
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=store.get_thread(current))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        dialog = app.screen
        dialog.query_one(Input).value = "   "
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog  # still open
        error = dialog.query_one("#prompt-error", Label)
        assert error.display and "cannot be empty" in str(error.render())
        assert store.get_thread(current).title == "keep me"
        await pilot.press("escape")
        await pilot.pause()
        assert store.get_thread(current).title == "keep me"


async def test_f2_and_f8_on_a_new_thread_explain_there_is_nothing_to_do(tmp_path, fake_server, monkeypatch):
    app = make_app(tmp_path, fake_server.base_url)
    seen = recorded_notifications(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        notes = [text for _, text in seen]
        assert any("Nothing to rename" in n for n in notes) and any("Nothing to delete" in n for n in notes)


# --- delete ---------------------------------------------------------------------------


async def test_delete_in_the_list_asks_then_removes_the_thread_and_its_messages(tmp_path, fake_server):
    store, (doomed, kept) = seeded(tmp_path, ["doomed [red]thread", "kept thread"])
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=store.get_thread(kept))
    async with app.run_test(size=SIZE) as pilot:
        await focus_list_on(pilot, doomed)
        await pilot.press("delete")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConfirmDialog)
        message = str(dialog.query_one("#dialog-message").render())
        assert "doomed [red]thread" in message and "2 messages" in message
        assert dialog.query_one("#cancel", Button).has_focus  # the safe default
        assert rows_in_db(store.path, doomed) == (1, 2)
        await pilot.click("#confirm")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        assert rows_in_db(store.path, doomed) == (0, 0)
        assert store.get_thread(doomed) is None and store.messages(doomed) == []
        assert listed_ids(app) == [kept]
        assert rows_in_db(store.path, kept) == (1, 2)
        assert chat(app).thread.id == kept  # the open thread is untouched


async def test_delete_cancel_escape_or_enter_keeps_the_thread(tmp_path, fake_server):
    store, (one, two) = seeded(tmp_path, ["one", "two"])
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await focus_list_on(pilot, one)
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        # Enter right away presses the focused button, which is Cancel.
        await pilot.press("delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        assert rows_in_db(store.path, one) == (1, 2)
        assert listed_ids(app) == [two, one]


async def test_deleting_the_open_thread_shows_a_fresh_one_and_keeps_the_draft(tmp_path, fake_server):
    store = Store(tmp_path / "tuichat.db")
    other = store.create_thread("diary", "test-model", title="other")
    thread = store.create_thread("ojousama", "test-model")
    store.add_message(thread.id, "user", "secret question")
    store.add_message(thread.id, "assistant", "secret answer")
    fake_server.script(Reply.text("fresh reply"))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=store.get_thread(thread.id))
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        transcript = screen.query_one(Transcript)
        composer = screen.query_one(Composer)
        composer.text = "my unsent draft"
        await pilot.press("f8")  # from the composer: the open thread
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "secret question" in str(app.screen.query_one("#dialog-message").render())
        await pilot.click("#confirm")
        await pilot.pause()
        assert rows_in_db(store.path, thread.id) == (0, 0)
        assert screen.thread is None and screen.persona.name == "ojousama"
        assert "secret answer" not in transcript.all_text()
        assert composer.text == "my unsent draft"
        assert listed_ids(app) == [other.id]
        composer.text = "a new start"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.generating and "fresh reply" in transcript.all_text())
        assert screen.thread.persona == "ojousama"
        assert [m.content for m in peek(app).messages(screen.thread.id)] == ["a new start", "fresh reply"]
        assert [m["content"] for m in fake_server.chat_requests[-1].json["messages"][1:]] == ["a new start"]


async def test_deleting_the_thread_that_is_generating_stops_the_reply_first(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["partial ", "never"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        transcript = screen.query_one(Transcript)
        screen.query_one(Composer).text = "start something long"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "partial" in transcript.all_text())
        thread_id = screen.thread.id
        await pilot.press("f8")
        await pilot.pause()
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: not screen.generating and screen.thread is None)
        assert rows_in_db(app.store.path, thread_id) == (0, 0)
        assert listed_ids(app) == []
        await wait_for(pilot, lambda: fake_server.disconnects == 1)  # the stream was closed


# --- automatic titles -------------------------------------------------------------------


def no_title_workers(app) -> bool:
    return not any(w.group == "titles" and not w.is_finished for w in app.workers)


def recorded_notifications(app, monkeypatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    real = app.notify

    def notify(message, *args, **kwargs):
        seen.append((kwargs.get("severity", "information"), str(message)))
        return real(message, *args, **kwargs)

    monkeypatch.setattr(app, "notify", notify)
    return seen


async def test_auto_title_asks_the_model_and_stores_the_cleaned_title(tmp_path, fake_server):
    fake_server.script(Reply.text("Go to Asakusa early, then Ueno."), Reply.text('**"Tokyo Day Trip Ideas."**\n'))
    app = make_app(tmp_path, fake_server.base_url)
    app.settings.auto_title = True
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        screen.query_one(Composer).text = "what should i do in tokyo for a day?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: peek(app).get_thread(screen.thread.id).title == "Tokyo Day Trip Ideas")
        assert not screen.generating
        assert "Tokyo Day Trip Ideas" in listed_text(app)
        assert "Tokyo Day Trip Ideas" in status_text(app)
        title_request = fake_server.chat_requests[1].json
        assert title_request["model"] == "test-model"
        assert title_request["messages"][0] == {"role": "system", "content": TITLE_PROMPT}
        assert "what should i do in tokyo" in title_request["messages"][1]["content"]
        assert "Go to Asakusa early" in title_request["messages"][1]["content"]
        assert title_request["max_tokens"] == TITLE_MAX_TOKENS
        # Only the first reply names the thread.
        screen.query_one(Composer).text = "and the evening?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.generating)
        await pilot.pause(0.2)
        assert len(fake_server.chat_requests) == 3


async def test_auto_title_off_sends_no_title_request(tmp_path, fake_server):
    fake_server.script(Reply.text("An answer."), Reply.text("Should Never Be Used"))
    app = make_app(tmp_path, fake_server.base_url)
    assert app.settings.auto_title is False  # the default
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        screen.query_one(Composer).text = "first line title\nmore text"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.generating)
        await pilot.pause(0.3)
        assert len(fake_server.chat_requests) == 1
        assert peek(app).get_thread(screen.thread.id).title == "first line title"


async def test_auto_title_failure_is_silent_and_keeps_the_first_line_title(tmp_path, fake_server, monkeypatch):
    fake_server.script(Reply.text("An answer."), Reply.error(500, "title service exploded"))
    app = make_app(tmp_path, fake_server.base_url)
    app.settings.auto_title = True
    seen = recorded_notifications(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        screen.query_one(Composer).text = "first line title\nmore text"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 2 and not screen.generating)
        await wait_for(pilot, lambda: no_title_workers(app))
        await pilot.pause(0.1)
        assert peek(app).get_thread(screen.thread.id).title == "first line title"
        assert [s for s, _ in seen if s == "error"] == []
        assert "exploded" not in screen.query_one(Transcript).all_text()


async def test_auto_title_never_replaces_a_title_set_by_hand_meanwhile(tmp_path, fake_server):
    fake_server.script(Reply.text("An answer."), Reply.text("Model Title", first_delay=0.5))
    app = make_app(tmp_path, fake_server.base_url)
    app.settings.auto_title = True
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        screen.query_one(Composer).text = "question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 2)
        await pilot.press("f2")
        await pilot.pause()
        app.screen.query_one(Input).value = "My own title"
        await pilot.press("enter")
        await wait_for(pilot, lambda: no_title_workers(app), timeout=5)
        await pilot.pause(0.1)
        assert peek(app).get_thread(screen.thread.id).title == "My own title"
        assert "Model Title" not in listed_text(app)


# --- a long history: the list loads a page at a time -----------------------------------


def titled(tmp_path, titles: list[str]) -> tuple[Store, list[int]]:
    """A store with one empty thread per title; the last title is the newest."""
    store = Store(tmp_path / "tuichat.db")
    return store, [store.create_thread("default", "test-model", title=title).id for title in titles]


async def test_the_list_starts_with_a_page_and_pagedown_reaches_the_oldest_thread(tmp_path, fake_server):
    store, ids = titled(tmp_path, [f"thread {i}" for i in range(300)])
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        threads = screen.query_one(ThreadList)
        first_page = threads.option_count
        assert first_page < 300 and ids[0] not in listed_ids(app) and not threads.complete
        threads.focus()
        threads.highlighted = 0
        counts = []
        for _ in range(60):  # ~14 threads a page at this size: ~22 presses to the end
            await pilot.press("pagedown")
            counts.append(threads.option_count)
            if threads.highlighted_thread_id == ids[0]:
                break
        assert threads.highlighted_thread_id == ids[0]
        # Loaded as the highlight went down, in several steps rather than all at once.
        assert len({first_page, *counts}) > 2
        assert listed_ids(app) == ids[::-1]  # newest first, every thread once
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and screen.thread.id == ids[0])


async def test_end_in_the_list_loads_the_rest_and_goes_to_the_oldest_thread(tmp_path, fake_server):
    store, ids = titled(tmp_path, [f"thread {i}" for i in range(300)])
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        threads = screen.query_one(ThreadList)
        assert threads.option_count < 300
        threads.focus()
        await pilot.press("end")
        assert threads.highlighted_thread_id == ids[0] and threads.complete
        assert listed_ids(app) == ids[::-1]
        await pilot.press("home")
        assert threads.highlighted_thread_id == ids[-1]
        await pilot.press("end", "enter")
        await wait_for(pilot, lambda: screen.thread is not None and screen.thread.id == ids[0])


async def test_scrolling_to_the_bottom_loads_more_without_a_highlight(tmp_path, fake_server):
    store, ids = titled(tmp_path, [f"thread {i}" for i in range(300)])
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        threads = chat(app).query_one(ThreadList)
        first_page = threads.option_count
        for _ in range(20):  # as a scrollbar dragged to the bottom, again and again
            threads.scroll_end(animate=False, immediate=True)
            await pilot.pause()
            if threads.complete:
                break
        assert threads.highlighted is None
        assert threads.option_count == 300 > first_page and listed_ids(app) == ids[::-1]


async def test_filtering_with_many_matches_pages_the_same_way(tmp_path, fake_server):
    # 250 matches among 350 threads, spread over the whole history.
    titles = [f"match {i}" if i % 7 else f"other {i}" for i in range(350)]
    store, ids = titled(tmp_path, titles)
    matches = [i for i, title in zip(ids, titles) if title.startswith("match")][::-1]
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        screen.query_one(ThreadFilter).focus()
        await pilot.press(*"match")
        await pilot.pause()
        threads = screen.query_one(ThreadList)
        shown = listed_ids(app)
        assert 0 < len(shown) < len(matches) and shown == matches[: len(shown)]
        await pilot.press("down")  # into the list
        assert threads.has_focus
        await pilot.press("end")
        assert listed_ids(app) == matches and threads.highlighted_thread_id == matches[-1]
        # Escape in the box lists every thread again, a page of them.
        screen.query_one(ThreadFilter).focus()
        await pilot.press("escape")
        await pilot.pause()
        assert listed_ids(app) == ids[::-1][: threads.option_count] and threads.option_count < 350


async def test_refresh_keeps_the_current_thread_highlighted_beyond_the_first_page(tmp_path, fake_server):
    fake_server.script(Reply.text("An answer."))
    store, ids = titled(tmp_path, [f"thread {i}" for i in range(300)])
    oldest = ids[0]
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(app)
        threads = screen.query_one(ThreadList)
        threads.focus()
        await pilot.press("end", "enter")
        await wait_for(pilot, lambda: screen.thread is not None and screen.thread.id == oldest)
        # A rename refreshes the list; the thread keeps its place, far below the first page.
        await pilot.press("f2")
        await pilot.pause()
        app.screen.query_one(Input).value = "renamed oldest"
        await pilot.press("enter")
        await pilot.pause()
        assert store.get_thread(oldest).title == "renamed oldest"
        assert threads.highlighted == 299 and threads.highlighted_thread_id == oldest
        assert "renamed oldest" in listed_text(app)
        # A send makes it the most recent: it moves to the top, still highlighted.
        screen.query_one(Composer).text = "hello again"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not screen.generating and store.messages(oldest))
        await pilot.pause()
        assert threads.highlighted == 0 and threads.highlighted_thread_id == oldest
        assert listed_ids(app)[:2] == [oldest, ids[-1]]


async def test_long_titles_are_cut_to_one_line_with_an_ellipsis(tmp_path, fake_server):
    store, _ = titled(tmp_path, ["東京の天気と週末の予定について長い質問をします、とても長いタイトル " * 2])
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        threads = chat(app).query_one(ThreadList)
        width = threads.scrollable_content_region.width
        title, meta = threads.render_line(0), threads.render_line(1)
        assert title.text.startswith("東京の天気") and title.text.rstrip().endswith("…")
        assert title.cell_length == width  # wide characters counted as two cells
        assert meta.text.startswith("default · just now")
        assert threads.render_line(2).text.strip() == ""  # nothing else: two lines an entry
