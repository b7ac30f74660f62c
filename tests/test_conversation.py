"""The conversation layer without a UI: a thread's actions, replies that outlive the
thread being shown, the per-thread lock, versions, the thread's own system prompt."""

from __future__ import annotations

import asyncio

import pytest

from fake_openai import Reply
from tuichat.core.models import DONE, STOPPED, SUPERSEDED, Persona
from tuichat.providers.openai import OpenAIProvider
from tuichat.session.conversation import BusyError
from tuichat.session.workspace import Workspace
from tuichat.store import Store
from tuichat.store.async_store import AsyncStore

PERSONA = Persona(name="tester", description="d", system_prompt="You are a test.")


class Viewer:
    def __init__(self) -> None:
        self.text: list[str] = []

    def on_text(self, text: str) -> None:
        self.text.append(text)

    def on_reasoning(self, text: str) -> None:
        pass


class Listener:
    def __init__(self) -> None:
        self.started: list[int] = []
        self.ended: list[tuple[int, str | None]] = []
        self.ended_event = asyncio.Event()

    def reply_started(self, live) -> None:
        self.started.append(live.thread.id)

    def reply_ended(self, live) -> None:
        self.ended.append((live.thread.id, live.status))
        self.ended_event.set()

    def reply_storage_error(self, live, message: str) -> None:
        pass


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "t.db") as s:
        yield s


@pytest.fixture
async def ws(store, fake_server):
    providers = []

    def factory():
        provider = OpenAIProvider(api_key="sk-test-key-123456", base_url=fake_server.base_url,
                                  max_retries=0, timeout=5)
        providers.append(provider)
        return provider

    workspace = Workspace(AsyncStore(store), factory)
    workspace.replies.listener = Listener()
    yield workspace
    await workspace.stop_all()
    for provider in providers:
        await provider.aclose()


async def ended(ws, thread_id: int) -> None:
    live = ws.replies.get(thread_id)
    if live is not None:
        await asyncio.wait_for(live.wait(), 20)


async def test_send_stores_the_prompt_before_the_reply_and_lets_go_of_the_lock(ws, store, fake_server):
    fake_server.script(Reply.text("answer one"))
    conv = ws.conversation(PERSONA, "m1")
    seen: list[list[str]] = []
    viewer = Viewer()

    def saved(prompt):
        # Called once the prompt is on disk, before any request.
        seen.append([m.content for m in store.messages(prompt.thread_id)])
        assert fake_server.chat_requests == []
        return viewer

    live = await conv.send("question", saved=saved)
    assert conv.busy and live is not None
    await ended(ws, conv.thread.id)
    assert seen == [["question"]]
    assert "".join(viewer.text) == "answer one"
    assert not conv.busy
    assert [(m.role, m.status) for m in store.messages(conv.thread.id)] == [("user", DONE), ("assistant", DONE)]


async def test_a_second_send_in_the_same_thread_is_refused_another_thread_is_not(ws, store, fake_server):
    fake_server.script(Reply(chunks=["slow"], stall_after=1), Reply.text("other"))
    first = ws.conversation(PERSONA, "m1")
    await first.send("one", saved=lambda p: None)
    with pytest.raises(BusyError):
        await first.send("two", saved=lambda p: None)
    # The same thread, as another Conversation (the screen switched away and back).
    again = ws.conversation(PERSONA, "m1", store.get_thread(first.thread.id))
    assert again.busy and again.live is first.live
    while not fake_server.chat_requests:  # the stalled reply is the first one served
        await asyncio.sleep(0.01)
    second = ws.conversation(PERSONA, "m1")
    await second.send("elsewhere", saved=lambda p: None)
    await ended(ws, second.thread.id)
    assert store.messages(second.thread.id)[-1].content == "other"
    assert [m.content for m in store.messages(first.thread.id) if m.role == "user"] == ["one"]
    assert again.stop()
    await ended(ws, first.thread.id)
    assert store.messages(first.thread.id)[-1].status == STOPPED


