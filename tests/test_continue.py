"""A reply cut off at the token limit can be continued: F6 (or the palette) asks the
model to go on, and its words are added to the same reply, in the same row."""

from __future__ import annotations

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.core.models import Usage
from tuichat.session.send import CONTINUE_PROMPT
from tuichat.ui.screens.chat import ChatScreen

CUT = {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
REST = {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}


def chat(app) -> ChatScreen:
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def test_f6_continues_the_cut_reply_in_the_same_message(tmp_path, fake_server):
    fake_server.script(Reply.text("The first half of the answer", finish_reason="length", usage=CUT),
                       Reply.text(", and the second half.", usage=REST))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        screen.composer.text = "Tell me everything"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "cut off" in screen.transcript.all_text() and screen.conv.can_continue)
        assert any(b.binding.description == "Continue" for b in screen.active_bindings.values())
        await pilot.press("f6")
        await wait_for(pilot, lambda: "The first half of the answer, and the second half." in
                       screen.transcript.all_text() and not screen.generating)
        assert "cut off" not in screen.transcript.all_text()
        assert not screen.conv.can_continue
        assert not any(b.binding.description == "Continue" for b in screen.active_bindings.values())
        thread = screen.thread
    rows = peek(app).messages(thread.id)
    assert [(m.role, m.content, m.status, m.finish_reason) for m in rows] == [
        ("user", "Tell me everything", "done", None),
        ("assistant", "The first half of the answer, and the second half.", "done", "stop"),
    ]
    assert rows[-1].usage == Usage(30, 7, 37)  # two requests made this reply: both counted
    sent = fake_server.chat_requests[-1].json["messages"]
    assert sent[-2] == {"role": "assistant", "content": "The first half of the answer"}
    assert sent[-1] == {"role": "user", "content": CONTINUE_PROMPT}


async def test_a_finished_reply_is_not_offered_for_continuing(tmp_path, fake_server):
    fake_server.script(Reply.text("Complete."))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        screen.composer.text = "hi"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        assert not screen.conv.can_continue
        assert not any(b.binding.description == "Continue" for b in screen.active_bindings.values())
        requests = len(fake_server.chat_requests)
        screen.sender.continue_reply()
        await pilot.pause()
        assert len(fake_server.chat_requests) == requests


async def test_a_cut_reply_opened_later_can_be_continued(tmp_path, fake_server):
    from tuichat.store import Store

    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    store.add_message(thread.id, "user", "Count to ten")
    reply = store.add_message(thread.id, "assistant", "", status="streaming", lease="old")
    store.finish_message(reply.id, "old", content="1 2 3 4", reasoning="", status="done", finish_reason="length")
    fake_server.script(Reply.text(" 5 6 7 8 9 10"))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        await wait_for(pilot, lambda: screen.conv.can_continue)
        await pilot.press("f6")
        await wait_for(pilot, lambda: "1 2 3 4 5 6 7 8 9 10" in screen.transcript.all_text() and not screen.generating)
    assert [m.content for m in peek(app).messages(thread.id)] == ["Count to ten", "1 2 3 4 5 6 7 8 9 10"]


async def test_a_continuation_the_server_does_not_count_is_estimated_on_its_own_words(tmp_path, fake_server):
    from tuichat.core.tokens import estimate_tokens

    fake_server.script(Reply.text("First part", finish_reason="length", usage=CUT),
                       Reply.text(" and the rest of it", usage=None))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        screen.composer.text = "go"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.conv.can_continue)
        await pilot.press("f6")
        await wait_for(pilot, lambda: "First part and the rest of it" in screen.transcript.all_text()
                       and not screen.generating)
        thread = screen.thread
    usage = peek(app).messages(thread.id)[-1].usage
    # The first request's counts, plus an estimate of the continuation alone (not of the
    # whole reply again).
    assert usage is not None and usage.estimated
    assert usage.completion_tokens == CUT["completion_tokens"] + estimate_tokens(" and the rest of it")
