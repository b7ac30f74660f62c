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


# FTS5's trigram tokenizer arrived in SQLite 3.34. Module-level so tests can pretend it is
# missing and exercise the LIKE fallback in store/search.py.
TRIGRAM_AVAILABLE = sqlite3.sqlite_version_info >= (3, 34, 0)


@migration
def m004_message_search(conn: sqlite3.Connection) -> None:
    # Full-text search over message text. Trigram, not unicode61: it matches substrings,
    # which is what people expect from a search box, and it works for Japanese and other
    # languages without spaces between words. External content (the text lives once, in
    # messages) keeps the index to roughly the size of the trigram postings.
    #
    # If this SQLite lacks FTS5 or the trigram tokenizer, create nothing: search then falls
    # back to LIKE (slower, same results), and the app still works. store/search.py checks
    # for the table rather than for the migration, so both paths are decided at run time.
    if not TRIGRAM_AVAILABLE:
        return
    try:
        conn.execute(
            "CREATE VIRTUAL TABLE messages_fts USING fts5("
            " content, content = 'messages', content_rowid = 'id', tokenize = 'trigram')"
        )
    except sqlite3.OperationalError:  # "no such module: fts5" / "no such tokenizer"
        return
    # An external-content index must be told the old text to remove it, hence the
    # 'delete' commands carrying old.content. UPDATE OF content: status and usage
    # checkpoints, which are most updates, leave the index alone.
    conn.execute(
        "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
        " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);"
        " END"
    )
    conn.execute(
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
        " INSERT INTO messages_fts (messages_fts, rowid, content)"
        " VALUES ('delete', old.id, old.content);"
        " END"
    )
    conn.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN"
        " INSERT INTO messages_fts (messages_fts, rowid, content)"
        " VALUES ('delete', old.id, old.content);"
        " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);"
        " END"
    )
    # Index the messages written before this migration.
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")


@migration
def m005_thread_source(conn: sqlite3.Connection) -> None:
    # Where an imported thread came from ("chatgpt:<conversation id>", "tuichat:<hash>"),
    # so importing the same file twice adds nothing. NULL for threads made here; the
    # partial index keeps those out of the uniqueness check and out of the index.
    conn.execute("ALTER TABLE threads ADD COLUMN source TEXT")
    conn.execute("CREATE UNIQUE INDEX threads_source ON threads (source) WHERE source IS NOT NULL")


@migration
def m006_reply_leases(conn: sqlite3.Connection) -> None:
    # Which process is writing a streaming reply, and when it last said so (store/leases.py).
    # Another process recovers the reply only when this lease is stale, never a live one.
    conn.execute("ALTER TABLE messages ADD COLUMN lease_owner TEXT")
    conn.execute("ALTER TABLE messages ADD COLUMN lease_heartbeat REAL")


@migration
def m007_prior_status(conn: sqlite3.Connection) -> None:
    # The status a message had before it was superseded (regenerate, edit), so picking
    # that version again restores it (core/versions.py). NULL: it was "done".
    conn.execute("ALTER TABLE messages ADD COLUMN prior_status TEXT")
    # An edited prompt names the first prompt of its turn, so the versions of a turn are
    # known whichever of them is live. NULL: the first version (or made before this).
    conn.execute("ALTER TABLE messages ADD COLUMN version_of INTEGER")


@migration
def m008_prefs(conn: sqlite3.Connection) -> None:
    # What the app keeps between runs (the theme, whether the thread list is hidden).
    conn.execute("CREATE TABLE prefs (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


@migration
def m009_imported_model(conn: sqlite3.Connection) -> None:
    # An imported ChatGPT thread's model ("gpt-4o", "text-davinci-002-render-sha") is a
    # label of its replies, not something to send to the user's server: '' means "not
    # chosen", and the app asks the configured model.
    conn.execute("UPDATE threads SET model = '' WHERE source LIKE 'chatgpt:%'")


@migration
def m010_thread_system_prompt(conn: sqlite3.Connection) -> None:
    # A thread's own system prompt (/system), in place of its persona's. NULL: the persona's.
    conn.execute("ALTER TABLE threads ADD COLUMN system_prompt TEXT")


@migration
def m011_messages_by_date(conn: sqlite3.Connection) -> None:
    # Search lists messages newest first by date (an import writes old messages late):
    # this index walks them in that order, a window at a time (store/search.py).
    conn.execute("CREATE INDEX messages_by_date ON messages (created_at, id)")


@migration
def m012_reply_timing(conn: sqlite3.Connection) -> None:
    # Per reply: time to the first token and to the end, and whether the token counts
    # are the server's or estimated from the text (the server sent no usage).
    conn.execute("ALTER TABLE messages ADD COLUMN first_token_ms INTEGER")
    conn.execute("ALTER TABLE messages ADD COLUMN duration_ms INTEGER")
    conn.execute("ALTER TABLE messages ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0")


@migration
def m013_reply_cost(conn: sqlite3.Connection) -> None:
    # What a reply cost in US dollars, when its model has a price (session/pricing.py);
    # the budget adds these up, so it survives restarts and counts pipe runs too.
    conn.execute("ALTER TABLE messages ADD COLUMN cost REAL")


@migration
def m014_thread_server(conn: sqlite3.Connection) -> None:
    # The named server ([servers.NAME] in config.toml) a thread talks to; NULL: the one
    # the app was started with (threads from before servers had names).
    conn.execute("ALTER TABLE threads ADD COLUMN server TEXT")


@migration
def m015_summaries(conn: sqlite3.Connection) -> None:
    # A /compact summary: an assistant row standing for the thread's messages up to
    # this id, sent in their place while it is live (status done; superseded: undone).
    conn.execute("ALTER TABLE messages ADD COLUMN summary_of INTEGER")
