"""The send lifecycle without a UI: real OpenAI SDK against the fake server, real SQLite."""

from __future__ import annotations

import asyncio

import pytest

from fake_openai import Reply
from tuichat.core.errors import ProviderError
from tuichat.core.models import DONE, ERROR, STOPPED, STREAMING, Persona
from tuichat.providers.openai import OpenAIProvider
from tuichat.session import ChatSession
from tuichat.store.async_store import AsyncStore

PERSONA = Persona(name="tester", description="d", system_prompt="You are a test.", temperature=0.3)


class Collect:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []

    def on_text(self, text: str) -> None:
        self.text.append(text)

    def on_reasoning(self, text: str) -> None:
        self.reasoning.append(text)


@pytest.fixture
def store(tmp_path):
    from tuichat.store import Store

    with Store(tmp_path / "t.db") as s:
        yield s


@pytest.fixture
async def session(store, fake_server):
    provider = OpenAIProvider(api_key="sk-test-key-123456", base_url=fake_server.base_url, max_retries=0, timeout=5)
    yield ChatSession(AsyncStore(store), provider)
    await provider.aclose()


async def test_send_saves_prompt_then_streams_and_saves_reply(session, store, fake_server):
    fake_server.script(Reply.text("Hello, world! こんにちは", chunk_size=3, usage={"prompt_tokens": 7, "completion_tokens": 5}))
    thread = store.create_thread("tester", "m1")
    sink = Collect()
    reply = await session.send(thread, PERSONA, "hi there", sink)
    assert len(sink.text) > 3  # it streamed in pieces
    assert "".join(sink.text) == "Hello, world! こんにちは"
    rows = store.messages(thread.id)
    assert [(m.role, m.content, m.status) for m in rows] == [
        ("user", "hi there", DONE),
        ("assistant", "Hello, world! こんにちは", DONE),
    ]
    assert reply.status == DONE and reply.finish_reason == "stop"
    assert rows[1].usage is not None and rows[1].usage.completion_tokens == 5
    body = fake_server.chat_requests[-1].json
    assert body["messages"] == [
        {"role": "system", "content": "You are a test."},
        {"role": "user", "content": "hi there"},
    ]
    assert body["model"] == "m1" and body["temperature"] == 0.3 and body["stream"] is True


async def test_history_is_sent_in_order_without_reasoning(session, store, fake_server):
    fake_server.script(Reply(chunks=["first answer"], reasoning=["thinking hard"]), Reply.text("second answer"))
    thread = store.create_thread("tester", "m1")
    sink = Collect()
    await session.send(thread, PERSONA, "q1", sink)
    assert "".join(sink.reasoning) == "thinking hard"
    assert "".join(sink.text) == "first answer"
    await session.send(thread, PERSONA, "q2", Collect())
    sent = fake_server.chat_requests[-1].json["messages"]
    assert sent == [
        {"role": "system", "content": "You are a test."},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "q2"},
    ]
    assert store.messages(thread.id)[1].reasoning == "thinking hard"


async def test_prompt_is_saved_before_the_request(session, store, fake_server):
    seen: list[list[str]] = []
    thread = store.create_thread("tester", "m1")
    fake_server.script(Reply.text("ok"))

    async def watch() -> None:
        # The moment the request reaches the server, what is on disk already?
        while not fake_server.chat_requests:
            await asyncio.sleep(0.005)
        seen.append([(m.role, m.status) for m in store.messages(thread.id)])

    await asyncio.gather(session.send(thread, PERSONA, "saved first", Collect()), watch())
    assert seen[0][0] == ("user", DONE)  # the prompt was stored before the request
    assert fake_server.chat_requests[0].json["messages"][-1]["content"] == "saved first"


async def test_cancel_mid_stall_keeps_partial_text_as_stopped(session, store, fake_server):
    fake_server.script(Reply(chunks=["partial ", "text", "never"], stall_after=2))
    thread = store.create_thread("tester", "m1")
    sink = Collect()
    task = asyncio.create_task(session.send(thread, PERSONA, "go", sink))
    for _ in range(100):
        await asyncio.sleep(0.02)
        if "".join(sink.text) == "partial text":
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1.0)
    reply = store.messages(thread.id)[-1]
    assert (reply.content, reply.status) == ("partial text", STOPPED)


async def test_disconnect_mid_stream_keeps_partial_text_as_error(session, store, fake_server):
    fake_server.script(Reply(chunks=["kept ", "words ", "lost"], disconnect_after=2))
    thread = store.create_thread("tester", "m1")
    with pytest.raises(ProviderError) as info:
        await session.send(thread, PERSONA, "go", Collect())
    assert info.value.kind == "disconnected"
    reply = store.messages(thread.id)[-1]
    assert reply.content == "kept words "
    assert reply.status == ERROR and reply.error


async def test_checkpoint_writes_partial_text_while_streaming(store, fake_server):
    provider = OpenAIProvider(api_key="k", base_url=fake_server.base_url, max_retries=0, timeout=5)
    session = ChatSession(AsyncStore(store), provider, checkpoint_seconds=0.05)
    fake_server.script(Reply(chunks=[f"w{i} " for i in range(12)], delay=0.03))
    thread = store.create_thread("tester", "m1")
    snapshots: list[tuple[str, str]] = []

    class Spy(Collect):
        def on_text(self, text: str) -> None:
            super().on_text(text)
            row = store.messages(thread.id)[-1]
            snapshots.append((row.content, row.status))

    await session.send(thread, PERSONA, "go", Spy())
    await provider.aclose()
    partial = [content for content, status in snapshots if status == STREAMING and content]
    assert partial, "no checkpoint was written while streaming"
    assert all(len(c) < len("".join(f"w{i} " for i in range(12))) for c in partial)
    # A checkpoint is time-based: far fewer writes than tokens.
    assert len(set(partial)) < 12


async def test_retry_after_error_resends_the_same_history(session, store, fake_server):
    fake_server.script(Reply.error(500, "boom"), Reply.text("recovered"))
    thread = store.create_thread("tester", "m1")
    with pytest.raises(ProviderError) as info:
        await session.send(thread, PERSONA, "please", Collect())
    assert info.value.kind == "server"
    assert await session.can_retry(thread)
    sink = Collect()
    reply = await session.reply(thread, PERSONA, sink)
    assert reply.content == "recovered"
    assert fake_server.chat_requests[-1].json["messages"][-1] == {"role": "user", "content": "please"}
    assert [m["role"] for m in fake_server.chat_requests[-1].json["messages"]].count("assistant") == 0
    assert not await session.can_retry(thread)
