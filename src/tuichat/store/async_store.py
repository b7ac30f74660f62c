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
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from tuichat.core.errors import StorageError
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
        try:
            return await asyncio.shield(future)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.store.path) from None

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.call(attr, *args, **kwargs)

        call.__name__ = name
        return call

    def detach(self) -> None:
        """Finish queued work and stop the thread; the store stays open for its owner."""
        self._executor.shutdown(wait=True)

    def close(self) -> None:
        """Finish queued work, then close the connection on the database thread."""
        try:
            self._executor.submit(self.store.close).result()
        finally:
            self._executor.shutdown(wait=True)


def storage_error(exc: sqlite3.Error, path: object) -> StorageError:
    """A SQLite failure in plain words: what happened and what the user can do. The
    original message goes in the detail (it is SQLite's, never the user's data)."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        title = "The database is busy"
        detail = f"another program holds {path} (another tuichat?); tuichat tries again."
    elif "full" in text:
        title = "The disk is full"
        detail = f"{path} cannot grow; free some space. Nothing on screen is lost."
    elif "readonly" in text or "read-only" in text:
        title = "The database is read-only"
        detail = f"{path} cannot be written; check its permissions."
    elif "malformed" in text or "not a database" in text:
        title = "The database is damaged"
        detail = f'{path}: recover it with: sqlite3 {path} ".recover" | sqlite3 recovered.db'
    elif "i/o" in text or "disk" in text:
        title = "The database could not be written (I/O error)"
        detail = f"{path}: check the disk."
    else:
        title = "A database operation failed"
        detail = f"{path}: {exc}"
    return StorageError(title, detail)
