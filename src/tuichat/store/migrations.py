"""Forward-only schema migrations, in the style of simonw/llm's migrations.py.

Each migration is a function registered with `@migration`; its name is the function
name and is recorded in `_migrations` once applied. Never edit or reorder a migration
that has shipped: add a new one instead, because existing databases have already run it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

Migration = Callable[[sqlite3.Connection], None]

MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration."""
    if any(m.__name__ == fn.__name__ for m in MIGRATIONS):
        # A duplicate name would be silently skipped on every database that has the first.
        raise ValueError(f"duplicate migration name: {fn.__name__}")
    MIGRATIONS.append(fn)
    return fn


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")


def applied(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations already applied to `conn`, in the order they ran."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the missing migrations in order; return the names applied by this call."""
    _ensure_table(conn)
    done = set(applied(conn))
    ran: list[str] = []
    for fn in MIGRATIONS:
        name = fn.__name__
        if name in done:
            continue
        with conn:
            # BEGIN explicitly: Python's sqlite3 does not open a transaction before DDL, and
            # IMMEDIATE takes the write lock so two tuichat processes starting together
            # queue up instead of both running the same migration.
            conn.execute("BEGIN IMMEDIATE")
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                continue  # the other process got there first
            fn(conn)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
            )
        ran.append(name)
    return ran


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE threads (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            persona TEXT NOT NULL,
            model TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    # The thread list is ordered by updated_at; id is the rowid, so this index also
    # serves the "ties: higher id first" part of the ORDER BY.
    conn.execute("CREATE INDEX threads_updated_at ON threads (updated_at)")
    conn.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            thread_id INTEGER NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL DEFAULT '',
            reasoning TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'done',
            model TEXT,
            finish_reason TEXT,
            error TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )
        """
    )
    # Serves loading a thread in order, counting its messages, and the cascade on delete.
    conn.execute("CREATE INDEX messages_thread_id ON messages (thread_id, id)")


@migration
def m002_streaming_index(conn: sqlite3.Connection) -> None:
    # recover_streaming() runs at every start; without this partial index it would scan
    # every message ever stored. Only live replies are in it, so it stays a few rows.
    conn.execute("CREATE INDEX messages_streaming ON messages (id) WHERE status = 'streaming'")


@migration
def m003_drafts(conn: sqlite3.Connection) -> None:
    # The composer's unsent text, so quitting (or a crash) never loses what was typed.
    # One row per slot; the app uses a single slot today.
    conn.execute(
        "CREATE TABLE drafts (slot TEXT PRIMARY KEY, text TEXT NOT NULL, updated_at REAL NOT NULL)"
    )
