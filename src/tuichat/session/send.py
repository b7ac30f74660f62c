"""One send, end to end, with no UI: save the prompt, stream the reply, checkpoint it,
save how it ended. The UI and pipe mode both drive this; neither touches the store or the
provider directly while a reply streams."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from tuichat.core.errors import BusyElsewhereError, ProviderError, StorageError, TuichatError
from tuichat.core.events import Finished, ReasoningDelta, TextDelta, UsageReport
from tuichat.core.models import (
    DONE,
    ERROR,
    INTERRUPTED,
    STOPPED,
    STREAMING,
    SUPERSEDED,
    Message,
    Persona,
    Thread,
    Usage,
)
from tuichat.core.prompt import build_messages, fit_context, sendable, summary_request
from tuichat.core.text import encodable, first_line
from tuichat.core.tokens import estimate_usage, truncated_prompt
from tuichat.providers.base import Provider
from tuichat.session.pricing import Pricing
from tuichat.store.async_store import AsyncStore
from tuichat.store.leases import HEARTBEAT_SECONDS, new_owner

# A reply is written to the database about once a second while it streams: often enough
# that a crash loses at most a second of text, rarely enough that SQLite never shows up in
# a profile of a fast local model.
CHECKPOINT_SECONDS = 1.0
# How long the first send of a model waits for the server to tell its context window.
DETECT_WAIT_SECONDS = 1.5

# The final write of a reply is tried this often, this far apart, before the text is left
# on screen only (each try may itself wait busy_timeout for a lock).
FINAL_ATTEMPTS = 3
FINAL_RETRY_SECONDS = 0.5


class ReplySink(Protocol):
    """Where streamed text goes (the transcript, or stdout in pipe mode).

    A sink may also have `on_storage_error(message: str)`: called once when saving the
    reply fails (disk full, database locked); the reply keeps streaming all the same."""

    def on_text(self, text: str) -> None: ...

    def on_reasoning(self, text: str) -> None: ...


# Not stored: asks the model to go on with its cut-off reply (chat APIs have no way to
# extend an assistant message itself).
CONTINUE_PROMPT = "Continue exactly where your last message stopped. Do not repeat anything."


class ChatSession:
    """Runs sends against one store (through its database thread) and one provider.

    Cancellation (the user pressing Escape) arrives as `asyncio.CancelledError` from the
    awaiting task; it stops the stream wherever it is, even mid-stall, and the reply is
    saved with status "stopped" ("interrupted" after `interrupt()`: a signal, not the user).

    Storage faults never cost the reply: a checkpoint runs beside the stream (a locked
    database delays the save, not the text on screen), a failed one is reported once and
    retried at the next checkpoint, and the final write is retried before giving up; the
    returned Message holds the whole text either way.
    """

    def __init__(
        self,
        db: AsyncStore,
        provider: Provider,
        *,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        owner: str | None = None,
        pricing: Pricing | None = None,
        context_window: int | None = None,
        provider_for: Callable[[str | None], Awaitable[Provider]] | None = None,
        pricing_for: Callable[[str | None], Pricing | None] | None = None,
    ) -> None:
        self.db = db
        self.provider = provider  # the start server's
        # A thread on another named server ([servers.NAME]) streams through that server's
        # provider, with its own key: provider_for(thread.server), None for the start server.
        self._provider_for = provider_for
        self.checkpoint_seconds = checkpoint_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._clock = clock
        self.owner = owner or new_owner()
        self.pricing = pricing or Pricing()  # the start server's
        # The price table knows a cloud's models by its host, so a thread on another
        # server is priced as that server: pricing_for(thread.server), None for the start one.
        self._pricing_for = pricing_for
        self.context_window = context_window
        self._interrupted = False

    def interrupt(self) -> None:
        """The next cancellation of a reply ends it as "interrupted" (SIGTERM, SIGHUP:
        the program is going away), not "stopped" (the user's Escape)."""
        self._interrupted = True

    @property
    def interrupted(self) -> bool:
        return self._interrupted

    async def send(
        self, thread: Thread, persona: Persona | None, text: str, sink: ReplySink
    ) -> Message:
        """Save `text` as the user's message (before any request), then stream the reply."""
        await self.save_prompt(thread, text)
        return await self.reply(thread, persona, sink)

    async def save_prompt(self, thread: Thread, text: str, *, version_of: int | None = None) -> Message:
        """Write the user's message. The UI awaits it before it clears the composer, so
        the text is on disk before it leaves the screen. `version_of`: it is a new version
        (an edit) of the turn whose first prompt has that id."""
        self._check_writable()
        return await self.db.add_message(thread.id, "user", encodable(text), version_of=version_of)

    def _check_writable(self) -> None:
        if getattr(self.db.store, "read_only", False):
            raise StorageError(
                "The database is read-only",
                f"{self.db.store.path} cannot be written, so nothing can be sent or saved;"
                " history can still be read and searched. Check the file's permissions.",
            )

    async def reply(
        self, thread: Thread, persona: Persona | None, sink: ReplySink, *,
        model: str | None = None, system_prompt: str | None = None, continuing: Message | None = None,
        summarise: int | None = None,
    ) -> Message:
        """Stream a reply to the thread's history as stored (also used to retry).

        `model`: the model to ask (default: the thread's). `system_prompt`: the thread's
        own system prompt, in place of the persona's (None: the persona's). A sink with
        `on_started(message)` is told the streaming row once it is written."""
        self._check_writable()
        model = model or thread.model
        if system_prompt is not None and persona is not None:
            persona = dataclasses.replace(persona, system_prompt=system_prompt)
        elif system_prompt is not None:
            persona = Persona("", "", system_prompt)
        history = await self.db.messages(thread.id)
        if continuing is not None:
            # Resumed by continue_prepare (streaming again): sent as the finished text it
            # was, then asked to go on; the continuation is added to the same row.
            history = [dataclasses.replace(m, status=DONE) if m.id == continuing.id else m for m in history]
        if summarise is not None:
            # /compact: the messages up to `summarise`, summarised into one stored reply
            # that is sent in their place from then on (core/prompt.py).
            messages = summary_request(history, summarise)
        else:
            messages = build_messages(persona, history)
        if continuing is not None:
            messages.append({"role": "user", "content": CONTINUE_PROMPT})
        provider = await self._provider_for(thread.server) if self._provider_for else self.provider
        pricing = (self._pricing_for(thread.server) if self._pricing_for else None) or self.pricing
        window = await self.window_for(provider, model, pricing)
        left_out, cut_before = 0, None
        if window:
            reserve = min((persona.max_tokens if persona else None) or 1024, window // 2)
            messages, left_out = fit_context(messages, window, reserve)
            if left_out and left_out < len(sent := sendable(history)):
                cut_before = sent[left_out].id
        if continuing is not None:
            reply = dataclasses.replace(continuing, status=STREAMING)
        else:
            reply = await self.db.add_message(
                thread.id, "assistant", "", status=STREAMING, model=model, lease=self.owner, summary_of=summarise
            )
        started = getattr(sink, "on_started", None)
        if started is not None:
            started(reply)
        saver = _ReplySaver(self.db, reply.id, self.owner, sink)
        text: list[str] = [continuing.content] if continuing is not None else []
        reasoning: list[str] = [continuing.reasoning] if continuing is not None and continuing.reasoning else []
        said_before, thought_before = len(text), len(reasoning)  # a continued reply's earlier text
        usage: Usage | None = None
        finish_reason: str | None = None
        status, error = ERROR, None
        last_checkpoint = self._clock()
        heartbeat = asyncio.create_task(self._heartbeat(saver))
        sent_at, first_token_at = self._clock(), None
        try:
            async for event in provider.stream(messages, model, request_params(persona)):
                if first_token_at is None and isinstance(event, TextDelta | ReasoningDelta):
                    first_token_at = self._clock()
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
                    saver.checkpoint("".join(text), "".join(reasoning))
            status = DONE
        except asyncio.CancelledError:
            status = INTERRUPTED if self._interrupted else STOPPED
            raise
        except ProviderError as exc:
            error = exc.title + (f": {exc.detail}" if exc.detail else "")
            raise
        except Exception as exc:  # noqa: BLE001 - anything else still must not lose the text
            error = f"Unexpected error: {type(exc).__name__}: {exc}"
            raise ProviderError("unexpected", "Unexpected error", f"{type(exc).__name__}: {exc}") from exc
        finally:
            heartbeat.cancel()
            reply.content = "".join(text)
            reply.reasoning = "".join(reasoning)
            said = "".join(reasoning[thought_before:]) + "".join(text[said_before:])  # by this request
            if usage is None and said:
                usage = estimate_usage((m["content"] for m in messages), said)
            reply.prompt_cut = truncated_prompt((m["content"] for m in messages), usage)  # this request's count
            if continuing is not None and continuing.usage is not None:
                # Two requests made this reply: both are counted (and priced).
                before = continuing.usage
                usage = before if usage is None else Usage(
                    before.prompt_tokens + usage.prompt_tokens, before.completion_tokens + usage.completion_tokens,
                    before.total_tokens + usage.total_tokens, before.estimated or usage.estimated)
            reply.left_out, reply.cut_before, reply.window = left_out, cut_before, window
            if first_token_at is not None:
                reply.first_token_ms = round((first_token_at - sent_at) * 1000)
                reply.duration_ms = round((self._clock() - sent_at) * 1000)
            reply.status, reply.error, reply.finish_reason, reply.usage = status, error, finish_reason, usage
            stored = await saver.finish(
                content=reply.content, reasoning=reply.reasoning, status=status,
                finish_reason=finish_reason, error=error, usage=usage,
                first_token_ms=reply.first_token_ms, duration_ms=reply.duration_ms,
            )
            if stored is not None:
                reply.status = stored  # another process may have set it meanwhile
                await self._price(reply, pricing)
        return reply

    async def window_for(self, provider: Provider, model: str, pricing: Pricing | None = None) -> int | None:
        """The context window to fit a request to: what the server tells (asked once per
        model, waited for at most DETECT_WAIT_SECONDS, so a slow server delays only the
        first send, and never fails it), else the price table's figure for the model,
        else config.toml's context_window. A configured context_window also caps what
        was found: a user who sets it lower means it (a server that reads less than the
        model's maximum, say)."""
        found: int | None = None
        detect = getattr(provider, "context_window", None)
        if detect is not None:
            try:
                found = await asyncio.wait_for(asyncio.shield(detect(model)), DETECT_WAIT_SECONDS)
            except Exception:  # noqa: BLE001 - only a hint (or too slow: TimeoutError): send without it
                found = None
        pricing = pricing or self.pricing
        if found is None and pricing.provider is not None:
            found = await asyncio.to_thread(pricing.context_window, model)
        configured = self.context_window
        if configured and found:
            return min(configured, found)
        return configured or found

    async def _price(self, reply: Message, pricing: Pricing) -> None:
        """Price the reply once its text is safe: in a thread, since the price table may
        have to load first (genai-prices takes a while to import)."""
        try:
            cost = await asyncio.to_thread(pricing.cost, reply.model, reply.usage)
            if cost is not None:
                await self.db.set_cost(reply.id, cost.dollars)
                reply.cost = cost.dollars
        except (TuichatError, OSError):
            pass  # the reply is saved; its cost is only not known

    async def _heartbeat(self, saver: _ReplySaver) -> None:
        # The lease must stay fresh while the model is silent (a long think, a slow
        # server): another window would otherwise take the reply for abandoned.
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            await saver.heartbeat()

    async def can_retry(self, thread: Thread) -> bool:
        """True when the thread ends with a user message whose reply failed or never came."""
        for message in reversed(await self._tail(thread)):
            if message.role == "assistant" and message.status == ERROR:
                continue
            return message.role == "user"
        return False

    # -- regenerate and edit: the replaced messages are kept, marked superseded ------------

    async def _tail(self, thread: Thread) -> list[Message]:
        """The end of the live conversation, back to (at least) the last prompt: what
        retry, regenerate and edit look at. Cheap even for a very long thread; it is
        asked on every footer refresh."""
        tail = await self.db.recent_messages(thread.id, _TAIL)
        if len(tail) == _TAIL and _last_user_index(tail) is None:
            return await self._live(thread)  # a very long run of failed replies
        return tail

    async def _live(self, thread: Thread) -> list[Message]:
        """The conversation as the model sees it: no notes, no superseded versions."""
        return [
            m for m in await self.db.messages(thread.id)
            if m.role != "system" and m.status != SUPERSEDED
        ]

    async def _check_not_streaming_elsewhere(self, thread: Thread) -> None:
        # A writer that died is recovered first; a live one blocks the change.
        await self.db.recover_streaming()
        if await self.db.streaming_elsewhere(thread.id, self.owner):
            raise BusyElsewhereError(
                "A reply is still being written in another window",
                "wait for it to finish (or stop it there), then try again.",
            )

    async def continue_prepare(self, thread: Thread) -> Message | None:
        """The thread's last reply, if it was cut off at the token limit, taken back to
        "streaming" under this session's lease so `reply(continuing=...)` adds to it.
        None when the last reply was not cut (or was continued elsewhere meanwhile)."""
        self._check_writable()
        await self._check_not_streaming_elsewhere(thread)
        tail = await self._tail(thread)
        last = tail[-1] if tail else None
        if last is None or not last.cut_off:
            return None
        if not await self.db.resume_reply(last.id, self.owner):
            return None
        return last

    async def regenerate_prepare(self, thread: Thread) -> Message | None:
        """Mark the reply (or replies) to the last prompt superseded, so `reply` streams a
        new one for the same prompt. Returns that prompt; None if the thread has none.
        Raises BusyElsewhereError while another process is still writing a reply here."""
        self._check_writable()
        await self._check_not_streaming_elsewhere(thread)
        live = await self._tail(thread)
        index = _last_user_index(live)
        if index is None:
            return None
        for message in live[index + 1 :]:
            await self.db.supersede(message.id)
        return live[index]

    async def edit_prepare(self, thread: Thread) -> Message | None:
        """The last prompt, whose text the user may edit and send again; None if none.
        Nothing changes until `edit_commit`. Raises BusyElsewhereError while another
        process is still writing a reply here."""
        await self._check_not_streaming_elsewhere(thread)
        live = await self._tail(thread)
        index = _last_user_index(live)
        return None if index is None else live[index]

    async def edit_commit(self, thread: Thread, prompt_id: int, text: str) -> Message:
        """Replace prompt `prompt_id` by `text`: it and everything after it (its reply)
        are marked superseded, and `text` is saved as the new prompt; `reply` then answers
        it. Raises LookupError if that prompt is no longer part of the conversation."""
        self._check_writable()
        await self._check_not_streaming_elsewhere(thread)
        live = await self._live(thread)
        index = next((i for i, m in enumerate(live) if m.id == prompt_id and m.role == "user"), None)
        if index is None:
            raise LookupError("the message being edited was already replaced")
        old = live[index]
        for message in live[index:]:
            await self.db.supersede(message.id)
        new = await self.save_prompt(thread, text, version_of=old.version_of or old.id)
        stored = await self.db.get_thread(thread.id)
        if index == 0 and stored is not None and stored.title == first_line(old.content):
            # The title was taken from the prompt being replaced: follow the new wording.
            thread.title = first_line(text)
            await self.db.set_title(thread.id, thread.title)
        return new


class _ReplySaver:
    """Writes one streaming reply to the database without ever holding the stream up.

    Checkpoints run as background tasks, one at a time (a checkpoint due while the last is
    still waiting for a lock is folded into the next); the first failure is reported to
    the sink once, in plain words, and later checkpoints retry. The final write waits for
    the checkpoint in flight, then tries FINAL_ATTEMPTS times before giving up.
    """

    def __init__(self, db: AsyncStore, message_id: int, owner: str, sink: ReplySink) -> None:
        self.db = db
        self.message_id = message_id
        self.owner = owner
        self.sink = sink
        self._task: asyncio.Task[None] | None = None
        self._reported = False
        self.lost_lease = False  # another process recovered or replaced the reply

    def checkpoint(self, content: str, reasoning: str) -> None:
        if self.lost_lease or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.create_task(self._checkpoint(content, reasoning))

    async def _checkpoint(self, content: str, reasoning: str) -> None:
        try:
            if not await self.db.checkpoint(self.message_id, self.owner, content, reasoning):
                self.lost_lease = True
        except TuichatError as exc:
            self._report(exc)

    async def heartbeat(self) -> None:
        if self.lost_lease or (self._task is not None and not self._task.done()):
            return  # a checkpoint renews the lease too
        try:
            if not await self.db.heartbeat(self.message_id, self.owner):
                self.lost_lease = True
        except TuichatError:
            pass  # a checkpoint or the final write reports it

    async def finish(self, **fields: Any) -> str | None:
        """The final write; the status now stored, or None if it could not be written."""
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self._task)
        for attempt in range(FINAL_ATTEMPTS):
            try:
                return await self.db.finish_message(self.message_id, self.owner, **fields)
            except TuichatError as exc:
                self._report(exc)
                if attempt + 1 < FINAL_ATTEMPTS:
                    await asyncio.sleep(FINAL_RETRY_SECONDS)
        return None

    def _report(self, exc: TuichatError) -> None:
        if self._reported:
            return
        self._reported = True
        report = getattr(self.sink, "on_storage_error", None)
        if report is not None:
            report(
                f"The reply could not be saved yet ({exc.title}). It keeps streaming, and"
                " tuichat tries again; you can copy it in the meantime."
            )


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
