"""Superseded messages: kept in the store for history, never sent to the model."""

from __future__ import annotations

import pytest

from fake_openai import Reply
from tuichat.core.models import DONE, SUPERSEDED, Message, Persona
from tuichat.core.prompt import build_messages
from tuichat.providers.openai import OpenAIProvider
from tuichat.session import ChatSession
from tuichat.store.async_store import AsyncStore
from tuichat.store import Store

PERSONA = Persona(name="p", description="d", system_prompt="Be brief.")


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.db") as s:
        yield s


def test_supersede_keeps_the_text_and_changes_the_status(store: Store) -> None:
    thread = store.create_thread("default", "m")
    reply = store.add_message(thread.id, "assistant", "old answer")
    store.supersede(reply.id)
    (stored,) = store.messages(thread.id)
    assert (stored.content, stored.status) == ("old answer", SUPERSEDED)
    with pytest.raises(LookupError):
        store.supersede(9999)


def test_prompt_building_skips_superseded_prompts_and_replies() -> None:
    history = [
        Message(1, 1, "user", "first try"),
        Message(2, 1, "assistant", "answer to first try"),
        Message(3, 1, "user", "edited question"),
        Message(4, 1, "assistant", "regenerated away"),
        Message(5, 1, "assistant", "kept answer"),
    ]
    history[0].status = history[1].status = history[3].status = SUPERSEDED
    assert build_messages(PERSONA, history) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "edited question"},
        {"role": "assistant", "content": "kept answer"},
    ]


async def test_a_retry_after_supersede_does_not_send_the_old_reply(store: Store, fake_server) -> None:
    provider = OpenAIProvider(api_key="sk-test-key-123456", base_url=fake_server.base_url, max_retries=0, timeout=5)
    try:
        fake_server.script(Reply.text("new answer"))
        thread = store.create_thread("p", "m1")
        store.add_message(thread.id, "user", "question")
        old = store.add_message(thread.id, "assistant", "old answer")
        store.supersede(old.id)

        class Sink:
            def on_text(self, text: str) -> None: ...
            def on_reasoning(self, text: str) -> None: ...

        reply = await ChatSession(AsyncStore(store), provider).reply(thread, PERSONA, Sink())
        assert reply.status == DONE
        sent = fake_server.chat_requests[-1].json["messages"]
        assert [m["content"] for m in sent] == ["Be brief.", "question"]
        assert [(m.content, m.status) for m in store.messages(thread.id)] == [
            ("question", DONE), ("old answer", SUPERSEDED), ("new answer", DONE),
        ]
    finally:
        await provider.aclose()
