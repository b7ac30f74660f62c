"""SQLite never blocks the UI: another program holding the database's write lock freezes
nothing, and what could not be saved stays on screen and is saved once the lock is gone.

Every Pilot test built with apphelpers.make_app also fails if the app calls its store on
the event loop's thread (see apphelpers.LoopGuard): the whole UI suite checks that. The
waits here are long (busy_timeout is 5 s, and the final write of a reply is tried three
times), and each one waits for the event it names, never for a fixed time.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from apphelpers import LoopGuard, make_app, peek, wait_for
from fake_openai import Reply
from tuichat.core.models import STOPPED
from tuichat.store import Store
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.transcript import Transcript

# busy_timeout (5 s) for each attempt, plus the retries of a reply's final write, plus
# a busy 2-core machine.
LOCK_WAIT = 40


def parts(app):
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen, screen.query_one(Transcript), screen.query_one(Composer)


def record_notes(app, monkeypatch) -> list[str]:
    """Every notification, as "title: message", in order."""
    seen: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(f"{kwargs.get('title') or ''}: {message}")
        return notify(message, *args, **kwargs)

    monkeypatch.setattr(app, "notify", recording)
    return seen


class Lock:
    """Another program's connection holding the write lock of the database."""

    def __init__(self, path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)

    def take(self) -> None:
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")

    def close(self) -> None:
        if self.conn.in_transaction:
            self.release()
        self.conn.close()


@pytest.fixture
def lock(tmp_path):
    Store(tmp_path / "tuichat.db").close()  # the schema exists before the lock is taken
    held = Lock(tmp_path / "tuichat.db")
    yield held
    held.close()


def test_the_guard_refuses_store_calls_on_the_loop_thread_while_the_app_runs(tmp_path):
    # The check the whole UI suite relies on, checked itself.
    class Running:
        is_running = True

    guard = LoopGuard(Store(tmp_path / "t.db"))
    guard.app = Running()
    with pytest.raises(AssertionError, match="get_draft"):
        guard.get_draft()
    answers: list[str] = []
    worker = threading.Thread(target=lambda: answers.append(guard.get_draft()))
    worker.start()
    worker.join()
    assert answers == [""] and guard.violations == ["get_draft"]
    guard.app.is_running = False
    assert guard.get_draft() == ""  # before and after the app runs: allowed


async def test_a_send_waiting_for_a_lock_keeps_the_ui_live_and_the_text(tmp_path, fake_server, lock, monkeypatch):
    fake_server.script(Reply.text("answered after the lock"))
    app = make_app(tmp_path, fake_server.base_url)
    notes = record_notes(app, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        lock.take()
        await pilot.press(*"hello")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.generating)
        # The save waits up to busy_timeout for the lock; the composer takes keys all the
        # while (on the event loop the save would hold every key until it gave up).
        await pilot.press("!")
        await wait_for(pilot, lambda: composer.text == "hello!")
        assert screen.generating and not fake_server.chat_requests  # still saving
        await wait_for(pilot, lambda: not screen.generating, timeout=LOCK_WAIT)
        # Not stored, so not sent, and nothing typed is lost.
        assert any("The database is busy" in note for note in notes), notes
        assert composer.text == "hello!" and not fake_server.chat_requests
        assert "hello" not in transcript.all_text()
        lock.release()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "answered after the lock" in transcript.all_text() and not screen.generating,
                       timeout=LOCK_WAIT)
        assert composer.text == ""
        rows = peek(app).messages(screen.thread.id)
        assert [(m.role, m.content) for m in rows] == [("user", "hello!"), ("assistant", "answered after the lock")]


async def test_esc_stops_a_reply_at_once_while_its_save_waits_for_a_lock(tmp_path, fake_server, lock, monkeypatch):
    fake_server.script(Reply(chunks=["Partial ", "answer "], stall_after=2))
    app = make_app(tmp_path, fake_server.base_url)
    notes = record_notes(app, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        composer.text = "tell me"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Partial answer" in transcript.all_text(), timeout=10)
        lock.take()
        await pilot.press("escape")
        # Stopped on screen at once; the final write waits for the lock meanwhile.
        await wait_for(pilot, lambda: "stopped" in transcript.all_text())
        assert screen.generating and screen.stopping
        await pilot.press(*"next")
        await wait_for(pilot, lambda: composer.text == "next")
        # The save times out (busy_timeout): said once, in plain words; the text stays.
        await wait_for(pilot, lambda: any("could not be saved yet" in note for note in notes), timeout=LOCK_WAIT)
        assert "Partial answer" in transcript.all_text()
        lock.release()
        # Tried again, and saved, once the lock is gone.
        await wait_for(pilot, lambda: not screen.generating, timeout=LOCK_WAIT)
        reply = peek(app).messages(screen.thread.id)[-1]
        assert (reply.role, reply.content, reply.status) == ("assistant", "Partial answer ", STOPPED)
        assert sum("could not be saved yet" in note for note in notes) == 1


async def test_a_draft_that_cannot_be_saved_stays_in_the_composer_and_is_saved_later(
    tmp_path, fake_server, lock, monkeypatch
):
    app = make_app(tmp_path, fake_server.base_url)
    notes = record_notes(app, monkeypatch)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, _, composer = parts(app)
        lock.take()
        await pilot.press(*"draft 下書き")
        await wait_for(pilot, lambda: any("Draft not saved" in note for note in notes), timeout=LOCK_WAIT)
        assert composer.text == "draft 下書き"
        # The message names the problem, never the draft itself.
        assert not any("下書き" in note for note in notes), notes
        await pilot.press(*" more")
        await wait_for(pilot, lambda: composer.text == "draft 下書き more")
        lock.release()
        await wait_for(pilot, lambda: peek(app).get_draft() == "draft 下書き more", timeout=LOCK_WAIT)
        await wait_for(pilot, lambda: any("saved again" in note for note in notes))
        assert sum("Draft not saved" in note for note in notes) == 1
        assert composer.text == "draft 下書き more"


async def test_quitting_saves_the_last_draft_and_the_stopped_reply(tmp_path, fake_server):
    fake_server.script(Reply(chunks=["Half ", "done "], stall_after=2))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, composer = parts(app)
        composer.text = "question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Half done" in transcript.all_text(), timeout=10)
        composer.text = "typed just before quitting"
        thread_id = screen.thread.id
        await pilot.press("ctrl+q")
    store = Store(tmp_path / "tuichat.db")
    assert store.get_draft() == "typed just before quitting"
    reply = store.messages(thread_id)[-1]
    assert (reply.content, reply.status) == ("Half done ", STOPPED)


async def test_a_crash_report_never_prints_locals(tmp_path, fake_server, monkeypatch, capsys):
    # Textual's report shows every frame's locals, which may hold a draft or a reply.
    app = make_app(tmp_path, fake_server.base_url)

    def broken() -> None:
        # A local the report must not show (built, so the source line shown is not it).
        draft = " ".join(["my secret", "draft"])  # noqa: F841
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        async with app.run_test(size=(100, 30)) as pilot:
            monkeypatch.setattr(app.screen, "action_copy_reply", broken)
            await pilot.press("ctrl+o")
            await pilot.pause()
    report = capsys.readouterr().err  # where Textual prints the report as the app exits
    assert "RuntimeError" in report and "boom" in report
    assert "my secret draft" not in report
