"""No reply is lost to a storage fault: the real send lifecycle (openai SDK against the fake
server, real SQLite) with the disk filling up, another process holding the lock past the
timeout, or the lock held through the whole reply. The reply keeps streaming, the failure
is reported once in plain words, the write is retried, and the text is never lost.

    pytest tests/test_storage_faults.py -q    # N passed = storage faults survived
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from fake_openai import Reply
from tuichat.core.errors import StorageError
from tuichat.core.models import DONE, Persona
from tuichat.providers.openai import OpenAIProvider
from tuichat.session import ChatSession
from tuichat.store import Store
from tuichat.store.async_store import AsyncStore

PERSONA = Persona(name="tester", description="d", system_prompt="You are a test.")
LONG = "".join(f"Line {i}: the quick brown fox jumps over the lazy dog. 日本語のテキスト。\n" for i in range(120))


class Sink:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.errors: list[str] = []
        self.error_seen = asyncio.Event()

    def on_text(self, text: str) -> None:
        self.text.append(text)

    def on_reasoning(self, text: str) -> None:
        pass

    def on_storage_error(self, message: str) -> None:
        self.errors.append(message)
        self.error_seen.set()


@pytest.fixture
async def provider(fake_server):
    provider = OpenAIProvider(api_key="sk-test-key-123456", base_url=fake_server.base_url, max_retries=0, timeout=10)
    yield provider
    await provider.aclose()


def reread(path, thread_id):
    with Store(path) as store:
        return store.messages(thread_id)


async def test_disk_full_mid_reply_keeps_streaming_reports_once_and_saves_when_space_returns(
    tmp_path, fake_server, provider
):
    # SQLite's max_page_count is a disk that is full: every write that needs a new page
    # fails with SQLITE_FULL, exactly as on a full tmpfs.
    path = tmp_path / "full.db"
    store = Store(path)
    thread = store.create_thread("tester", "m")
    db = AsyncStore(store)
    session = ChatSession(db, provider, checkpoint_seconds=0.01)
    fake_server.script(Reply.text(LONG, chunk_size=40, delay=0.002))
    sink = Sink()
    await session.save_prompt(thread, "write a lot")
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 1}")

    async def free_space_after_the_report() -> None:
        await sink.error_seen.wait()
        store._conn.execute("PRAGMA max_page_count = 1073741823")  # space is back

    freer = asyncio.create_task(free_space_after_the_report())
    reply = await session.reply(thread, PERSONA, sink)
    await asyncio.wait_for(freer, 30)
    db.detach()
    assert "".join(sink.text) == LONG  # the stream never stopped
    assert len(sink.errors) == 1 and "disk is full" in sink.errors[0].lower()
    assert reply.content == LONG and reply.status == DONE
    stored = reread(path, thread.id)[-1]
    assert (stored.content, stored.status) == (LONG, DONE)
    store.close()


async def test_disk_full_through_the_whole_reply_returns_the_text_for_copying(tmp_path, fake_server, provider):
    path = tmp_path / "full.db"
    store = Store(path)
    thread = store.create_thread("tester", "m")
    db = AsyncStore(store)
    session = ChatSession(db, provider, checkpoint_seconds=0.01)
    fake_server.script(Reply.text(LONG, chunk_size=40))
    sink = Sink()
    await session.save_prompt(thread, "write a lot")
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    reply = await session.reply(thread, PERSONA, sink)
    db.detach()
    assert "".join(sink.text) == LONG
    assert reply.content == LONG  # still in hand: the UI can copy or export it
    assert len(sink.errors) == 1  # said once, not per checkpoint
    store.close()


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
print("released", flush=True)
"""


class LockHolder:
    """Another process holding the database's write lock until told to let go."""

    def __init__(self, path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.stdout.readline()
        self.proc.wait(30)


async def test_lock_held_by_another_process_past_the_timeout(tmp_path, fake_server, provider):
    path = tmp_path / "locked.db"
    store = Store(path)
    store._conn.execute("PRAGMA busy_timeout = 200")
    thread = store.create_thread("tester", "m")
    db = AsyncStore(store)
    session = ChatSession(db, provider, checkpoint_seconds=0.01)
    await session.save_prompt(thread, "go")
    fake_server.script(Reply.text(LONG, chunk_size=40, delay=0.002))
    sink = Sink()
    # The reply's row is added before the lock is taken; the checkpoints meet the lock.
    holder = None
    real_add = store.add_message

    def add_then_lock(*args, **kwargs):
        nonlocal holder
        message = real_add(*args, **kwargs)
        holder = LockHolder(path)
        return message

    store.add_message = add_then_lock  # type: ignore[method-assign]

    async def release_after_the_report() -> None:
        await sink.error_seen.wait()
        await asyncio.to_thread(holder.release)

    releaser = asyncio.create_task(release_after_the_report())
    try:
        reply = await session.reply(thread, PERSONA, sink)
        await asyncio.wait_for(releaser, 30)
    finally:
        if holder is not None:
            holder.release()
    db.detach()
    assert "".join(sink.text) == LONG
    assert len(sink.errors) == 1 and "busy" in sink.errors[0].lower()
    assert reply.status == DONE
    stored = reread(path, thread.id)[-1]
    assert (stored.content, stored.status) == (LONG, DONE)
    store.close()


async def test_a_locked_database_is_a_plain_storage_error_not_a_sqlite_one(tmp_path):
    path = tmp_path / "locked.db"
    store = Store(path)
    store._conn.execute("PRAGMA busy_timeout = 100")
    db = AsyncStore(store)
    holder = LockHolder(path)
    try:
        with pytest.raises(StorageError) as caught:
            await db.create_thread("p", "m")
    finally:
        holder.release()
    db.close()
    assert caught.value.title == "The database is busy"
    assert str(path) in caught.value.detail


async def test_lone_surrogates_from_the_server_never_crash_a_write(tmp_path, fake_server, provider):
    path = tmp_path / "s.db"
    store = Store(path)
    thread = store.create_thread("tester", "m")
    db = AsyncStore(store)
    fake_server.script(Reply(chunks=["before ", "\ud800", " after"]))
    reply = await ChatSession(db, provider).send(thread, PERSONA, "q \udcff", Sink())
    db.detach()
    rows = reread(path, thread.id)
    assert rows[0].content == "q \ufffd"
    assert rows[1].content == "before \ufffd after" and rows[1].status == DONE == reply.status
    store.close()


async def test_the_wal_stays_small_during_a_long_reply(tmp_path, fake_server, provider):
    path = tmp_path / "wal.db"
    store = Store(path)
    thread = store.create_thread("tester", "m")
    db = AsyncStore(store)
    session = ChatSession(db, provider, checkpoint_seconds=0.005)
    text = LONG * 3
    fake_server.script(Reply.text(text, chunk_size=20, delay=0.001))
    largest = 0
    wal = path.with_name(path.name + "-wal")

    class Watch(Sink):
        def on_text(self, piece: str) -> None:
            nonlocal largest
            super().on_text(piece)
            if wal.exists():
                largest = max(largest, wal.stat().st_size)

    await session.send(thread, PERSONA, "long please", Watch())
    db.detach()
    assert reread(path, thread.id)[-1].content == text
    # Without checkpoints the WAL grows past a megabyte for this reply (hundreds of
    # rewrites of the message and its index pages).
    assert largest < 1_000_000, largest
    # After the reply it stays bounded too. (Not held to journal_size_limit: the file is
    # only cut back when a checkpoint resets it, and a busy machine may end the reply
    # between a checkpoint and that reset.)
    assert wal.stat().st_size < 1_000_000
    store.close()
