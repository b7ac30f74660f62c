"""Opening the SQLite database: connection settings, then migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tuichat.store.migrations import migrate

MEMORY = ":memory:"


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at `path` and bring its schema up to date.

    `":memory:"` gives a private in-memory database, for tests.
    """
    if str(path) != MEMORY:
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
    # check_same_thread off: the app opens the store on the main thread, then uses it only
    # from AsyncStore's single database thread (never two threads at once).
    conn = sqlite3.connect(path, check_same_thread=False)
    try:
        conn.row_factory = sqlite3.Row
        # WAL lets a second tuichat window read while this one writes a streaming reply.
        # It is a property of the file, so it stays set; in-memory databases ignore it.
        conn.execute("PRAGMA journal_mode = WAL")
        # Off by default in SQLite, per connection: without it ON DELETE CASCADE does nothing.
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        # Safe with WAL (no corruption on power loss, at worst the last commit is lost) and
        # avoids an fsync on every streaming checkpoint.
        conn.execute("PRAGMA synchronous = NORMAL")
        # After a checkpoint the WAL file is cut back to this size instead of staying as
        # large as it ever grew (a long reply must not leave megabytes behind).
        conn.execute("PRAGMA journal_size_limit = 262144")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn
