"""The store, off the event loop: every call runs on one dedicated thread.

SQLite can block for seconds (another process holds the write lock until busy_timeout
runs out, a slow or full disk, a large page read), and the UI's event loop must never
wait for it: typing, scrolling and Esc stay live whatever the database is doing. One
thread, not a pool: a `sqlite3.Connection` must not be used by two threads at once, and
one thread keeps the writes of this process in the order they were asked for.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tuichat.store.threads import Store

T = TypeVar("T")


class AsyncStore:
    """Wraps a `Store`: `await db.method(...)` runs `store.method(...)` on the database
    thread and returns its result (or raises its exception) in the caller's task.

    Attributes that are not methods (`path`) are read directly. `call` runs any function
    of the store on the same thread, for a few reads that belong together.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tuichat-db")

    async def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        # Shielded: a cancelled caller (Esc while a checkpoint is being written) must not
        # leave the write half-known; the write finishes on its thread either way, and the
        # caller's own cancellation still arrives.
        return await asyncio.shield(future)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.call(attr, *args, **kwargs)

        call.__name__ = name
        return call

    def close(self) -> None:
        """Finish queued work, then close the connection on the database thread."""
        try:
            self._executor.submit(self.store.close).result()
        finally:
            self._executor.shutdown(wait=True)
