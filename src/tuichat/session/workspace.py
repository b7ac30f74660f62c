"""What the front end works with, app-wide: the database (through its own thread), the
session that sends, the replies in flight, and reads and changes that are not about the
one thread shown (the thread list, drafts, preferences, deleting and renaming any thread).
No UI: the Textual app holds one Workspace and its screens call it, never the store.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from tuichat.core.budget import Balance, month_start
from tuichat.core.models import SUPERSEDED, Persona, Thread
from tuichat.core.text import first_line
from tuichat.session import history, titles
from tuichat.session.conversation import Conversation
from tuichat.session.pricing import Pricing
from tuichat.session.replies import LiveReply, Replies
from tuichat.session.send import ChatSession
from tuichat.store.async_store import AsyncStore

if TYPE_CHECKING:
    from tuichat.config import Budget
    from tuichat.providers.base import Provider
    from tuichat.session.servers import ServerPool


class Workspace:
    """The conversation layer of one app: `conversation()` for a thread, `replies` for
    what is generating, and the app-wide reads and writes."""

    def __init__(
        self, db: AsyncStore, session: Callable[[], ChatSession], *, auto_title: Callable[[], bool] = lambda: False,
        pricing: Pricing | None = None,
        budget: Budget | None = None,
        context_window: int | None = None,
        servers: ServerPool | None = None,
    ) -> None:
        self.db = db
        self._make_session = session
        self.servers = servers  # the named servers besides the start one (None: only that one)
        self.pricing = pricing
        self.budget = budget
        self.context_window = context_window
        self._session: ChatSession | None = None
        self.replies = Replies(lambda: self.session)
        self.replies.on_finished = self._finished
        self.auto_title = auto_title  # asked after each reply: the setting may change
        # Called whenever a lock may have changed (a send began, a reply ended, a stop
        # was asked): the front end's one watcher re-reads `busy` and updates itself.
        self.on_change: Callable[[], None] | None = None
        # Called with (thread id, title) when a title was made for a thread.
        self.on_title: Callable[[int, str], None] | None = None
        self._titles: set[asyncio.Task[None]] = set()

    async def balance(self) -> Balance | None:
        """This month's spending against config.toml's [budget]; None without one."""
        budget = self.budget
        if budget is None:
            return None
        dollars, tokens = await self.db.spending_since(month_start())
        return Balance(budget.dollars, budget.tokens, dollars, tokens)

    @property
    def session(self) -> ChatSession:
        # Built on first use: the provider is cheap to build, and the SDK itself loads
        # only when the first request streams (or when the app warms it up).
        if self._session is None:
            self._session = ChatSession(self.db, self._make_session(), pricing=self.pricing,
                                        context_window=self.context_window, provider_for=self.provider_for,
                                        pricing_for=self.pricing_for)
        return self._session

    async def provider_for(self, server: str | None) -> Provider:
        """The provider of a thread's server: the session's own for the start server."""
        if self.servers is None or self.servers.owns(server):
            return self.session.provider
        return await self.servers.provider(server or "")

    def pricing_for(self, server: str | None) -> Pricing | None:
        """The prices on a thread's server (the price table tells clouds apart by host);
        None for the start server's, which the session holds."""
        if self.pricing is None or self.servers is None or self.servers.owns(server):
            return None
        return Pricing(self.pricing.prices, self.servers.server(server).base_url)

    @property
    def start_server(self) -> str | None:
        """The name new threads record (None when servers are not in play: tests)."""
        return self.servers.start.name if self.servers is not None else None

    def server_label(self, server: str | None) -> str | None:
        """host[:port] of a thread's server, for the status line; None when unknown."""
        return self.servers.server(server).label if self.servers is not None else None

    @property
    def has_session(self) -> bool:
        return self._session is not None

    def changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def conversation(self, persona: Persona | None, model: str, thread: Thread | None = None, *,
                     server: str | None = None) -> Conversation:
        """A thread's conversation (a new one when `thread` is None, on `server`: by
        default the start server)."""
        return Conversation(self, persona, model, thread, server=server)

    # -- the thread list and other windows ------------------------------------------------

    async def threads_page(self, text: str, limit: int, offset: int) -> list[Thread]:
        return await self.db.filter_threads(text, limit=limit, offset=offset)

    async def get_thread(self, thread_id: int) -> Thread | None:
        return await self.db.get_thread(thread_id)

    async def data_version(self) -> int:
        """Changes when another connection (another window, a pipe run) commits."""
        return await self.db.data_version()

    async def message_count(self, thread_id: int) -> int:
        return await self.db.message_count(thread_id)

    async def rename(self, thread_id: int, title: str) -> None:
        await self.db.set_title(thread_id, title)

    async def delete(self, thread_id: int) -> None:
        """Delete a thread for good; a reply still generating in it is stopped and its
        final write waited for first (then deleted with the thread)."""
        live = self.replies.get(thread_id)
        if live is not None:
            live.stop()
            await live.wait()
        await self.db.call(history.delete_thread, self.db.store, thread_id)

    async def export(self, thread_id: int, fmt: str) -> str:
        """Write a thread to a new file in the export folder; returns its path."""
        return await self.db.call(history.export_to_folder, self.db.store, thread_id, fmt)

    # -- what is kept between runs ------------------------------------------------------------

    async def draft(self) -> str:
        return await self.db.get_draft()

    async def save_draft(self, text: str) -> None:
        await self.db.save_draft(text)

    async def pref(self, key: str) -> str | None:
        return await self.db.get_pref(key)

    async def set_pref(self, key: str, value: str) -> None:
        await self.db.set_pref(key, value)

    # -- replies ------------------------------------------------------------------------------

    async def stop_all(self) -> None:
        await self.replies.stop_all()
        for task in list(self._titles):
            task.cancel()

    def _finished(self, live: LiveReply) -> None:
        if self.auto_title() and live.message is not None and live.message.content.strip():
            task = asyncio.get_running_loop().create_task(self._auto_title(live.thread, live.model,
                                                                           live.message.content))
            self._titles.add(task)
            task.add_done_callback(self._titles.discard)

    async def _auto_title(self, thread: Thread, model: str, reply: str) -> None:
        """After the first finished reply, ask the model for a title (auto_title = true).
        Runs beside the chat, outside any lock; any failure just means no new title."""
        db = self.db
        with contextlib.suppress(Exception):
            prompts = [m for m in await db.messages(thread.id) if m.role == "user" and m.status != SUPERSEDED]
            stored = await db.get_thread(thread.id)
            # Only a thread still named after its first message: a hand-made title stays.
            if len(prompts) != 1 or stored is None or stored.title != first_line(prompts[0].content):
                return
            title = await titles.suggest_title(self.session.provider, model, prompts[0].content, reply)
            now = await db.get_thread(thread.id)
            # Nothing usable, renamed by hand meanwhile, or deleted (SQLite may reuse the
            # id for a newer thread, hence created_at).
            if not title or now is None or (now.title, now.created_at) != (stored.title, stored.created_at):
                return
            await db.set_title(thread.id, title)
            if self.on_title is not None:
                self.on_title(thread.id, title)

