"""Opening the SQLite database: ownership and version checks, connection settings, then
migrations.

Before anything is written the file is looked at read-only: another program's SQLite
file, a database made by a newer tuichat, or a file that is not a database is refused and
left byte for byte as it was (no table added, no switch to WAL). A database tuichat may
read but not write (the file or its folder is read-only) opens read-only.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from tuichat.core.errors import DatabaseRefusedError
from tuichat.core.files import create_private
from tuichat.store.migrations import MIGRATIONS, migrate

MEMORY = ":memory:"


def connect(path: str | Path, *, read_only: bool | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the database at `path` and bring its schema up to date.

    `":memory:"` gives a private in-memory database, for tests. `read_only`: None decides
    from the file's and its folder's permissions; True opens it read-only (no migration,
    every write fails with "attempt to write a readonly database").
    """
    return open_database(path, read_only=read_only)[0]


def open_database(path: str | Path, *, read_only: bool | None = None) -> tuple[sqlite3.Connection, bool]:
    """`connect`, also telling whether the connection is read-only."""
    if str(path) == MEMORY:
        return _configure(sqlite3.connect(MEMORY, check_same_thread=False), read_only=False), False
    path = Path(path).expanduser()
    if not path.exists() or path.stat().st_size == 0:
        if read_only:
            raise DatabaseRefusedError(f"Cannot open the database {path}", "it does not exist (read-only).")
        if not path.exists():
            create_private(path)  # 0600 before SQLite writes a byte; -wal/-shm inherit it
        applied: list[str] = []
    else:
        applied = _inspect(path)
        if read_only is None:
            read_only = not _writable(path)
    if read_only:
        pending = [fn.__name__ for fn in MIGRATIONS if fn.__name__ not in applied]
        if pending:
            raise DatabaseRefusedError(
                f"The database {path} is read-only and needs an upgrade",
                "it was made by an older tuichat; open it once where it can be written.",
            )
        # check_same_thread off: the app opens the store on the main thread, then uses it
        # only from AsyncStore's single database thread (never two threads at once).
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        return _configure(conn, read_only=True), True
    conn = sqlite3.connect(path, check_same_thread=False)
    return _configure(conn, read_only=False), False


def _configure(conn: sqlite3.Connection, *, read_only: bool) -> sqlite3.Connection:
    try:
        conn.row_factory = sqlite3.Row
        # Off by default in SQLite, per connection: without it ON DELETE CASCADE does nothing.
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA busy_timeout = 5000")
        if read_only:
            return conn
        # WAL lets a second tuichat window read while this one writes a streaming reply.
        # It is a property of the file, so it stays set; in-memory databases ignore it.
        conn.execute("PRAGMA journal_mode = WAL")
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


def _inspect(path: Path) -> list[str]:
    """The migrations applied to the database at `path`, read without writing anything.
    Refuses (DatabaseRefusedError) a file that is not tuichat's or is newer than us."""
    # Without a -wal file the whole database is in the file itself: read it as immutable,
    # which creates no -wal/-shm beside someone else's file. With one, read-only (the
    # sidecars exist already; another process may be writing).
    has_wal = path.with_name(path.name + "-wal").exists()
    try:
        probe = sqlite3.connect(f"{path.resolve().as_uri()}?{'mode=ro' if has_wal else 'immutable=1'}", uri=True)
    except sqlite3.Error as exc:
        raise DatabaseRefusedError(f"Cannot open the database {path}", f"{exc}.") from None
    try:
        tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return []
        if "_migrations" not in tables:
            raise DatabaseRefusedError(
                f"{path} is not a tuichat database",
                f"it holds another program's tables ({', '.join(sorted(tables)[:3])}...)."
                " It was left untouched; pass --db with a new file name.",
            )
        applied = [row[0] for row in probe.execute("SELECT name FROM _migrations ORDER BY rowid")]
    except sqlite3.DatabaseError as exc:
        text = str(exc)
        if "not a database" in text:
            raise DatabaseRefusedError(
                f"{path} is not a SQLite database",
                "it was left untouched; pass --db with the path of a tuichat database or a new file.",
            ) from None
        if "malformed" in text:
            raise DatabaseRefusedError(
                f"The database {path} is damaged",
                f'recover what it holds with: sqlite3 {path} ".recover" | sqlite3 recovered.db'
                " (then tuichat --db recovered.db).",
            ) from None
        raise DatabaseRefusedError(f"Cannot open the database {path}", f"{exc}.") from None
    finally:
        probe.close()
    known = {fn.__name__ for fn in MIGRATIONS}
    unknown = [name for name in applied if name not in known]
    if unknown:
        raise DatabaseRefusedError(
            f"The database {path} was made by a newer tuichat",
            "upgrade tuichat (pip install -U tuichat) to open it; it was left untouched.",
        )
    return applied


def _writable(path: Path) -> bool:
    """Can this process write the database and create its -wal and -shm beside it?"""
    if not os.access(path, os.W_OK):
        return False
    sidecars = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    if all(p.exists() and os.access(p, os.W_OK) for p in sidecars):
        return True
    return os.access(path.parent, os.W_OK)