async def test_a_reply_goes_on_after_its_viewer_detaches_and_can_be_reattached(ws, store, fake_server):
    fake_server.script(Reply(chunks=[f"w{i} " for i in range(30)], delay=0.02))
    conv = ws.conversation(PERSONA, "m1")
    viewer = Viewer()
    live = await conv.send("go", saved=lambda p: viewer)
    while not viewer.text:
        await asyncio.sleep(0.01)
    live.viewer = None  # the screen moved to another thread
    later = Viewer()
    while len(live.text) < 10:
        await asyncio.sleep(0.01)
    live.viewer = later  # and came back: it has the text so far from `live.content`
    so_far = live.content
    await ended(ws, conv.thread.id)
    assert so_far + "".join(later.text) == "".join(f"w{i} " for i in range(30))
    assert store.messages(conv.thread.id)[-1].content == so_far + "".join(later.text)


async def test_stop_all_saves_every_reply_as_stopped(ws, store, fake_server):
    fake_server.script(Reply(chunks=["a "], stall_after=1), Reply(chunks=["b "], stall_after=1))
    one, two = ws.conversation(PERSONA, "m1"), ws.conversation(PERSONA, "m1")
    await one.send("1", saved=lambda p: None)
    await two.send("2", saved=lambda p: None)
    while len(fake_server.chat_requests) < 2 or not (one.live.text and two.live.text):
        await asyncio.sleep(0.01)
    await ws.stop_all()
    assert [store.messages(c.thread.id)[-1].status for c in (one, two)] == [STOPPED, STOPPED]
    assert len(ws.replies) == 0


async def test_regenerated_versions_can_be_flipped_and_the_shown_one_is_sent(ws, store, fake_server):
    fake_server.script(Reply.text("first answer"), Reply.text("second answer"), Reply.text("follow-up"))
    conv = ws.conversation(PERSONA, "m1")
    await conv.send("question", saved=lambda p: None)
    await ended(ws, conv.thread.id)
    await conv.regenerate(None)
    await ended(ws, conv.thread.id)
    rows = store.messages(conv.thread.id)
    assert [(m.content, m.status) for m in rows if m.role == "assistant"] == [
        ("first answer", SUPERSEDED), ("second answer", DONE)]
    page = await conv.read_tail()
    live_reply = rows[-1]
    assert page.labels[live_reply.id] == (2, 2)
    assert await conv.pick_version(live_reply.id, -1) == (1, 2)
    rows = store.messages(conv.thread.id)
    assert [(m.content, m.status) for m in rows if m.role == "assistant"] == [
        ("first answer", DONE), ("second answer", SUPERSEDED)]
    await conv.send("and then?", saved=lambda p: None)
    await ended(ws, conv.thread.id)
    sent = fake_server.chat_requests[-1].json["messages"]
    assert [m["content"] for m in sent if m["role"] == "assistant"] == ["first answer"]


async def test_the_threads_own_system_prompt_is_sent_and_the_persona_is_untouched(ws, store, fake_server):
    fake_server.script(Reply.text("ok"), Reply.text("ok again"))
    conv = ws.conversation(PERSONA, "m1")
    await conv.set_system_prompt("Answer in haiku.")
    assert conv.system_prompt == "Answer in haiku." and conv.has_own_system_prompt
    await conv.send("hi", saved=lambda p: None)
    await ended(ws, conv.thread.id)
    assert fake_server.chat_requests[-1].json["messages"][0] == {"role": "system", "content": "Answer in haiku."}
    assert PERSONA.system_prompt == "You are a test."
    assert store.get_thread(conv.thread.id).system_prompt == "Answer in haiku."
    await conv.set_system_prompt(None)
    await conv.send("again", saved=lambda p: None)
    await ended(ws, conv.thread.id)
    assert fake_server.chat_requests[-1].json["messages"][0] == {"role": "system", "content": "You are a test."}


async def test_an_imported_thread_sends_the_configured_model(ws, store, fake_server):
    fake_server.script(Reply.text("ok"))
    thread = store.create_thread("tester", "")  # imported: no model chosen
    store.add_message(thread.id, "user", "old question")
    store.add_message(thread.id, "assistant", "old answer", model="chatgpt")
    conv = ws.conversation(PERSONA, "configured-model", store.get_thread(thread.id))
    assert conv.model == "configured-model"
    await conv.send("new question", saved=lambda p: None)
    await ended(ws, thread.id)
    assert fake_server.chat_requests[-1].json["model"] == "configured-model"
    rows = store.messages(thread.id)
    assert rows[1].model == "chatgpt"  # the original stays as the label of its reply
