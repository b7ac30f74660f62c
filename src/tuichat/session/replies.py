"""Replies in flight: at most one per thread, each outliving the screen that started it.

A reply runs as its own asyncio task. Whoever shows its thread attaches a viewer and gets
the text as it arrives; switching to another thread detaches it and the reply goes on
streaming and saving in the background; coming back re-attaches and shows the text so
far. The per-thread send lock is this registry: a thread is busy while it has a reply
here (one owner: the task, which removes itself in a `finally` whatever happens).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol

from tuichat.core.errors import ProviderError, TuichatError
from tuichat.core.models import DONE, ERROR, INTERRUPTED, STOPPED, Message, Persona, Thread
from tuichat.session.send import ChatSession


class ReplyViewer(Protocol):
    """What shows one reply as it streams (the transcript, when its thread is shown)."""

    def on_text(self, text: str) -> None: ...

    def on_reasoning(self, text: str) -> None: ...


class RepliesListener(Protocol):
    """The front end's ear on every reply, shown or not: the thread list marks live
    threads, the lock's watcher updates keys and footer, storage trouble is said."""

    def reply_started(self, live: LiveReply) -> None: ...

    def reply_ended(self, live: LiveReply) -> None: ...

    def reply_storage_error(self, live: LiveReply, message: str) -> None: ...


class LiveReply:
    """One reply being generated: its text so far and how it ended (once it has).

    It is the session's ReplySink: text is kept here and passed on to the viewer, if one
    is attached. After the end, `status` is done/stopped/interrupted/error, `message` the
    reply as saved (None if it never started) and `error` what went wrong, if anything.
    """

    def __init__(self, replies: Replies, thread: Thread, model: str) -> None:
        self._replies = replies
        self.thread = thread
        self.model = model
        self.message_id: int | None = None  # the streaming row, once written
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.viewer: ReplyViewer | None = None
        self.stopping = False  # stop asked: over on screen, its final write under way
        self.done = False
        self.status: str | None = None
        self.message: Message | None = None
        self.error: TuichatError | None = None
        self.task: asyncio.Task[None] | None = None
        self.new_version = False  # a regenerated or edited reply: earlier versions exist

    # -- the session's sink ---------------------------------------------------------------

    def on_started(self, message: Message) -> None:
        self.message_id = message.id

    def on_text(self, text: str) -> None:
        self.text.append(text)
        if self.viewer is not None:
            self.viewer.on_text(text)

    def on_reasoning(self, text: str) -> None:
        self.reasoning.append(text)
        if self.viewer is not None:
            self.viewer.on_reasoning(text)

    def on_storage_error(self, message: str) -> None:
        self._replies.storage_error(self, message)

    # -- for the front end ----------------------------------------------------------------

    @property
    def content(self) -> str:
        return "".join(self.text)

    @property
    def reasoning_text(self) -> str:
        return "".join(self.reasoning)

    def stop(self) -> None:
        """Stop generating; the text so far is saved as "stopped"."""
        if self.task is not None and not self.done and not self.stopping:
            self.stopping = True
            self.task.cancel()

    async def wait(self) -> None:
        """Until the reply has ended and its final write is done."""
        if self.task is not None:
            with contextlib.suppress(BaseException):
                await asyncio.shield(self.task)


class Replies:
    """Every reply in flight in this process, by thread id."""

    def __init__(self, session: Callable[[], ChatSession]) -> None:
        self._session = session
        self._live: dict[int, LiveReply] = {}
        self.listener: RepliesListener | None = None
        self.on_finished: Callable[[LiveReply], None] | None = None  # automatic titles

    def get(self, thread_id: int | None) -> LiveReply | None:
        return None if thread_id is None else self._live.get(thread_id)

    def __len__(self) -> int:
        return len(self._live)

    @property
    def thread_ids(self) -> set[int]:
        return set(self._live)

    def start(
        self, thread: Thread, persona: Persona | None, model: str, viewer: ReplyViewer | None = None,
        *, system_prompt: str | None = None, continuing: Message | None = None, summarise: int | None = None,
    ) -> LiveReply:
        """Start the reply to the thread's history as stored. Refuses (RuntimeError) a
        second reply in the same thread: the caller checks `get` first."""
        if thread.id in self._live:
            raise RuntimeError(f"thread {thread.id} already has a reply in flight")
        live = LiveReply(self, thread, model)
        if continuing is not None:
            # The reply goes on in its own row: what it said so far is its text already.
            live.message_id = continuing.id
            live.text = [continuing.content]
            live.reasoning = [continuing.reasoning] if continuing.reasoning else []
        live.viewer = viewer
        self._live[thread.id] = live
        live.task = asyncio.get_running_loop().create_task(
            self._run(live, persona, system_prompt, continuing, summarise), name=f"reply-{thread.id}"
        )
        if self.listener is not None:
            self.listener.reply_started(live)
        return live

    async def _run(
        self, live: LiveReply, persona: Persona | None, system_prompt: str | None, continuing: Message | None = None,
        summarise: int | None = None,
    ) -> None:
        session = self._session()
        try:
            live.message = await session.reply(
                live.thread, persona, live, model=live.model, system_prompt=system_prompt, continuing=continuing,
                summarise=summarise,
            )
            live.status = live.message.status
        except asyncio.CancelledError:
            # The session saved the text; the task ends quietly (nobody awaits its
            # cancellation but `wait`, which swallows it).
            live.status = INTERRUPTED if session.interrupted else STOPPED
        except ProviderError as exc:
            live.status, live.error = ERROR, exc
        except TuichatError as exc:  # the database refused before anything streamed
            live.status, live.error = ERROR, exc
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the lock held
            live.status = ERROR
            live.error = ProviderError("unexpected", "Unexpected error", f"{type(exc).__name__}: {exc}")
        finally:
            live.done = True
            self._live.pop(live.thread.id, None)
            if self.listener is not None:
                with contextlib.suppress(Exception):
                    self.listener.reply_ended(live)
            if live.status == DONE and self.on_finished is not None:
                with contextlib.suppress(Exception):
                    self.on_finished(live)

    def storage_error(self, live: LiveReply, message: str) -> None:
        if self.listener is not None:
            self.listener.reply_storage_error(live, message)

    async def stop_all(self) -> None:
        """Stop every reply and wait until each is saved (quitting)."""
        lives = list(self._live.values())
        for live in lives:
            live.stop()
        for live in lives:
            await live.wait()
