"""Living in the chat screen: replies that keep going across thread switches, the lock
per thread, your message always in view, the keyboard from the composer, Esc one thing
at a time, quitting with replies running."""

from __future__ import annotations

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.core.models import DONE, STOPPED
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.widgets.thread_list import ThreadList
from tuichat.ui.widgets.thread_panel import ThreadFilter


async def send(pilot, text: str) -> None:
    pilot.app.screen.composer.text = text
    await pilot.press("enter")


def chat(app) -> ChatScreen:
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def test_a_reply_keeps_streaming_after_ctrl_r_and_shows_live_on_return(tmp_path, fake_server):
    fake_server.script(Reply(chunks=[f"word{i} " for i in range(60)], delay=0.05))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        await send(pilot, "long answer please")
        await wait_for(pilot, lambda: "word2" in screen.transcript.all_text())
        first = screen.thread
        await pilot.press("ctrl+r")  # a fresh thread; the reply goes on in the background
        await wait_for(pilot, lambda: screen.thread is None)
        assert not screen.generating  # the lock is per thread: the new one is free
        assert first.id in app.ws.replies.thread_ids
        # The thread list marks the thread with the live reply.
        threads = screen.query_one(ThreadList)
        await wait_for(pilot, lambda: first.id in threads.live)
        # Coming back shows it live: the text so far, then the rest as it arrives.
        screen.threads.open(first.id)
        await wait_for(pilot, lambda: screen.thread is not None and screen.thread.id == first.id)
        await wait_for(pilot, lambda: "word59" in screen.transcript.all_text(), timeout=30)
        await wait_for(pilot, lambda: not screen.generating)
        rows = peek(app).messages(first.id)
        assert rows[-1].status == DONE
        assert rows[-1].content == "".join(f"word{i} " for i in range(60))
        await wait_for(pilot, lambda: first.id not in threads.live)


async def test_the_lock_is_per_thread_other_threads_can_send(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["slow ", "reply"], stall_after=1), Reply.text("quick answer"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        await send(pilot, "first thread")
        await wait_for(pilot, lambda: "slow" in screen.transcript.all_text())
        first = screen.thread
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.thread is None)
        await send(pilot, "second thread")
        await wait_for(pilot, lambda: "quick answer" in screen.transcript.all_text())
        await wait_for(pilot, lambda: not screen.generating)
        assert len(fake_server.chat_requests) == 2
        assert first.id in app.ws.replies.thread_ids  # still streaming (stalled) there
        # Back in the first thread, Enter is refused while its reply runs: draft kept.
        screen.threads.open(first.id)
        await wait_for(pilot, lambda: screen.thread is not None and screen.thread.id == first.id)
        await wait_for(pilot, lambda: screen.generating)
        await send(pilot, "not now")
        await wait_for(pilot, lambda: any("Still generating" in (n.title or "") for n in app._notifications))
        assert screen.composer.text == "not now"
        assert len(fake_server.chat_requests) == 2
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)
        assert peek(app).messages(first.id)[-1].status == STOPPED


async def test_sending_while_scrolled_up_brings_the_message_and_reply_into_view(tmp_path, fake_server):
    long = "\n\n".join(f"paragraph {i}" for i in range(80))
    fake_server.script(Reply.text(long, chunk_size=200), Reply.text("the newest answer"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(app)
        await send(pilot, "a long one")
        await wait_for(pilot, lambda: not screen.generating and "paragraph 79" in screen.transcript.all_text())
        transcript = screen.transcript
        transcript.scroll_to(y=0, animate=False, immediate=True)
        await wait_for(pilot, lambda: not transcript.following)
        await send(pilot, "now this")
        await wait_for(pilot, lambda: not screen.generating and "newest answer" in transcript.all_text())
        await wait_for(pilot, lambda: "newest answer" in transcript.visible_text())
        assert "now this" in transcript.visible_text()
        assert transcript.following


async def test_new_text_below_is_marked_and_ctrl_end_jumps_to_it(tmp_path, fake_server):
    long = "\n\n".join(f"line {i}" for i in range(60))
    fake_server.script(Reply(chunks=[long] + [f" more{i}" for i in range(40)], delay=0.05))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(app)
        await send(pilot, "go")
        transcript = screen.transcript
        await wait_for(pilot, lambda: "line 59" in transcript.all_text())
        await pilot.press("pageup")  # from the composer: the transcript scrolls
        await wait_for(pilot, lambda: not transcript.following)
        await wait_for(pilot, lambda: transcript.new_below)
        await wait_for(pilot, lambda: "new text below · ctrl+end" in transcript.visible_text())
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: transcript.following and not transcript.new_below)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)


