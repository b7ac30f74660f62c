"""The SQLite store: schema, migrations, connection settings and the Store API."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from tuichat.core.models import Usage
from tuichat.store import Store
from tuichat.store.db import connect
from tuichat.store.migrations import MIGRATIONS, applied, migrate


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    # A subdirectory that does not exist yet: connect() must create it.
    return tmp_path / "data" / "tuichat.db"


@pytest.fixture
def clock():
    # Strictly increasing timestamps, so ordering tests do not depend on clock resolution.
    ticks = itertools.count(1000.0)
    return lambda: next(ticks)


@pytest.fixture
def store(db_file: Path, clock) -> Store:
    with Store(db_file, clock=clock) as s:
        yield s


# Schema and migrations


def test_every_migration_applies_and_is_recorded_in_order(db_file: Path) -> None:
    conn = connect(db_file)
    names = [fn.__name__ for fn in MIGRATIONS]
    assert names[0] == "m001_initial"
    assert applied(conn) == names
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"threads", "messages", "_migrations"} <= tables
    stamps = [r["applied_at"] for r in conn.execute("SELECT applied_at FROM _migrations")]
    assert all(isinstance(t, float) for t in stamps)


def test_migrating_twice_is_a_no_op(db_file: Path) -> None:
    conn = connect(db_file)
    before = conn.execute("SELECT name, applied_at FROM _migrations ORDER BY rowid").fetchall()
    assert migrate(conn) == []
    after = conn.execute("SELECT name, applied_at FROM _migrations ORDER BY rowid").fetchall()
    assert [tuple(r) for r in after] == [tuple(r) for r in before]
    conn.close()
    # A fresh connection to the same file must not re-run m001 (CREATE TABLE would fail).
    assert applied(connect(db_file)) == [fn.__name__ for fn in MIGRATIONS]


def test_only_missing_migrations_run(db_file: Path, monkeypatch) -> None:
    connect(db_file).close()
    calls: list[str] = []

    def m999_extra(conn: sqlite3.Connection) -> None:
        calls.append("m999_extra")
        conn.execute("CREATE TABLE extra (x)")

    monkeypatch.setattr("tuichat.store.migrations.MIGRATIONS", [*MIGRATIONS, m999_extra])
    conn = connect(db_file)
    assert calls == ["m999_extra"]
    assert applied(conn)[-1] == "m999_extra"


def test_failed_migration_rolls_back_and_is_not_recorded(db_file: Path, monkeypatch) -> None:
    connect(db_file).close()

    def m999_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr("tuichat.store.migrations.MIGRATIONS", [*MIGRATIONS, m999_broken])
    with pytest.raises(RuntimeError):
        connect(db_file)
    conn = sqlite3.connect(db_file)
    assert conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half_done'").fetchone() is None
    assert "m999_broken" not in applied(conn)


def test_applied_on_a_blank_database_is_empty() -> None:
    assert applied(sqlite3.connect(":memory:")) == []


def test_file_connection_settings(db_file: Path) -> None:
    conn = connect(db_file)
    assert db_file.exists()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert isinstance(conn.execute("SELECT 1 AS one").fetchone(), sqlite3.Row)


def test_messages_index_exists_and_is_used(db_file: Path) -> None:
    conn = connect(db_file)
    indexes = {r["name"] for r in conn.execute("PRAGMA index_list(messages)")}
    assert "messages_thread_id" in indexes
    columns = [r["name"] for r in conn.execute("PRAGMA index_info(messages_thread_id)")]
    assert columns == ["thread_id", "id"]
    plan = " ".join(
        r["detail"]
        for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE thread_id = ? ORDER BY id", (1,)
        )
    )
    assert "USING INDEX messages_thread_id" in plan
    assert "TEMP B-TREE" not in plan  # the index also gives the order


def test_thread_list_and_recovery_use_indexes(store: Store) -> None:
    conn = store._conn

    def plan(sql: str) -> str:
        return " ".join(r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))

    listing = plan("SELECT * FROM threads ORDER BY updated_at DESC, id DESC LIMIT 10")
    assert "threads_updated_at" in listing and "TEMP B-TREE" not in listing
    recovery = plan("UPDATE messages SET status = 'stopped' WHERE status = 'streaming'")
    assert "messages_streaming" in recovery


def test_role_check_constraint(store: Store) -> None:
    thread = store.create_thread("default", "m")
    with pytest.raises(sqlite3.IntegrityError):
        with store._conn:
            store._conn.execute(
                "INSERT INTO messages (thread_id, role, created_at, updated_at)"
                " VALUES (?, 'tool', 0, 0)",
                (thread.id,),
            )


def test_memory_database_works() -> None:
    with Store(":memory:") as store:
        thread = store.create_thread("default", "llama3")
        store.add_message(thread.id, "user", "hi")
        assert store.message_count(thread.id) == 1
        assert applied(store._conn) == [fn.__name__ for fn in MIGRATIONS]


# Threads


def test_create_and_get_thread(store: Store) -> None:
    thread = store.create_thread("coder", "qwen2.5", title="Refactor")
    assert store.get_thread(thread.id) == thread
    assert (thread.persona, thread.model, thread.title) == ("coder", "qwen2.5", "Refactor")
    assert thread.created_at == thread.updated_at
    assert store.get_thread(thread.id + 1) is None


def test_list_threads_newest_first_after_new_message(store: Store) -> None:
    older = store.create_thread("default", "m")
    newer = store.create_thread("default", "m")
    assert [t.id for t in store.list_threads()] == [newer.id, older.id]
    assert store.latest_thread().id == newer.id
    store.add_message(older.id, "user", "back to this one")
    assert [t.id for t in store.list_threads()] == [older.id, newer.id]
    assert store.latest_thread().id == older.id


def test_list_threads_ties_go_to_higher_id(tmp_path: Path) -> None:
    with Store(tmp_path / "t.db", clock=lambda: 5.0) as store:
        ids = [store.create_thread("default", "m").id for _ in range(3)]
        assert [t.id for t in store.list_threads()] == ids[::-1]


def test_list_threads_limit_and_offset(store: Store) -> None:
    ids = [store.create_thread("default", "m").id for _ in range(5)]
    assert [t.id for t in store.list_threads(limit=2)] == [ids[4], ids[3]]
    assert [t.id for t in store.list_threads(limit=2, offset=2)] == [ids[2], ids[1]]


def test_latest_thread_of_empty_store(store: Store) -> None:
    assert store.latest_thread() is None
    assert store.list_threads() == []


def test_set_title_and_model(store: Store) -> None:
    thread = store.create_thread("default", "m1")
    store.set_title(thread.id, "Renamed")
    store.set_model(thread.id, "m2")
    got = store.get_thread(thread.id)
    assert (got.title, got.model) == ("Renamed", "m2")
    # Renaming is not activity: the list order must not change because of it.
    assert got.updated_at == thread.updated_at
    with pytest.raises(LookupError):
        store.set_title(thread.id + 1, "x")


def test_delete_thread_cascades_to_messages(store: Store) -> None:
    keep = store.create_thread("default", "m")
    gone = store.create_thread("default", "m")
    store.add_message(keep.id, "user", "stay")
    store.add_message(gone.id, "user", "a")
    store.add_message(gone.id, "assistant", "b")
    store.delete_thread(gone.id)
    assert store.get_thread(gone.id) is None
    assert store._conn.execute(
        "SELECT count(*) FROM messages WHERE thread_id = ?", (gone.id,)
    ).fetchone()[0] == 0
    assert [m.content for m in store.messages(keep.id)] == ["stay"]


# Titles


@pytest.mark.parametrize(
    ("content", "title"),
    [
        ("How do I sort a dict?\nby value, descending", "How do I sort a dict?"),
        ("\n\n   \n  Leading blanks   skipped  \nsecond", "Leading blanks skipped"),
        ("x" * 200, "x" * 79 + "…"),
    ],
)
def test_title_from_first_user_message(store: Store, content: str, title: str) -> None:
    thread = store.create_thread("default", "m")
    store.add_message(thread.id, "system", "You are helpful.")
    assert store.get_thread(thread.id).title == ""
    store.add_message(thread.id, "user", content)
    assert store.get_thread(thread.id).title == title
    store.add_message(thread.id, "user", "a later question")
    assert store.get_thread(thread.id).title == title


def test_explicit_title_is_not_overwritten(store: Store) -> None:
    thread = store.create_thread("default", "m", title="Mine")
    store.add_message(thread.id, "user", "hello")
    assert store.get_thread(thread.id).title == "Mine"


def test_blank_user_message_leaves_title_for_the_next(store: Store) -> None:
    thread = store.create_thread("default", "m")
    store.add_message(thread.id, "user", "   \n")
    store.add_message(thread.id, "user", "real question")
    assert store.get_thread(thread.id).title == "real question"


# Messages


def test_add_message_and_read_back(store: Store) -> None:
    thread = store.create_thread("default", "m")
    user = store.add_message(thread.id, "user", "hi")
    reply = store.add_message(thread.id, "assistant", "", status="streaming", model="llama3")
    assert [m.id for m in store.messages(thread.id)] == [user.id, reply.id]
    assert store.messages(thread.id) == [user, reply]
    assert reply.status == "streaming" and reply.model == "llama3" and reply.usage is None
    assert store.message_count(thread.id) == 2
    assert store.get_thread(thread.id).updated_at == reply.created_at > thread.updated_at


def test_add_message_validates(store: Store) -> None:
    thread = store.create_thread("default", "m")
    with pytest.raises(ValueError):
        store.add_message(thread.id, "tool", "x")
    with pytest.raises(ValueError):
        store.add_message(thread.id, "user", "x", status="paused")
    with pytest.raises(LookupError):
        store.add_message(thread.id + 1, "user", "x")
    assert store.message_count(thread.id) == 0


def test_update_message_changes_only_given_fields(store: Store) -> None:
    thread = store.create_thread("default", "m")
    reply = store.add_message(thread.id, "assistant", "", status="streaming", model="m")
    store.update_message(reply.id, content="Hel", reasoning="thinking")
    store.update_message(reply.id, content="Hello")
    got = store.messages(thread.id)[0]
    assert (got.content, got.reasoning, got.status) == ("Hello", "thinking", "streaming")
    assert (got.finish_reason, got.error, got.usage, got.model) == (None, None, None, "m")

    store.update_message(
        reply.id, status="done", finish_reason="stop", usage=Usage(12, 5, 17)
    )
    got = store.messages(thread.id)[0]
    assert (got.content, got.reasoning) == ("Hello", "thinking")
    assert (got.status, got.finish_reason, got.usage) == ("done", "stop", Usage(12, 5, 17))
    assert got.created_at == reply.created_at


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("content", "new text"),
        ("reasoning", "new thoughts"),
        ("status", "stopped"),
        ("finish_reason", "length"),
        ("error", "new error"),
        ("usage", Usage(7, 8, 15)),
    ],
)
def test_update_message_one_field_leaves_every_other(store: Store, field: str, value) -> None:
    thread = store.create_thread("default", "m")
    msg = store.add_message(thread.id, "assistant", "", status="streaming", model="m")
    store.update_message(
        msg.id, content="c", reasoning="r", status="error", finish_reason="stop",
        error="e", usage=Usage(1, 2, 3),
    )
    before = store.messages(thread.id)[0]
    store.update_message(msg.id, **{field: value})
    after = store.messages(thread.id)[0]
    assert getattr(after, field) == value
    setattr(after, field, getattr(before, field))
    assert after == before


def test_update_message_with_no_fields_writes_nothing(store: Store) -> None:
    thread = store.create_thread("default", "m")
    msg = store.add_message(thread.id, "assistant", "x")
    changes = store._conn.total_changes
    store.update_message(msg.id)
    assert store._conn.total_changes == changes
    assert store.get_thread(thread.id).updated_at == msg.created_at


def test_update_message_bumps_message_and_thread(store: Store) -> None:
    first = store.create_thread("default", "m")
    reply = store.add_message(first.id, "assistant", "", status="streaming")
    second = store.create_thread("default", "m")
    store.update_message(reply.id, content="more")
    assert store.latest_thread().id == first.id
    sql = "SELECT updated_at FROM messages WHERE id = ?"
    row = store._conn.execute(sql, (reply.id,)).fetchone()
    assert row[0] > second.created_at


def test_update_message_validates(store: Store) -> None:
    thread = store.create_thread("default", "m")
    msg = store.add_message(thread.id, "assistant", "x")
    with pytest.raises(ValueError):
        store.update_message(msg.id, status="paused")
    with pytest.raises(LookupError):
        store.update_message(msg.id + 1, content="y")
    assert store.messages(thread.id)[0].status == "done"


def test_update_message_error_keeps_text(store: Store) -> None:
    thread = store.create_thread("default", "m")
    reply = store.add_message(thread.id, "assistant", "partial", status="streaming")
    store.update_message(reply.id, status="error", error="connection reset")
    got = store.messages(thread.id)[0]
    assert (got.content, got.status, got.error) == ("partial", "error", "connection reset")


def test_recover_streaming(store: Store) -> None:
    thread = store.create_thread("default", "m")
    store.add_message(thread.id, "user", "q")
    live = store.add_message(thread.id, "assistant", "", status="streaming")
    store.update_message(live.id, content="half an ans")
    other = store.create_thread("default", "m")
    store.add_message(other.id, "assistant", "", status="streaming")
    store.add_message(other.id, "assistant", "stopped already", status="stopped")

    assert store.recover_streaming() == 2  # no lease at all: nobody is writing them
    statuses = [m.status for t in (thread, other) for m in store.messages(t.id)]
    assert statuses == ["done", "interrupted", "interrupted", "stopped"]
    assert store.messages(thread.id)[1].content == "half an ans"
    assert store.recover_streaming() == 0


# Persistence


def test_reopening_the_file_shows_the_same_data(db_file: Path) -> None:
    with Store(db_file) as store:
        thread = store.create_thread("coder", "qwen")
        store.add_message(thread.id, "user", "Why?\nBecause.")
        reply = store.add_message(thread.id, "assistant", "", status="streaming")
        store.update_message(reply.id, content="Because", status="done", usage=Usage(3, 1, 4))
        threads, messages = store.list_threads(), store.messages(thread.id)
    with Store(db_file) as store:
        assert store.list_threads() == threads
        assert store.messages(thread.id) == messages
        assert store.get_thread(thread.id).title == "Why?"


def test_draft_round_trip_and_clear(db_file: Path, clock) -> None:
    with Store(db_file, clock=clock) as store:
        assert store.get_draft() == ""
        store.save_draft("書きかけの\nmessage")
        store.save_draft("書きかけの\nmessage, longer")
    with Store(db_file, clock=clock) as store:  # survives closing the file
        assert store.get_draft() == "書きかけの\nmessage, longer"
        store.save_draft("")
        assert store.get_draft() == ""
        assert store._conn.execute("SELECT count(*) FROM drafts").fetchone()[0] == 0


def test_recent_messages_reads_the_live_tail_in_order(store: Store) -> None:
    from tuichat.core.models import SUPERSEDED

    thread = store.create_thread("default", "m")
    store.add_message(thread.id, "system", "note")
    ids = [store.add_message(thread.id, role, f"m{i}").id
           for i, role in enumerate(["user", "assistant"] * 5)]
    store.update_message(ids[-1], status=SUPERSEDED)
    tail = store.recent_messages(thread.id, 3)
    assert [m.content for m in tail] == ["m6", "m7", "m8"]  # m9 superseded, oldest first
    assert [m.content for m in store.recent_messages(thread.id, 100)][0] == "m0"  # no system
