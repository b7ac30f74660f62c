"""/compact: the earlier part of a thread summarised into one stored message that is sent
in its place (in the system prompt), kept and shown as a summary, and undone on request."""

from __future__ import annotations

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.core.models import DONE, SUPERSEDED, Message, Persona
from tuichat.core.prompt import (
    SUMMARISE_PROMPT,
    SUMMARY_HEADER,
    build_messages,
    compact_range,
    summary_request,
)
from tuichat.store import Store

PERSONA = Persona("p", "", "Be brief.")


def msg(id: int, role: str, content: str, **kw) -> Message:
    return Message(id=id, thread_id=1, role=role, content=content, **kw)


HISTORY = [
    msg(1, "user", "q1"), msg(2, "assistant", "a1"),
    msg(3, "user", "q2"), msg(4, "assistant", "a2"),
    msg(5, "user", "q3"), msg(6, "assistant", "a3"),
    msg(7, "user", "q4"), msg(8, "assistant", "a4"),
]


def test_compact_keeps_the_last_two_turns_and_covers_the_rest():
    assert compact_range(HISTORY) == (4, 4)
    assert compact_range(HISTORY[:4]) is None  # two turns only: nothing before them
    request = summary_request(HISTORY, 4)
    assert [m["content"] for m in request[1:]] == ["q1", "a1", "q2", "a2", SUMMARISE_PROMPT]
    assert request[0]["role"] == "system" and "summary" in request[0]["content"]


def test_a_summary_in_force_is_sent_in_place_of_what_it_covers():
    summary = msg(9, "assistant", "They talked about q1 and q2.", summary_of=4, status=DONE)
    history = [*HISTORY, summary, msg(10, "user", "q5")]
    sent = build_messages(PERSONA, history)
    assert sent[0] == {"role": "system", "content": f"Be brief.\n\n{SUMMARY_HEADER}\nThey talked about q1 and q2."}
    assert [m["content"] for m in sent[1:]] == ["q3", "a3", "q4", "a4", "q5"]
    # Undone (superseded), a stopped one, or an empty one: the originals are sent again.
    for status, text in ((SUPERSEDED, "x"), ("stopped", "x"), (DONE, "")):
        other = msg(9, "assistant", text, summary_of=4, status=status)
        sent = build_messages(PERSONA, [*HISTORY, other, msg(10, "user", "q5")])
        assert [m["content"] for m in sent] == ["Be brief.", "q1", "a1", "q2", "a2", "q3", "a3", "q4", "a4", "q5"]
    # Compacting again covers the earlier summary too (it is in the request's system prompt).
    assert compact_range(history) == (6, 2)  # q3 and a3; the turns of q4 and q5 are kept
    request = summary_request(history, 6)
    assert "They talked about q1 and q2." in request[0]["content"]
    assert [m["content"] for m in request[1:]] == ["q3", "a3", SUMMARISE_PROMPT]


def seeded(tmp_path) -> tuple[Store, object]:
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    for i in range(1, 5):
        store.add_message(thread.id, "user", f"question {i}")
        store.add_message(thread.id, "assistant", f"answer {i}")
    return store, thread


def contents(request) -> list[str]:
    return [m["content"] for m in request.json["messages"]]


async def test_compact_then_undo_in_the_app(tmp_path, fake_server):
    store, thread = seeded(tmp_path)
    fake_server.script(Reply.text("SUMMARY: questions 1 and 2 were answered."), Reply.text("next answer"),
                       Reply.text("after undo"))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "/compact"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 1 and not screen.generating
                       and "SUMMARY: questions" in screen.transcript.all_text())
        asked = contents(fake_server.chat_requests[0])
        assert asked[1:] == ["question 1", "answer 1", "question 2", "answer 2", SUMMARISE_PROMPT]
        rows = peek(app).messages(thread.id)
        summary = rows[-1]
        assert summary.summary_of == rows[3].id and summary.status == DONE  # "answer 2"
        await wait_for(pilot, lambda: "sent in place of the messages above" in screen.transcript.all_text())
        assert "question 1" in screen.transcript.all_text()  # the originals stay shown
        # The next message sends the summary instead of the messages it covers.
        screen.composer.text = "and now?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 2 and not screen.generating)
        sent = fake_server.chat_requests[1].json["messages"]
        assert "SUMMARY: questions 1 and 2 were answered." in sent[0]["content"]
        assert [m["content"] for m in sent[1:]] == ["question 3", "answer 3", "question 4", "answer 4", "and now?"]
        # Undo: the summary is kept, marked undone, and the originals are sent again.
        screen.composer.text = "/compact undo"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "undone: the messages it summarises" in screen.transcript.all_text())
        assert next(m for m in peek(app).messages(thread.id) if m.id == summary.id).status == SUPERSEDED
        screen.composer.text = "once more"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 3 and not screen.generating)
        sent = fake_server.chat_requests[2].json["messages"]
        assert "SUMMARY" not in str(sent)
        assert [m["content"] for m in sent[1:3]] == ["question 1", "answer 1"]


async def test_compact_with_too_little_says_so_and_sends_nothing(tmp_path, fake_server):
    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    store.add_message(thread.id, "user", "only question")
    store.add_message(thread.id, "assistant", "only answer")
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "/compact"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("Nothing to compact yet" in f"{n.title} {n.message}"
                                          for n in app._notifications))
        assert not fake_server.chat_requests


async def test_a_stopped_summary_changes_nothing(tmp_path, fake_server):
    store, thread = seeded(tmp_path)
    fake_server.script(Reply(chunks=["SUMMARY part", " and more"], stall_after=1), Reply.text("fine"))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "/compact"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "SUMMARY part" in screen.transcript.all_text())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not screen.generating and peek(app).messages(thread.id)[-1].status == "stopped")
        screen.composer.text = "go on"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(fake_server.chat_requests) == 2 and not screen.generating)
        sent = fake_server.chat_requests[1].json["messages"]
        assert "SUMMARY" not in str(sent) and sent[1]["content"] == "question 1"


def test_exports_mark_the_summary(tmp_path):
    from tuichat.transfer.export import thread_to_json, thread_to_markdown

    store, thread = seeded(tmp_path)
    rows = store.messages(thread.id)
    summary = store.add_message(thread.id, "assistant", "the gist", summary_of=rows[3].id)
    messages = store.messages(thread.id)
    markdown = thread_to_markdown(thread, messages)
    assert "## Summary of the messages before it (/compact) · " in markdown
    assert [m.get("summary") for m in thread_to_json(thread, messages)["messages"]][-1] is True
    store.update_message(summary.id, status=SUPERSEDED)
    assert "· undone (the messages it summarises were sent again)" in thread_to_markdown(thread,
                                                                                           store.messages(thread.id))