async def test_escape_clears_the_filter_before_it_stops_the_reply(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["streaming ", "on"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        await send(pilot, "hello")
        await wait_for(pilot, lambda: "streaming" in screen.transcript.all_text())
        box = screen.query_one(ThreadFilter)
        box.focus()
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: box.value == "xy")
        await pilot.press("escape")
        await wait_for(pilot, lambda: box.value == "")
        assert screen.generating  # Esc cleared the filter, nothing else
        screen.composer.focus()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)
        assert peek(app).messages(screen.thread.id)[-1].status == STOPPED


async def test_footer_offers_stop_instead_of_send_while_a_reply_runs(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["a ", "b"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)

        def shown() -> set[str]:
            return {b.binding.description for b in screen.active_bindings.values() if b.binding.show}

        assert "Send" in shown() and "Stop" not in shown()
        await send(pilot, "hi")
        await wait_for(pilot, lambda: screen.generating)
        await wait_for(pilot, lambda: "Stop" in shown())
        assert "Send" not in shown()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)
        await wait_for(pilot, lambda: "Send" in shown())


async def test_quitting_with_replies_running_asks_then_saves_them_as_stopped(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["partial ", "never"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        await send(pilot, "hello")
        await wait_for(pilot, lambda: "partial" in screen.transcript.all_text())
        thread = screen.thread
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.screen is not screen)  # the question
        assert app.is_running
        assert "still generating" in str(app.screen.query_one("#dialog-message").render())
        await pilot.press("escape")  # not now
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.generating
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.screen is not screen)
        await pilot.click("#confirm")  # quit
        await wait_for(pilot, lambda: not app.is_running, timeout=15)
    rows = peek(app).messages(thread.id)
    assert (rows[-1].status, rows[-1].content) == (STOPPED, "partial ")


async def test_keyboard_reaches_the_transcript_and_back(tmp_path, fake_server):
    fake_server.script(Reply.text("an answer"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(app)
        await send(pilot, "q")
        await wait_for(pilot, lambda: not screen.generating and "an answer" in screen.transcript.all_text())
        await pilot.press("ctrl+up")
        assert screen.focused is screen.transcript
        await pilot.press("k")
        await wait_for(pilot, lambda: screen.transcript.cursor_message_id is not None)
        await pilot.press("ctrl+l")
        assert screen.focused is screen.composer
        await pilot.press("f1")
        from tuichat.ui.screens.help import HelpScreen

        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)


async def test_a_message_sent_before_the_history_is_read_stays_on_screen(tmp_path, fake_server, monkeypatch):
    # The start-up reads run off the event loop; the user may send before they finish.
    # Their end must not replace the new thread on screen with a re-read of it.
    import asyncio

    from tuichat.session.workspace import Workspace
    from tuichat.ui.app import TuichatApp

    gate = asyncio.Event()
    original = Workspace.threads_page

    async def slow(self, *args):
        await gate.wait()
        return await original(self, *args)

    monkeypatch.setattr(Workspace, "threads_page", slow)
    fake_server.script(Reply(chunks=["streaming ", "now"], stall_after=1))
    app = make_app(tmp_path, fake_server.base_url)
    async with TuichatApp.run_test(app, size=(100, 30)) as pilot:  # not waiting for `ready`
        screen = chat(app)
        await send(pilot, "sent early")
        await wait_for(pilot, lambda: "streaming" in screen.transcript.all_text())
        assert not screen.ready
        gate.set()
        await wait_for(pilot, lambda: screen.ready)
        text = screen.transcript.all_text()
        assert "New thread with" in text and "sent early" in text  # not re-read from the store
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating)
