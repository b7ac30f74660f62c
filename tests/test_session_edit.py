"""Regenerate and edit without a UI: what is superseded, what is sent next."""

from __future__ import annotations

import pytest

from fake_openai import Reply
from tuichat.core.models import DONE, SUPERSEDED, Persona
from tuichat.providers.openai import OpenAIProvider
from tuichat.session import ChatSession
from tuichat.store.async_store import AsyncStore

PERSONA = Persona(name="tester", description="d", system_prompt="You are a test.")


class Sink:
    def on_text(self, text: str) -> None:
        pass

    def on_reasoning(self, text: str) -> None:
        pass


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


def rows(store, thread):
    return [(m.role, m.content, m.status) for m in store.messages(thread.id)]


async def test_regenerate_supersedes_the_reply_and_resends_the_same_prompt(session, store, fake_server):
    fake_server.script(Reply.text("first answer"), Reply.text("second answer"))
    thread = store.create_thread("tester", "m1")
    await session.send(thread, PERSONA, "question", Sink())
    prompt = await session.regenerate_prepare(thread)
    assert prompt is not None and prompt.content == "question"
    await session.reply(thread, PERSONA, Sink())
    assert rows(store, thread) == [
        ("user", "question", DONE),
        ("assistant", "first answer", SUPERSEDED),
        ("assistant", "second answer", DONE),
    ]
    sent = fake_server.chat_requests[-1].json["messages"]
    assert sent == [
        {"role": "system", "content": "You are a test."},
        {"role": "user", "content": "question"},
    ]


async def test_regenerate_twice_keeps_every_version(session, store, fake_server):
    fake_server.script("one", "two", "three")
    thread = store.create_thread("tester", "m1")
    await session.send(thread, PERSONA, "q", Sink())
    for _ in range(2):
        await session.regenerate_prepare(thread)
        await session.reply(thread, PERSONA, Sink())
    assert [s for _, _, s in rows(store, thread)] == [DONE, SUPERSEDED, SUPERSEDED, DONE]
    assert all("one" not in m["content"] and "two" not in m["content"]
               for m in fake_server.chat_requests[-1].json["messages"])


async def test_regenerate_after_an_error_supersedes_the_failed_reply(session, store, fake_server):
    from tuichat.core.errors import ProviderError

    fake_server.script(Reply.error(500, "boom"), Reply.text("fine"))
    thread = store.create_thread("tester", "m1")
    with pytest.raises(ProviderError):
        await session.send(thread, PERSONA, "q", Sink())
    assert await session.regenerate_prepare(thread) is not None
    await session.reply(thread, PERSONA, Sink())
    assert [(r, s) for r, _, s in rows(store, thread)] == [("user", DONE), ("assistant", SUPERSEDED), ("assistant", DONE)]
    assert store.messages(thread.id)[1].error  # the failure is still on record


async def test_regenerate_and_edit_with_no_prompt_do_nothing(session, store):
    thread = store.create_thread("tester", "m1")
    assert await session.regenerate_prepare(thread) is None
    assert await session.edit_prepare(thread) is None
    assert store.messages(thread.id) == []


async def test_edit_supersedes_prompt_and_reply_and_sends_the_new_text(session, store, fake_server):
    fake_server.script("a1", "a2", "a3")
    thread = store.create_thread("tester", "m1")
    await session.send(thread, PERSONA, "q1", Sink())
    await session.send(thread, PERSONA, "q2 with a typo", Sink())
    prompt = await session.edit_prepare(thread)
    assert prompt is not None and prompt.content == "q2 with a typo"
    assert [s for _, _, s in rows(store, thread)] == [DONE] * 4  # preparing changes nothing
    await session.edit_commit(thread, prompt.id, "q2 fixed")
    await session.reply(thread, PERSONA, Sink())
    assert rows(store, thread) == [
        ("user", "q1", DONE),
        ("assistant", "a1", DONE),
        ("user", "q2 with a typo", SUPERSEDED),
        ("assistant", "a2", SUPERSEDED),
        ("user", "q2 fixed", DONE),
        ("assistant", "a3", DONE),
    ]
    assert [m["content"] for m in fake_server.chat_requests[-1].json["messages"]] == [
        "You are a test.", "q1", "a1", "q2 fixed",
    ]


async def test_editing_the_first_prompt_retitles_an_auto_titled_thread(session, store, fake_server):
    thread = store.create_thread("tester", "m1")
    await session.send(thread, PERSONA, "tpyo title", Sink())
    prompt = await session.edit_prepare(thread)
    await session.edit_commit(thread, prompt.id, "typo title")
    assert store.get_thread(thread.id).title == "typo title"
    store.set_title(thread.id, "My own title")
    prompt = await session.edit_prepare(thread)
    await session.edit_commit(thread, prompt.id, "again")
    assert store.get_thread(thread.id).title == "My own title"  # a chosen title is kept


async def test_edit_of_a_replaced_prompt_is_refused(session, store, fake_server):
    thread = store.create_thread("tester", "m1")
    await session.send(thread, PERSONA, "q", Sink())
    prompt = await session.edit_prepare(thread)
    await session.edit_commit(thread, prompt.id, "q edited")
    with pytest.raises(LookupError):
        await session.edit_commit(thread, prompt.id, "stale edit")
    assert [c for _, c, _ in rows(store, thread)] == ["q", "Hello from the fake server.", "q edited"]


async def test_can_retry_ignores_superseded_messages(session, store, fake_server):
    fake_server.script("answer")
    thread = store.create_thread("tester", "m1")
    await session.send(thread, PERSONA, "q", Sink())
    assert not await session.can_retry(thread)
    await session.regenerate_prepare(thread)
    assert await session.can_retry(thread)  # the prompt has no live reply now
