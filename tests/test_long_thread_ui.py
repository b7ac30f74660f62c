"""A long thread opens from its end: only the last page is read from the database, and
older pages are read as the view nears the top, a jump needs them, or Home is pressed."""

from __future__ import annotations

from apphelpers import make_app, wait_for
from tuichat.store import Store
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.widgets.transcript import OLDER_PAGE, Transcript

SIZE = (100, 30)
COUNT = 1000  # user/assistant messages, well over one page


def long_thread(tmp_path) -> tuple[Store, int, list[int]]:
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model", title="long")
    store.add_message(thread.id, "system", "a system prompt, never shown")
    ids = []
    for n in range(COUNT):
        role = "user" if n % 2 == 0 else "assistant"
        ids.append(store.add_message(thread.id, role, f"message number {n} 番").id)
    return store, thread.id, ids


def traced(store: Store) -> list[str]:
    """Every SQL statement the store runs from now on."""
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    return statements


def rows_read(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM messages" in s and "count(" not in s]


async def opened(pilot, thread_id: int) -> tuple[ChatScreen, Transcript]:
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    await screen.open_thread(thread_id)
    await pilot.pause(0.1)
    return screen, screen.transcript


async def test_opening_reads_only_the_last_page_and_shows_the_end(tmp_path, fake_server):
    store, thread_id, _ = long_thread(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        statements = traced(store)
        _, transcript = await opened(pilot, thread_id)
        text = transcript.visible_text()
        assert f"message number {COUNT - 1} 番" in text
        loaded = len(transcript._entries)
        assert loaded < OLDER_PAGE + 1 < COUNT
        assert transcript.unloaded == COUNT - loaded
        assert transcript.message_count == COUNT  # positions still count the whole thread
        # One page read with a LIMIT, not the thread.
        reads = rows_read(statements)
        assert reads and all("LIMIT" in s for s in reads)


async def test_scrolling_up_reads_older_pages_and_keeps_the_view_still(tmp_path, fake_server):
    store, thread_id, _ = long_thread(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        _, transcript = await opened(pilot, thread_id)
        before = transcript.unloaded
        transcript.scroll_to(y=0, animate=False)
        await pilot.pause(0.1)
        first_line = transcript.visible_text().splitlines()[0]
        await wait_for(pilot, lambda: transcript.unloaded < before)
        await pilot.pause(0.1)
        # What was at the top of the view is still there; the older messages are above it.
        assert transcript.visible_text().splitlines()[0] == first_line
        assert transcript.scroll_offset.y > 0
        # Going on up reaches the first message of the thread, and no more is read then.
        for _ in range(20):
            transcript.scroll_to(y=0, animate=False)
            await pilot.pause(0.05)
            if transcript.unloaded == 0 and transcript.scroll_offset.y == 0:
                break
        await wait_for(pilot, lambda: transcript.unloaded == 0)
        transcript.scroll_to(y=0, animate=False)
        await pilot.pause(0.1)
        assert "message number 0 番" in transcript.visible_text()
        assert "system prompt" not in transcript.all_text()
        assert transcript.message_count == COUNT
        assert transcript.all_text().count("message number") == COUNT


async def test_home_goes_to_the_first_message_of_the_thread(tmp_path, fake_server):
    store, thread_id, _ = long_thread(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        _, transcript = await opened(pilot, thread_id)
        transcript.focus()
        await pilot.press("home")
        await pilot.pause(0.1)
        assert transcript.unloaded == 0
        visible = transcript.visible_text()
        assert "message number 0 番" in visible and "message number 1 番" in visible
        # Far away from the view nothing is rendered: the thread is read, not drawn.
        assert sum(1 for entry in transcript._entries if entry.width) < 60
        await pilot.press("end")
        await pilot.pause(0.1)
        assert f"message number {COUNT - 1} 番" in transcript.visible_text()


async def test_jump_to_a_message_not_read_yet(tmp_path, fake_server):
    store, thread_id, ids = long_thread(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen, transcript = await opened(pilot, thread_id)
        await screen.open_thread(thread_id, ids[7], find="number 7")
        await pilot.pause(0.1)
        assert transcript.cursor == 7
        assert transcript.highlighted_text == "message number 7 番"
        assert "message number 7 番" in transcript.visible_text()


async def test_k_above_the_first_read_message_reads_the_one_before(tmp_path, fake_server):
    store, thread_id, _ = long_thread(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        _, transcript = await opened(pilot, thread_id)
        first = transcript.unloaded  # the position of the first message read
        transcript._cursor = next(i for i, e in enumerate(transcript._entries) if e.role != "notice")
        assert transcript.cursor == first
        transcript.focus()
        await pilot.press("k")
        await pilot.pause(0.05)
        assert transcript.cursor == first - 1
        assert transcript.highlighted_text == f"message number {first - 1} 番"
        assert transcript.unloaded < first - 1
        assert f"message number {first - 1} 番" in transcript.visible_text()


def test_store_reads_a_thread_backwards_by_pages(tmp_path):
    store, thread_id, ids = long_thread(tmp_path)
    last = store.messages_before(thread_id, None, 10)
    assert [m.id for m in last] == ids[-10:]
    older = store.messages_before(thread_id, last[0].id, 10)
    assert [m.id for m in older] == ids[-20:-10]
    assert store.count_before(thread_id, older[0].id) == COUNT - 20  # the system prompt is not counted
    first = store.messages_before(thread_id, ids[2], 10)
    assert [m.role for m in first] == ["system", "user", "assistant"]
    assert store.messages_before(thread_id, first[0].id, 10) == []
    # Along the (thread_id, id) index, never a scan of the messages table.
    plan = store._conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM messages WHERE thread_id = ? AND id < ? ORDER BY id DESC LIMIT 10",
        (thread_id, ids[-1]),
    ).fetchall()
    assert any("messages_thread_id" in row[-1] for row in plan), plan


async def test_reading_older_pages_while_a_reply_streams(tmp_path, fake_server):
    from fake_openai import Reply

    answer = "streamed answer " * 30 + "THE END"
    fake_server.script(Reply.text(answer, chunk_size=8, delay=0.03))
    store, thread_id, _ = long_thread(tmp_path)
    app = make_app(tmp_path, fake_server.base_url, store=store)
    async with app.run_test(size=SIZE) as pilot:
        screen, transcript = await opened(pilot, thread_id)
        screen.composer.text = "one more question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "streamed answer" in transcript.reply_text)
        assert screen.generating
        before = transcript.unloaded
        transcript.scroll_to(y=0, animate=False)
        await wait_for(pilot, lambda: transcript.unloaded < before)
        await pilot.pause(0.05)
        top_line = transcript.visible_text().splitlines()[0]
        await wait_for(pilot, lambda: not screen.generating)
        await pilot.pause(0.1)
        # The reply kept streaming into its own place; the view stayed where the user is.
        assert transcript.reply_text == answer
        assert transcript.visible_text().splitlines()[0] == top_line
        stored = store.messages_before(thread_id, None, 2)
        assert [(m.role, m.content) for m in stored] == [("user", "one more question"), ("assistant", answer)]
        text = transcript.all_text()
        assert text.count("one more question") == 1 and text.count("THE END") == 1
        assert transcript.message_count == COUNT + 2
        transcript.focus()
        await pilot.press("end")
        await pilot.pause(0.1)
        assert "THE END" in transcript.visible_text()
