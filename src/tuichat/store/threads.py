"""Threads and their messages, stored in SQLite."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import get_args

from tuichat.core.errors import BusyElsewhereError
from tuichat.core.models import (
    INTERRUPTED,
    STATUSES,
    STREAMING,
    SUPERSEDED,
    Message,
    Role,
    SearchHit,
    SearchPage,
    Thread,
    Usage,
)
from tuichat.core.text import first_line
from tuichat.store.db import open_database
from tuichat.store.leases import LEASE_TTL, owner_gone
from tuichat.store.search import (
    LIKE_ESCAPE,
    PAGE_BUDGET_S,
    like_contains,
    search_messages,
    search_page,
)

ROLES = get_args(Role)

_THREAD_COLUMNS = "id, title, persona, model, created_at, updated_at, system_prompt, server"
_MESSAGE_COLUMNS = (
    "id, thread_id, role, content, reasoning, status, model, finish_reason, error,"
    " prompt_tokens, completion_tokens, created_at, version_of, first_token_ms, duration_ms, usage_estimated, cost,"
    " summary_of"
)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown message role {role!r}; expected one of {', '.join(ROLES)}")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        expected = ", ".join(STATUSES)
        raise ValueError(f"unknown message status {status!r}; expected one of {expected}")


def _thread(row: sqlite3.Row) -> Thread:
    return Thread(**dict(row))


def _message(row: sqlite3.Row) -> Message:
    prompt, completion = row["prompt_tokens"], row["completion_tokens"]
    usage = None
    if prompt is not None or completion is not None:
        # total_tokens is not stored: it is always the sum for the servers we talk to.
        usage = Usage(prompt or 0, completion or 0, (prompt or 0) + (completion or 0),
                      estimated=bool(row["usage_estimated"]))
    return Message(
        id=row["id"],
        thread_id=row["thread_id"],
        role=row["role"],
        content=row["content"],
        status=row["status"],
        reasoning=row["reasoning"],
        model=row["model"],
        finish_reason=row["finish_reason"],
        error=row["error"],
        created_at=row["created_at"],
        usage=usage,
        version_of=row["version_of"],
        first_token_ms=row["first_token_ms"],
        duration_ms=row["duration_ms"],
        cost=row["cost"],
        summary_of=row["summary_of"],
    )


class Store:
    """The conversation history: threads and their messages, in one SQLite file.

    Every write commits before returning, so a crash loses at most the text streamed
    since the last `update_message` checkpoint. A thread's `updated_at` follows its
    conversation (new or updated messages), not renames, so the thread list is ordered
    by activity. Missing threads or messages raise LookupError on writes that need them.

    `clock` exists for tests that need distinct, ordered timestamps.
    """

    def __init__(
        self, path: str | Path, *, clock: Callable[[], float] = time.time, read_only: bool | None = None
    ) -> None:
        self.path = path
        self._clock = clock
        # read_only: None decides from the file's permissions (store/db.py); a read-only
        # store reads and searches, and every write fails (the session says why first).
        self._conn, self.read_only = open_database(path, read_only=read_only)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Threads

    def create_thread(self, persona: str, model: str, title: str = "", server: str | None = None) -> Thread:
        now = self._clock()
        with self._conn:
            cur = self._conn.execute(
                "INSERT INTO threads (title, persona, model, created_at, updated_at, server)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (title, persona, model, now, now, server),
            )
        assert cur.lastrowid is not None
        return Thread(cur.lastrowid, title, persona, model, now, now, server=server)

    def get_thread(self, thread_id: int) -> Thread | None:
        row = self._conn.execute(
            f"SELECT {_THREAD_COLUMNS} FROM threads WHERE id = ?", (thread_id,)
        ).fetchone()
        return _thread(row) if row else None

    def list_threads(self, limit: int = 200, offset: int = 0) -> list[Thread]:
        """Threads with the most recent activity first."""
        rows = self._conn.execute(
            f"SELECT {_THREAD_COLUMNS} FROM threads"
            " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_thread(row) for row in rows]

    def latest_thread(self) -> Thread | None:
        threads = self.list_threads(limit=1)
        return threads[0] if threads else None

    def set_title(self, thread_id: int, title: str) -> None:
        self._set_thread_field(thread_id, "title", title)

    def set_model(self, thread_id: int, model: str, server: str | None = None) -> None:
        """The thread's model from its next message on; and its server, when given."""
        if server is None:
            self._set_thread_field(thread_id, "model", model)
            return
        with self._conn:
            cur = self._conn.execute("UPDATE threads SET model = ?, server = ? WHERE id = ?",
                                     (model, server, thread_id))
        if cur.rowcount == 0:
            raise LookupError(f"no thread with id {thread_id}")

    def set_system_prompt(self, thread_id: int, text: str | None) -> None:
        """The thread's own system prompt; None goes back to its persona's."""
        self._set_thread_field(thread_id, "system_prompt", text)

    # Preferences the app keeps between runs

    def get_pref(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM prefs WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_pref(self, key: str, value: str) -> None:
        with self._conn:
            self._conn.execute(
                "INSERT INTO prefs (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value),
            )

    def _set_thread_field(self, thread_id: int, column: str, value: str | None) -> None:
        with self._conn:
            cur = self._conn.execute(
                f"UPDATE threads SET {column} = ? WHERE id = ?", (value, thread_id)
            )
        if cur.rowcount == 0:
            raise LookupError(f"no thread with id {thread_id}")

    def delete_thread(self, thread_id: int) -> None:
        """Delete a thread and (by ON DELETE CASCADE) its messages. Missing ids are ignored."""
        with self._conn:
            self._conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,))

    # Messages

    def add_message(
        self,
        thread_id: int,
        role: str,
        content: str,
        *,
        status: str = "done",
        model: str | None = None,
        lease: str | None = None,
        version_of: int | None = None,
        summary_of: int | None = None,
    ) -> Message:
        """Append a message. The first user message also names an untitled thread.
        A streaming reply is added with `lease`, its writer's id (store/leases.py); an
        edited prompt with `version_of`, the first prompt of its turn; a summary
        (/compact) with `summary_of`, the last message it stands for."""
        _check_role(role)
        _check_status(status)
        now = self._clock()
        title = first_line(content) if role == "user" else ""
        with self._conn:
            # Setting '' leaves an untitled thread untitled, so one UPDATE covers all roles.
            cur = self._conn.execute(
                "UPDATE threads SET updated_at = ?,"
                " title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                (now, title, thread_id),
            )
            if cur.rowcount == 0:
                raise LookupError(f"no thread with id {thread_id}")
            cur = self._conn.execute(
                "INSERT INTO messages (thread_id, role, content, status, model, created_at,"
                " updated_at, lease_owner, lease_heartbeat, version_of, summary_of)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (thread_id, role, content, status, model, now, now, lease, now if lease else None, version_of,
                 summary_of),
            )
        assert cur.lastrowid is not None
        return Message(
            id=cur.lastrowid,
            thread_id=thread_id,
            role=role,  # type: ignore[arg-type]  # checked by _check_role
            content=content,
            status=status,
            model=model,
            created_at=now,
            version_of=version_of,
            summary_of=summary_of,
        )

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        reasoning: str | None = None,
        status: str | None = None,
        finish_reason: str | None = None,
        error: str | None = None,
        usage: Usage | None = None,
    ) -> None:
        """Change only the fields given (None means "leave as is").

        Called about once a second while a reply streams, so it is one UPDATE of the
        message and one of its thread, in one transaction. No fields: nothing is written.
        """
        fields: dict[str, object] = {}
        if content is not None:
            fields["content"] = content
        if reasoning is not None:
            fields["reasoning"] = reasoning
        if status is not None:
            _check_status(status)
            fields["status"] = status
        if finish_reason is not None:
            fields["finish_reason"] = finish_reason
        if error is not None:
            fields["error"] = error
        if usage is not None:
            fields["prompt_tokens"] = usage.prompt_tokens
            fields["completion_tokens"] = usage.completion_tokens
        if not fields:
            return
        now = self._clock()
        fields["updated_at"] = now
        # Column names come from the fixed keys above, never from the caller.
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._conn:
            cur = self._conn.execute(
                f"UPDATE messages SET {assignments} WHERE id = ?", (*fields.values(), message_id)
            )
            if cur.rowcount == 0:
                raise LookupError(f"no message with id {message_id}")
            self._conn.execute(
                "UPDATE threads SET updated_at = ?"
                " WHERE id = (SELECT thread_id FROM messages WHERE id = ?)",
                (now, message_id),
            )

    def messages(self, thread_id: int) -> list[Message]:
        """A thread's messages, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE thread_id = ? ORDER BY id",
            (thread_id,),
        )
        return [_message(row) for row in rows]

    def messages_before(self, thread_id: int, before_id: int | None, limit: int) -> list[Message]:
        """Up to `limit` of a thread's messages older than message `before_id` (None: the
        newest), oldest first: a page of the thread read backwards along the (thread_id,
        id) index, for showing a long thread from its end."""
        if before_id is None:
            before_id = 1 << 62
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE thread_id = ? AND id < ?"
            " ORDER BY id DESC LIMIT ?",
            (thread_id, before_id, limit),
        ).fetchall()
        return [_message(row) for row in reversed(rows)]

    def count_before(self, thread_id: int, before_id: int) -> int:
        """How many user/assistant messages of a thread are older than message `before_id`.
        Counts along the (thread_id, id) index: it costs those messages only."""
        row = self._conn.execute(
            "SELECT count(*) FROM messages WHERE thread_id = ? AND id < ? AND role != 'system'",
            (thread_id, before_id),
        ).fetchone()
        return int(row[0])

    def recent_messages(self, thread_id: int, limit: int) -> list[Message]:
        """The last `limit` user/assistant messages that are not superseded, oldest first.
        Reads backwards along the (thread_id, id) index, so it costs the same for a thread
        of ten messages or of ten thousand."""
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE thread_id = ?"
            f" AND role != 'system' AND status != '{SUPERSEDED}' ORDER BY id DESC LIMIT ?",
            (thread_id, limit),
        ).fetchall()
        return [_message(row) for row in reversed(rows)]

    def message_count(self, thread_id: int) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM messages WHERE thread_id = ?", (thread_id,)
        ).fetchone()
        return int(row[0])

    def recover_streaming(self) -> int:
        """Mark replies left "streaming" by a process that is gone as "interrupted"; return
        how many. A reply whose writer is alive (its lease is fresh: another window, a pipe
        run) is left alone. Their text up to the last checkpoint is kept. Cheap: the
        partial index messages_streaming holds only live replies."""
        now = self._clock()
        # The status literal in the WHERE lets SQLite use the partial index
        # messages_streaming (see migrations.m002) instead of scanning every message.
        rows = self._conn.execute(
            f"SELECT id, lease_owner, lease_heartbeat FROM messages WHERE status = '{STREAMING}'"
        ).fetchall()
        stale = [
            (row["id"], row["lease_owner"])
            for row in rows
            if row["lease_heartbeat"] is None
            or not now - LEASE_TTL <= row["lease_heartbeat"] <= now + LEASE_TTL
            or owner_gone(row["lease_owner"])
        ]
        if not stale:
            return 0
        recovered = 0
        with self._conn:
            for message_id, owner in stale:
                # Compare and set: the writer may have finished (or renewed) since the read.
                cur = self._conn.execute(
                    f"UPDATE messages SET status = ?, updated_at = ? WHERE id = ?"
                    f" AND status = '{STREAMING}' AND lease_owner IS ?",
                    (INTERRUPTED, now, message_id, owner),
                )
                recovered += cur.rowcount
        return recovered

    def checkpoint(self, message_id: int, owner: str, content: str, reasoning: str) -> bool:
        """Save a streaming reply's text so far and renew its lease. Only while the reply
        is still "streaming" under `owner`'s lease; False if not (another process
        recovered it or it was replaced meanwhile): then nothing is written."""
        now = self._clock()
        with self._conn:
            cur = self._conn.execute(
                "UPDATE messages SET content = ?, reasoning = ?, lease_heartbeat = ?,"
                f" updated_at = ? WHERE id = ? AND status = '{STREAMING}' AND lease_owner = ?",
                (content, reasoning, now, now, message_id, owner),
            )
            if cur.rowcount:
                self._touch_thread_of(message_id, now)
        self._checkpoint_wal()
        return bool(cur.rowcount)

    def _checkpoint_wal(self) -> None:
        # Every reply checkpoint rewrites the message and its search-index pages; left to
        # SQLite's automatic checkpoint (1000 pages) the WAL grows to megabytes during one
        # long reply, which a nearly full disk cannot take. A passive checkpoint never
        # waits for other connections; journal_size_limit (store/db.py) then keeps the file small.
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # a busy or read-only database: the next one will do

    def heartbeat(self, message_id: int, owner: str) -> bool:
        """Renew a streaming reply's lease (the model may be silent for a while). False if
        the reply is no longer streaming under `owner`."""
        with self._conn:
            cur = self._conn.execute(
                f"UPDATE messages SET lease_heartbeat = ? WHERE id = ? AND status = '{STREAMING}'"
                " AND lease_owner = ?",
                (self._clock(), message_id, owner),
            )
        return bool(cur.rowcount)

    def spending_since(self, since: float) -> tuple[float, int]:
        """(US dollars, tokens) the replies begun since `since` used: every reply, in any
        thread, from this window, another or a pipe run."""
        row = self._conn.execute(
            "SELECT coalesce(sum(cost), 0), coalesce(sum(coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0)), 0)"
            " FROM messages WHERE role = 'assistant' AND created_at >= ?",
            (since,),
        ).fetchone()
        return float(row[0]), int(row[1])

    def resume_reply(self, message_id: int, owner: str) -> bool:
        """Take a reply cut off at the token limit back to "streaming" under `owner`'s
        lease, to continue it. Compare and set: False if it is not (or no longer) a
        finished, cut reply (continued or replaced meanwhile, here or elsewhere)."""
        now = self._clock()
        with self._conn:
            cur = self._conn.execute(
                f"UPDATE messages SET status = '{STREAMING}', lease_owner = ?, lease_heartbeat = ?, updated_at = ?"
                " WHERE id = ? AND role = 'assistant' AND status = 'done' AND finish_reason = 'length'",
                (owner, now, now, message_id),
            )
        return cur.rowcount == 1

    def set_cost(self, message_id: int, dollars: float | None) -> None:
        """What a finished reply cost (priced after its final write)."""
        with self._conn:
            self._conn.execute("UPDATE messages SET cost = ? WHERE id = ?", (dollars, message_id))

    def finish_message(
        self,
        message_id: int,
        owner: str,
        *,
        content: str,
        reasoning: str,
        status: str,
        finish_reason: str | None = None,
        error: str | None = None,
        usage: Usage | None = None,
        first_token_ms: int | None = None,
        duration_ms: int | None = None,
    ) -> str:
        """The final write of a streaming reply: its text and how it ended. Compare and
        set: the status is written only if the reply is still "streaming" under `owner`'s
        lease, so a status set meanwhile by another process (interrupted, superseded) is
        never overwritten and a recovered reply is never brought back to life. The text
        is still saved when the row is ours (more of the reply is better than less).
        Returns the status the reply has now."""
        _check_status(status)
        now = self._clock()
        with self._conn:
            cur = self._conn.execute(
                "UPDATE messages SET content = ?, reasoning = ?, status = ?, finish_reason = ?,"
                " error = ?, prompt_tokens = ?, completion_tokens = ?, usage_estimated = ?,"
                " first_token_ms = ?, duration_ms = ?, lease_owner = NULL,"
                " lease_heartbeat = NULL, updated_at = ?"
                f" WHERE id = ? AND status = '{STREAMING}' AND lease_owner = ?",
                (
                    content, reasoning, status, finish_reason, error,
                    usage.prompt_tokens if usage else None,
                    usage.completion_tokens if usage else None,
                    int(bool(usage and usage.estimated)), first_token_ms, duration_ms,
                    now, message_id, owner,
                ),
            )
            if cur.rowcount == 0:
                self._conn.execute(
                    "UPDATE messages SET content = ?, reasoning = ?, updated_at = ?"
                    " WHERE id = ? AND lease_owner = ? AND length(content) <= length(?)",
                    (content, reasoning, now, message_id, owner, content),
                )
            self._touch_thread_of(message_id, now)
            row = self._conn.execute("SELECT status FROM messages WHERE id = ?", (message_id,)).fetchone()
        self._checkpoint_wal()
        if row is None:
            raise LookupError(f"no message with id {message_id}")
        return str(row[0])

    def _touch_thread_of(self, message_id: int, now: float) -> None:
        self._conn.execute(
            "UPDATE threads SET updated_at = ? WHERE id = (SELECT thread_id FROM messages WHERE id = ?)",
            (now, message_id),
        )

    def streaming_elsewhere(self, thread_id: int, owner: str) -> bool:
        """True if a reply in this thread is being written right now by another process
        (a fresh lease that is not `owner`'s)."""
        now = self._clock()
        rows = self._conn.execute(
            f"SELECT lease_owner, lease_heartbeat FROM messages WHERE status = '{STREAMING}'"
            " AND thread_id = ?",
            (thread_id,),
        ).fetchall()
        return any(
            row["lease_owner"] != owner
            and row["lease_heartbeat"] is not None
            and now - LEASE_TTL <= row["lease_heartbeat"]
            and not owner_gone(row["lease_owner"])
            for row in rows
        )

    def data_version(self) -> int:
        """A number that changes when another connection (another process, another
        window) commits to the database: cheap change detection, polled by the UI."""
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    # Drafts

    def get_draft(self, slot: str = "composer") -> str:
        row = self._conn.execute("SELECT text FROM drafts WHERE slot = ?", (slot,)).fetchone()
        return row[0] if row else ""

    def save_draft(self, text: str, slot: str = "composer") -> None:
        """Keep `text` as the unsent draft; an empty text removes it."""
        with self._conn:
            if text:
                self._conn.execute(
                    "INSERT INTO drafts (slot, text, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (slot) DO UPDATE SET text = excluded.text, updated_at = excluded.updated_at",
                    (slot, text, self._clock()),
                )
            else:
                self._conn.execute("DELETE FROM drafts WHERE slot = ?", (slot,))

    # History: search, filtering, jump-to-message, superseded versions, import

    def search(self, query: str, limit: int = 50, offset: int = 0) -> list[SearchHit]:
        """User and assistant messages containing every word of `query`, newest first.

        Case-insensitive substring match per whitespace-separated term; see store/search.py.
        """
        return search_messages(self._conn, query, limit, offset)

    def search_page(
        self,
        query: str,
        limit: int = 50,
        before: tuple[float, int] | None = None,
        budget_s: float | None = PAGE_BUDGET_S,
    ) -> SearchPage:
        """Like `search`, but bounded in time: up to `limit` hits older than `before`
        ((created_at, id)), searching for about `budget_s` seconds at most (None: as long
        as it takes). If the page's `next_before` is not None, pass it back to go on."""
        return search_page(self._conn, query, limit, before, budget_s)

    def filter_threads(self, text: str, limit: int = 200, offset: int = 0) -> list[Thread]:
        """Threads whose title contains `text` (case-insensitive), most recent activity
        first, `limit` of them from `offset` (a page). Blank `text` lists every thread."""
        text = text.strip()
        if not text:
            return self.list_threads(limit=limit, offset=offset)
        rows = self._conn.execute(
            f"SELECT {_THREAD_COLUMNS} FROM threads"
            f" WHERE title LIKE ? ESCAPE '{LIKE_ESCAPE}' ORDER BY updated_at DESC, id DESC"
            " LIMIT ? OFFSET ?",
            (like_contains(text), limit, offset),
        )
        return [_thread(row) for row in rows]

    def thread_count(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM threads").fetchone()[0])

    def message_position(self, thread_id: int, message_id: int) -> int:
        """The index of a message among its thread's non-system messages (0 = first), for
        jumping to a search hit. Raises LookupError if the message is not in the thread.

        Counts along the (thread_id, id) index, so it costs the messages before it only.
        """
        found = self._conn.execute(
            "SELECT 1 FROM messages WHERE id = ? AND thread_id = ?", (message_id, thread_id)
        ).fetchone()
        if found is None:
            raise LookupError(f"no message {message_id} in thread {thread_id}")
        return self.count_before(thread_id, message_id)

    def supersede(self, message_id: int) -> None:
        """Mark a reply or prompt as replaced (by regenerate or edit). Its text is kept and
        stays searchable; prompt building no longer sends it. Raises LookupError if missing,
        and BusyElsewhereError for a reply another process is still writing (a fresh
        lease): replacing it would leave two live replies to one prompt."""
        now = self._clock()
        with self._conn:
            cur = self._conn.execute(
                "UPDATE messages SET prior_status = CASE WHEN status = 'superseded' THEN prior_status"
                " ELSE status END, status = ?, updated_at = ? WHERE id = ? AND NOT"
                f" (status = '{STREAMING}' AND lease_heartbeat IS NOT NULL AND lease_heartbeat >= ?)",
                (SUPERSEDED, now, message_id, now - LEASE_TTL),
            )
            if cur.rowcount == 0:
                if self._conn.execute("SELECT 1 FROM messages WHERE id = ?", (message_id,)).fetchone():
                    raise BusyElsewhereError(
                        "A reply is still being written in another window",
                        "wait for it to finish (or stop it there), then try again.",
                    )
                raise LookupError(f"no message with id {message_id}")
            self._touch_thread_of(message_id, now)

    def pick_version(
        self, thread_id: int, restore: list[int], supersede: list[int], prompts: list[int] | None = None,
    ) -> None:
        """Make another version of a turn the live one, in one transaction: `restore` get
        back the status they had before they were superseded, `supersede` are set aside
        (core/versions.py plans both). Refused (BusyElsewhereError) while any of them is
        still streaming: a live reply cannot be swapped out."""
        ids = [*restore, *supersede]
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            streaming = self._conn.execute(
                f"SELECT 1 FROM messages WHERE id IN ({marks}) AND status = '{STREAMING}'", ids
            ).fetchone()
            if streaming:
                raise BusyElsewhereError(
                    "A reply is still being written",
                    "wait for it to finish (or stop it), then pick a version.",
                )
            # The turn's later prompt versions name its first (older rows may not yet).
            for message_id in (prompts or [])[1:]:
                self._conn.execute("UPDATE messages SET version_of = ? WHERE id = ? AND thread_id = ?",
                                   (prompts[0], message_id, thread_id))  # type: ignore[index]
            for message_id in restore:
                self._conn.execute(
                    "UPDATE messages SET status = COALESCE(prior_status, 'done'), prior_status = NULL"
                    f" WHERE id = ? AND thread_id = ? AND status = '{SUPERSEDED}'", (message_id, thread_id),
                )
            for message_id in supersede:
                self._conn.execute(
                    "UPDATE messages SET prior_status = status, status = ?"
                    f" WHERE id = ? AND thread_id = ? AND status != '{SUPERSEDED}'",
                    (SUPERSEDED, message_id, thread_id),
                )

    def import_thread(
        self,
        *,
        title: str,
        persona: str,
        model: str,
        created_at: float,
        updated_at: float,
        messages: Sequence[Message],
        source: str | None = None,
    ) -> Thread | None:
        """Add a whole thread with its own timestamps, in one transaction.

        Unlike add_message, nothing is stamped "now" and titles are taken as given, so an
        imported conversation keeps its place in time. `id` and `thread_id` of the given
        messages are ignored. With a `source`, a thread already imported from it is left
        alone and None is returned, which makes importing the same file twice harmless.
        """
        for message in messages:
            _check_role(message.role)
            _check_status(message.status)
        with self._conn:
            if source is not None and self._conn.execute(
                "SELECT 1 FROM threads WHERE source = ?", (source,)
            ).fetchone():
                return None
            try:
                cur = self._conn.execute(
                    "INSERT INTO threads (title, persona, model, created_at, updated_at, source)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (title, persona, model, created_at, updated_at, source),
                )
            except sqlite3.IntegrityError:
                return None  # another process imported the same source just now
            thread_id = cur.lastrowid
            assert thread_id is not None
            # One statement per row, but one transaction: the FTS triggers fire per row.
            self._conn.executemany(
                "INSERT INTO messages (thread_id, role, content, reasoning, status, model,"
                " finish_reason, error, prompt_tokens, completion_tokens, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        thread_id, m.role, m.content, m.reasoning, m.status, m.model,
                        m.finish_reason, m.error,
                        m.usage.prompt_tokens if m.usage else None,
                        m.usage.completion_tokens if m.usage else None,
                        m.created_at, m.created_at,
                    )
                    for m in messages
                ],
            )
        return Thread(thread_id, title, persona, model, created_at, updated_at)
