"""Many windows, one database: what another process writes shows up in this window within
about a second (PRAGMA data_version, polled off the event loop), in the thread list and in
the open thread. "Another process" is a second connection here: SQLite's data_version sees
the two alike, and it keeps the test in one process."""

from __future__ import annotations

from apphelpers import make_app, wait_for
from fake_openai import Reply
from tuichat.core.models import DONE, INTERRUPTED, STREAMING
from tuichat.store import Store
from tuichat.store.leases import new_owner
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.widgets.thread_list import ThreadList
from tuichat.ui.widgets.transcript import Transcript

# Generous: the poll runs every half second, but the machine may be busy.
SEEN = 15


def parts(app):
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen, screen.query_one(Transcript), screen.query_one(ThreadList)


def listed(threads: ThreadList) -> list[str]:
    return [str(threads.get_option_at_index(i).prompt) for i in range(threads.option_count)]


async def test_a_thread_added_by_another_window_appears_in_the_list(tmp_path, fake_server):
    other = Store(tmp_path / "tuichat.db")
    first = other.create_thread("default", "m")
    other.add_message(first.id, "user", "an older question")
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        _, _, threads = parts(app)
        assert [text.split("\n")[0] for text in listed(threads)] == ["an older question"]
        threads.focus()
        threads.highlighted = 0  # the user's place in the list is kept through refreshes
        thread = other.create_thread("default", "m")
        other.add_message(thread.id, "user", "asked in another window")
        await wait_for(pilot, lambda: any("asked in another window" in text for text in listed(threads)),
                       timeout=SEEN)
        assert listed(threads)[0].startswith("asked in another window")  # newest first
        assert threads.highlighted_thread_id == first.id
        other.set_title(first.id, "renamed elsewhere")
        await wait_for(pilot, lambda: any("renamed elsewhere" in text for text in listed(threads)),
                       timeout=SEEN)


async def test_messages_added_to_the_open_thread_elsewhere_appear_in_it(tmp_path, fake_server):
    other = Store(tmp_path / "tuichat.db")
    thread = other.create_thread("default", "test-model")
    other.add_message(thread.id, "user", "first question")
    other.add_message(thread.id, "assistant", "first answer")
    fake_server.script(Reply.text("answered here"))
    app = make_app(tmp_path, fake_server.base_url, thread=thread)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        assert "first answer" in transcript.all_text()
        other.add_message(thread.id, "user", "second question, from a pipe run")
        other.add_message(thread.id, "assistant", "second answer")
        await wait_for(pilot, lambda: "second answer" in transcript.all_text(), timeout=SEEN)
        assert "second question, from a pipe run" in transcript.all_text()
        # This window goes on from there: the model sees the other window's messages too.
        screen.composer.text = "third"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "answered here" in transcript.all_text() and not screen.generating,
                       timeout=SEEN)
        sent = [m["content"] for m in fake_server.chat_requests[-1].json["messages"][1:]]
        assert sent == ["first question", "first answer", "second question, from a pipe run",
                        "second answer", "third"]


async def test_a_reply_streaming_in_another_window_grows_and_ends_here(tmp_path, fake_server, monkeypatch):
    other = Store(tmp_path / "tuichat.db")
    thread = other.create_thread("default", "test-model")
    other.add_message(thread.id, "user", "tell me a story")
    app = make_app(tmp_path, fake_server.base_url, thread=thread)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        owner = new_owner()
        reply = other.add_message(thread.id, "assistant", "", status=STREAMING, model="test-model", lease=owner)
        assert other.checkpoint(reply.id, owner, "Once upon a time", "")
        await wait_for(pilot, lambda: "Once upon a time" in transcript.all_text(), timeout=SEEN)
        assert "still being written in another window" in transcript.all_text()
        assert other.checkpoint(reply.id, owner, "Once upon a time there was a cat.", "")
        await wait_for(pilot, lambda: "there was a cat." in transcript.all_text(), timeout=SEEN)
        # Regenerating it here is refused while the other window writes it.
        notes: list[str] = []
        notify = app.notify
        monkeypatch.setattr(app, "notify", lambda message, *a, **k: (notes.append(str(message)), notify(message, *a, **k)))
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: any("wait for it to finish" in note for note in notes), timeout=SEEN)
        assert not fake_server.chat_requests
        other.finish_message(reply.id, owner, content="Once upon a time there was a cat. The end.",
                             reasoning="", status=DONE)
        await wait_for(pilot, lambda: "The end." in transcript.all_text(), timeout=SEEN)
        await wait_for(pilot, lambda: "still being written" not in transcript.all_text(), timeout=SEEN)
        assert not screen.generating


