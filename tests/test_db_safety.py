"""The database is tuichat's own, and private: another program's SQLite file, a database
from a newer tuichat or a file that is not a database is refused and left byte for byte
unchanged; a read-only database opens read-only; a damaged one is named with how to
recover it; what tuichat creates is readable by the user alone.

    pytest tests/test_db_safety.py -q
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tuichat.core.errors import DatabaseRefusedError, StorageError
from tuichat.core.models import Persona
from tuichat.session import ChatSession
from tuichat.store import Store
from tuichat.store.async_store import AsyncStore

PERSONA = Persona(name="tester", description="d", system_prompt="s")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tuichat(*args: str, env_home: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env.update(XDG_CONFIG_HOME=str(env_home / "config"), XDG_DATA_HOME=str(env_home / "data"),
               OPENAI_API_KEY="sk-test-key-123456")
    return subprocess.run([sys.executable, "-m", "tuichat", *args], capture_output=True, text=True,
                          timeout=60, env=env, input=stdin)


def foreign(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO recipes (name) VALUES ('bread')")
    conn.commit()
    conn.close()


def newer(path: Path) -> None:
    with Store(path) as store:
        store.create_thread("p", "m")
        store._conn.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', 0)")
        store._conn.commit()


def not_a_database(path: Path) -> None:
    path.write_text("these are my notes, not a database\n" * 50)


REFUSED = {
    "foreign": (foreign, "not a tuichat database"),
    "newer": (newer, "made by a newer tuichat"),
    "not_a_database": (not_a_database, "not a SQLite database"),
}


@pytest.mark.parametrize("command", [["threads"], ["-p", "hi", "--base-url", "http://127.0.0.1:9/v1"],
                                     ["export", "1"]], ids=["threads", "pipe", "export"])
@pytest.mark.parametrize("kind", list(REFUSED))
def test_a_file_that_is_not_ours_is_refused_and_left_untouched(tmp_path, kind, command):
    make, words = REFUSED[kind]
    path = tmp_path / "their.db"
    make(path)
    before = digest(path)
    siblings = sorted(p.name for p in tmp_path.iterdir())
    result = tuichat(*command, "--db", str(path), env_home=tmp_path)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert digest(path) == before  # byte for byte
    assert sorted(p.name for p in tmp_path.iterdir() if p.name not in ("config", "data")) == siblings  # no -wal, -shm


def test_opening_a_foreign_database_in_process_adds_no_table_and_no_wal(tmp_path):
    path = tmp_path / "their.db"
    foreign(path)
    with pytest.raises(DatabaseRefusedError):
        Store(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["recipes"]


def filled(path: Path, messages: int = 3) -> int:
    with Store(path) as store:
        thread = store.create_thread("tester", "m")
        for i in range(messages):
            store.add_message(thread.id, "user" if i % 2 == 0 else "assistant", f"message {i} about sqlite " * 40)
        return thread.id


async def test_a_read_only_database_reads_and_searches_and_says_why_it_cannot_send(tmp_path):
    path = tmp_path / "ro.db"
    thread_id = filled(path)
    before = digest(path)
    store = Store(path, read_only=True)
    assert store.read_only
    assert [t.id for t in store.list_threads()] == [thread_id]
    assert len(store.messages(thread_id)) == 3
    assert store.search("sqlite")
    db = AsyncStore(store)
    session = ChatSession(db, provider=None)  # type: ignore[arg-type]  # never reached
    thread = store.get_thread(thread_id)
    with pytest.raises(StorageError) as caught:
        await session.save_prompt(thread, "hello")
    assert "read-only" in caught.value.title
    with pytest.raises(StorageError) as caught:
        await db.save_draft("a draft")
    assert caught.value.title == "The database is read-only"
    db.close()
    assert digest(path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_database_in_a_read_only_folder_opens_read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "h.db"
    filled(path)
    os.chmod(path, 0o444)
    os.chmod(folder, 0o555)
    try:
        result = tuichat("threads", "--db", str(path), env_home=tmp_path)
        assert result.returncode == 0 and "message 0" in result.stdout
        result = tuichat("-p", "hi", "--db", str(path), "--base-url", "http://127.0.0.1:9/v1", env_home=tmp_path)
        assert result.returncode == 1 and "read-only" in result.stderr
    finally:
        os.chmod(folder, 0o755)


def corrupt(path: Path) -> int:
    thread_id = filled(path, messages=200)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:  # garbage over the pages in the middle: message text and index
        for page in range(pages // 3, 2 * pages // 3):
            fh.seek(page * page_size)
            fh.write(b"\xde\xad\xbe\xef" * (page_size // 4))
    return thread_id


def test_a_damaged_database_names_the_file_and_how_to_recover_it(tmp_path):
    path = tmp_path / "broken.db"
    thread_id = corrupt(path)
    result = tuichat("export", str(thread_id), "--db", str(path), env_home=tmp_path)
    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr and "unexpected error" not in result.stderr
    assert "damaged" in result.stderr and ".recover" in result.stderr and str(path) in result.stderr


async def test_a_damaged_page_is_a_storage_error_the_app_can_show(tmp_path):
    path = tmp_path / "broken.db"
    thread_id = corrupt(path)
    try:
        store = Store(path)
    except DatabaseRefusedError as exc:  # the damage reached the schema: named at open
        assert ".recover" in exc.detail
        return
    db = AsyncStore(store)
    with pytest.raises(StorageError) as caught:
        for _ in range(3):
            await db.messages(thread_id)
            await db.search("sqlite")
    db.close()
    assert caught.value.title == "The database is damaged"
    assert ".recover" in caught.value.detail and str(path) in caught.value.detail


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_history_is_private_database_wal_and_folders(tmp_path, umask_022):
    data = tmp_path / "new" / "data" / "tuichat"
    path = data / "tuichat.db"
    with Store(path) as store:
        store.create_thread("p", "m")
        wal, shm = path.with_name("tuichat.db-wal"), path.with_name("tuichat.db-shm")
        assert wal.exists() and shm.exists()
        assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    assert mode(data) == 0o700 and mode(data.parent) == 0o700 and mode(tmp_path / "new") == 0o700


def test_crash_log_and_exports_are_private(tmp_path, umask_022, monkeypatch):
    from tuichat import paths
    from tuichat.cli import common

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log = common.write_crash_log()
    assert log is not None and mode(log) == 0o600 and mode(paths.data_dir()) == 0o700
    db = tmp_path / "h.db"
    thread_id = filled(db)
    out = tmp_path / "export.md"
    result = tuichat("export", str(thread_id), "--db", str(db), "-o", str(out), env_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert mode(out) == 0o600 and "message 0" in out.read_text()


def test_export_to_a_fifo_is_refused_without_blocking(tmp_path):
    db = tmp_path / "h.db"
    thread_id = filled(db)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = tuichat("export", str(thread_id), "--db", str(db), "-o", str(fifo), env_home=tmp_path)
    assert result.returncode == 2 and "not a regular file" in result.stderr
