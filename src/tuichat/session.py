"""One send, end to end, with no UI: save the prompt, stream the reply, checkpoint it,
save how it ended. The UI and pipe mode both drive this; neither touches the store or the
provider directly while a reply streams."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from tuichat.core.errors import ProviderError
from tuichat.core.events import Finished, ReasoningDelta, TextDelta, UsageReport
from tuichat.core.models import (
    DONE,
    ERROR,
    STOPPED,
    STREAMING,
    SUPERSEDED,
    Message,
    Persona,
    Thread,
    Usage,
)
from tuichat.core.prompt import build_messages
from tuichat.core.text import first_line
from tuichat.providers.base import Provider
from tuichat.store import Store

# A reply is written to the database about once a second while it streams: often enough
# that a crash loses at most a second of text, rarely enough that SQLite never shows up in
# a profile of a fast local model.
CHECKPOINT_SECONDS = 1.0


class ReplySink(Protocol):
    """Where streamed text goes (the transcript, or stdout in pipe mode)."""

    def on_text(self, text: str) -> None: ...

    def on_reasoning(self, text: str) -> None: ...


class ChatSession:
    """Runs sends against one store and one provider.

    Cancellation (the user pressing Escape) arrives as `asyncio.CancelledError` from the
    awaiting task; it stops the stream wherever it is, even mid-stall, and the reply is
    saved with status "stopped".
    """

    def __init__(
        self,
        store: Store,
        provider: Provider,
        *,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.provider = provider
        self.checkpoint_seconds = checkpoint_seconds
        self._clock = clock

    async def send(
        self, thread: Thread, persona: Persona | None, text: str, sink: ReplySink
    ) -> Message:
        """Save `text` as the user's message (before any request), then stream the reply."""
        self.save_prompt(thread, text)
        return await self.reply(thread, persona, sink)

    def save_prompt(self, thread: Thread, text: str) -> Message:
        """Write the user's message. Synchronous on purpose: the UI calls it before it
        clears the composer, so the text is on disk before it leaves the screen."""
        return self.store.add_message(thread.id, "user", text)

    async def reply(self, thread: Thread, persona: Persona | None, sink: ReplySink) -> Message:
        """Stream a reply to the thread's history as stored (also used to retry)."""
        history = self.store.messages(thread.id)
        messages = build_messages(persona, history)
        reply = self.store.add_message(thread.id, "assistant", "", status=STREAMING, model=thread.model)
        text: list[str] = []
        reasoning: list[str] = []
        usage: Usage | None = None
        finish_reason: str | None = None
        status, error = ERROR, None
        last_checkpoint = self._clock()
        try:
            async for event in self.provider.stream(messages, thread.model, request_params(persona)):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                    sink.on_text(event.text)
                elif isinstance(event, ReasoningDelta):
                    reasoning.append(event.text)
                    sink.on_reasoning(event.text)
                elif isinstance(event, UsageReport):
                    usage = event.usage
                elif isinstance(event, Finished):
                    finish_reason = event.reason
                now = self._clock()
                if now - last_checkpoint >= self.checkpoint_seconds:
                    last_checkpoint = now
                    self.store.update_message(reply.id, content="".join(text), reasoning="".join(reasoning))
            status = DONE
        except asyncio.CancelledError:
            status = STOPPED
            raise
        except ProviderError as exc:
            error = exc.title + (f": {exc.detail}" if exc.detail else "")
            raise
        except Exception as exc:  # noqa: BLE001 - anything else still must not lose the text
            error = f"Unexpected error: {type(exc).__name__}: {exc}"
            raise ProviderError("unexpected", "Unexpected error", f"{type(exc).__name__}: {exc}") from exc
        finally:
            reply.content = "".join(text)
            reply.reasoning = "".join(reasoning)
            reply.status, reply.error, reply.finish_reason, reply.usage = status, error, finish_reason, usage
            self.store.update_message(
                reply.id,
                content=reply.content,
                reasoning=reply.reasoning,
                status=status,
                finish_reason=finish_reason,
                error=error,
                usage=usage,
            )
        return reply

    def can_retry(self, thread: Thread) -> bool:
        """True when the thread ends with a user message whose reply failed or never came."""
        for message in reversed(self._tail(thread)):
            if message.role == "assistant" and message.status == ERROR:
                continue
            return message.role == "user"
        return False

    # -- regenerate and edit: the replaced messages are kept, marked superseded ------------

    def _tail(self, thread: Thread) -> list[Message]:
        """The end of the live conversation, back to (at least) the last prompt: what
        retry, regenerate and edit look at. Cheap even for a very long thread; it is
        asked on every footer refresh."""
        tail = self.store.recent_messages(thread.id, _TAIL)
        if len(tail) == _TAIL and _last_user_index(tail) is None:
            return self._live(thread)  # a very long run of failed replies
        return tail

    def _live(self, thread: Thread) -> list[Message]:
        """The conversation as the model sees it: no notes, no superseded versions."""
        return [
            m for m in self.store.messages(thread.id)
            if m.role != "system" and m.status != SUPERSEDED
        ]

    def regenerate_prepare(self, thread: Thread) -> Message | None:
        """Mark the reply (or replies) to the last prompt superseded, so `reply` streams a
        new one for the same prompt. Returns that prompt; None if the thread has none."""
        live = self._tail(thread)
        index = _last_user_index(live)
        if index is None:
            return None
        for message in live[index + 1 :]:
            self.store.supersede(message.id)
        return live[index]

    def edit_prepare(self, thread: Thread) -> Message | None:
        """The last prompt, whose text the user may edit and send again; None if none.
        Nothing changes until `edit_commit`."""
        live = self._tail(thread)
        index = _last_user_index(live)
        return None if index is None else live[index]

    def edit_commit(self, thread: Thread, prompt_id: int, text: str) -> Message:
        """Replace prompt `prompt_id` by `text`: it and everything after it (its reply)
        are marked superseded, and `text` is saved as the new prompt; `reply` then answers
        it. Raises LookupError if that prompt is no longer part of the conversation."""
        live = self._live(thread)
        index = next((i for i, m in enumerate(live) if m.id == prompt_id and m.role == "user"), None)
        if index is None:
            raise LookupError("the message being edited was already replaced")
        old = live[index]
        for message in live[index:]:
            self.store.supersede(message.id)
        new = self.save_prompt(thread, text)
        stored = self.store.get_thread(thread.id)
        if index == 0 and stored is not None and stored.title == first_line(old.content):
            # The title was taken from the prompt being replaced: follow the new wording.
            thread.title = first_line(text)
            self.store.set_title(thread.id, thread.title)
        return new


_TAIL = 20


def _last_user_index(messages: list[Message]) -> int | None:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "user":
            return index
    return None


def request_params(persona: Persona | None) -> dict[str, Any]:
    """Sampling parameters from the persona; unset ones are left to the server."""
    if persona is None:
        return {}
    params: dict[str, Any] = {}
    if persona.temperature is not None:
        params["temperature"] = persona.temperature
    if persona.max_tokens is not None:
        params["max_tokens"] = persona.max_tokens
    return params