async def test_an_interrupted_reply_is_shown_as_such(tmp_path, fake_server):
    other = Store(tmp_path / "tuichat.db")
    thread = other.create_thread("default", "test-model")
    other.add_message(thread.id, "user", "a question")
    other.add_message(thread.id, "assistant", "half an answ", status=INTERRUPTED)
    app = make_app(tmp_path, fake_server.base_url, thread=thread)
    async with app.run_test(size=(100, 30)) as pilot:
        _, transcript, _ = parts(app)
        await wait_for(pilot, lambda: "half an answ" in transcript.all_text())
        assert "interrupted: the window writing it closed" in transcript.all_text()
        assert "stopped" not in transcript.all_text()  # the user did not stop it


async def test_a_change_to_another_thread_leaves_the_open_one_as_it_is(tmp_path, fake_server):
    fake_server.script(Reply.text("my own answer"))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, threads = parts(app)
        screen.composer.text = "my question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "my own answer" in transcript.all_text() and not screen.generating,
                       timeout=SEEN)
        # The window has taken note of what it stored itself (read after the reply ends).
        await wait_for(pilot, lambda: screen.view.synced and threads.option_count == 1, timeout=SEEN)
        transcript.add_notice("a notice only this window shows")
        other = Store(tmp_path / "tuichat.db")
        thread = other.create_thread("default", "m")
        other.add_message(thread.id, "user", "elsewhere")
        await wait_for(pilot, lambda: threads.option_count == 2, timeout=SEEN)
        # Noticed, but the open thread did not change: it is not redrawn from the store.
        assert "a notice only this window shows" in transcript.all_text()
        other.add_message(screen.thread.id, "user", "into the open thread")
        await wait_for(pilot, lambda: "into the open thread" in transcript.all_text(), timeout=SEEN)


async def test_the_open_thread_deleted_elsewhere_gives_way_to_a_new_one(tmp_path, fake_server):
    # Otherwise every Enter would be refused for a thread that no longer exists.
    other = Store(tmp_path / "tuichat.db")
    thread = other.create_thread("default", "test-model")
    other.add_message(thread.id, "user", "soon deleted")
    fake_server.script(Reply.text("a fresh answer"))
    app = make_app(tmp_path, fake_server.base_url, thread=thread)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        screen.composer.text = "typed meanwhile"
        other.delete_thread(thread.id)
        await wait_for(pilot, lambda: "deleted in another window" in transcript.all_text(), timeout=SEEN)
        assert screen.thread is None and "soon deleted" not in transcript.all_text()
        assert screen.composer.text == "typed meanwhile"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "a fresh answer" in transcript.all_text() and not screen.generating,
                       timeout=SEEN)
        assert [m.content for m in other.messages(screen.thread.id)] == ["typed meanwhile", "a fresh answer"]


async def test_a_send_or_title_racing_a_delete_elsewhere_is_refused_in_words(tmp_path, fake_server):
    other = Store(tmp_path / "tuichat.db")
    thread = other.create_thread("default", "test-model")
    other.add_message(thread.id, "user", "soon deleted")
    fake_server.script(Reply.text("a fresh answer"))
    app = make_app(tmp_path, fake_server.base_url, thread=thread)
    async with app.run_test(size=(100, 30)) as pilot:
        screen, transcript, _ = parts(app)
        screen.view._data_version = None  # no poll notices it: the commands themselves find it gone
        other.delete_thread(thread.id)
        screen.composer.text = "/title renamed"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "no longer exists" in transcript.all_text(), timeout=SEEN)
        assert app.is_running and screen.composer.text == "/title renamed"
        screen.composer.text = "hello again"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "deleted in another window" in transcript.all_text(), timeout=SEEN)
        assert screen.thread is None and not screen.generating
        assert screen.composer.text == "hello again"  # not stored, so kept
        await pilot.press("enter")
        await wait_for(pilot, lambda: "a fresh answer" in transcript.all_text() and not screen.generating,
                       timeout=SEEN)
        assert [m.content for m in other.messages(screen.thread.id)] == ["hello again", "a fresh answer"]
