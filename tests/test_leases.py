"""Many processes, one database: a reply streamed by a live process is never taken for
abandoned by another, a dead writer's reply is recovered as "interrupted", a final write
never overwrites a status set meanwhile, and concurrent pipe runs lose nothing.

    pytest tests/test_leases.py -q
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_openai import Reply
from tuichat.core.errors import BusyElsewhereError
from tuichat.core.models import DONE, INTERRUPTED, STREAMING, SUPERSEDED, Persona
from tuichat.providers.openai import OpenAIProvider
from tuichat.session import ChatSession
from tuichat.store import Store
from tuichat.store.async_store import AsyncStore
from tuichat.store.leases import LEASE_TTL, new_owner, owner_gone

SRC = str(Path(__file__).resolve().parents[1] / "src")
PERSONA = Persona(name="tester", description="d", system_prompt="You are a test.")

# Another process that starts a streaming reply under its own lease, renews the lease
# while it lives, and finishes the reply when told to (or is killed).
WRITER = """
import sys, time, threading
sys.path.insert(0, sys.argv[2])
from tuichat.store import Store
from tuichat.store.leases import new_owner
store = Store(sys.argv[1])
owner = new_owner()
thread = store.create_thread("tester", "m")
store.add_message(thread.id, "user", "question")
reply = store.add_message(thread.id, "assistant", "", status="streaming", lease=owner)
store.checkpoint(reply.id, owner, "half an answer", "")
print(thread.id, reply.id, flush=True)
sys.stdin.readline()
print(store.finish_message(reply.id, owner, content="half an answer, and the rest", reasoning="", status="done"), flush=True)
"""


class Writer:
    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), SRC], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.thread_id, self.reply_id = map(int, self.proc.stdout.readline().split())

    def finish(self) -> str:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        status = self.proc.stdout.readline().strip()
        self.proc.wait(30)
        return status

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(30)


def status_of(store: Store, thread_id: int) -> list[tuple[str, str]]:
    return [(m.content, m.status) for m in store.messages(thread_id) if m.role == "assistant"]


def test_another_process_starting_leaves_a_live_reply_alone(tmp_path):
    path = tmp_path / "t.db"
    Store(path).close()
    writer = Writer(path)
    try:
        with Store(path) as second:  # a second window starting up
            assert second.recover_streaming() == 0
            assert status_of(second, writer.thread_id) == [("half an answer", STREAMING)]
        assert writer.finish() == DONE
    finally:
        if writer.proc.poll() is None:
            writer.kill()
    with Store(path) as store:
        assert status_of(store, writer.thread_id) == [("half an answer, and the rest", DONE)]


def test_a_dead_writers_reply_is_recovered_as_interrupted(tmp_path):
    path = tmp_path / "t.db"
    Store(path).close()
    writer = Writer(path)
    writer.kill()
    with Store(path) as store:
        assert owner_gone(store._conn.execute("SELECT lease_owner FROM messages WHERE id = ?",
                                              (writer.reply_id,)).fetchone()[0])
        assert store.recover_streaming() == 1
        assert status_of(store, writer.thread_id) == [("half an answer", INTERRUPTED)]


def test_a_lease_not_renewed_in_time_is_stale_even_if_its_process_lives(tmp_path):
    now = [1000.0]
    with Store(tmp_path / "t.db", clock=lambda: now[0]) as store:
        thread = store.create_thread("tester", "m")
        other_host = "elsewhere:1:abcd"  # not this machine: judged by its heartbeat alone
        reply = store.add_message(thread.id, "assistant", "", status=STREAMING, lease=other_host)
        now[0] += LEASE_TTL / 2
        assert store.recover_streaming() == 0
        assert store.heartbeat(reply.id, other_host)
        now[0] += LEASE_TTL - 1
        assert store.recover_streaming() == 0  # renewed: still alive
        now[0] += LEASE_TTL + 1
        assert store.recover_streaming() == 1
        assert status_of(store, thread.id) == [("", INTERRUPTED)]


def test_the_final_write_never_resurrects_a_recovered_reply(tmp_path):
    with Store(tmp_path / "t.db") as store:
        thread = store.create_thread("tester", "m")
        owner = new_owner()
        reply = store.add_message(thread.id, "assistant", "", status=STREAMING, lease=owner)
        assert store.checkpoint(reply.id, owner, "partial", "")
        # Another process took the reply for abandoned meanwhile.
        store._conn.execute("UPDATE messages SET status = ? WHERE id = ?", (INTERRUPTED, reply.id))
        store._conn.commit()
        assert not store.checkpoint(reply.id, owner, "partial and more", "")
        stored = store.finish_message(reply.id, owner, content="partial and more, done", reasoning="",
                                      status=DONE)
        assert stored == INTERRUPTED
        # The status stays; the longer text is still kept.
        assert status_of(store, thread.id) == [("partial and more, done", INTERRUPTED)]


def test_a_final_write_after_a_superseding_regenerate_keeps_it_superseded(tmp_path):
    with Store(tmp_path / "t.db") as store:
        thread = store.create_thread("tester", "m")
        owner = new_owner()
        reply = store.add_message(thread.id, "assistant", "", status=STREAMING, lease=owner)
        store._conn.execute("UPDATE messages SET status = ?, lease_heartbeat = 0 WHERE id = ?",
                            (STREAMING, reply.id))
        store._conn.commit()
        store.supersede(reply.id)  # stale lease: allowed
        assert store.finish_message(reply.id, owner, content="x", reasoning="", status=DONE) == SUPERSEDED


@pytest.fixture
async def provider(fake_server):
    provider = OpenAIProvider(api_key="sk-test-key-123456", base_url=fake_server.base_url, max_retries=0, timeout=10)
    yield provider
    await provider.aclose()


async def test_regenerate_and_edit_are_refused_while_another_process_streams(tmp_path, provider):
    path = tmp_path / "t.db"
    Store(path).close()
    writer = Writer(path)
    store = Store(path)
    db = AsyncStore(store)
    session = ChatSession(db, provider)
    thread = store.get_thread(writer.thread_id)
    try:
        with pytest.raises(BusyElsewhereError):
            await session.regenerate_prepare(thread)
        with pytest.raises(BusyElsewhereError):
            await session.edit_prepare(thread)
        with pytest.raises(BusyElsewhereError):
            store.supersede(writer.reply_id)
        assert status_of(store, thread.id) == [("half an answer", STREAMING)]
        assert writer.finish() == DONE
        prompt = await session.regenerate_prepare(thread)  # now it may
        assert prompt is not None and prompt.content == "question"
        assert status_of(store, thread.id) == [("half an answer, and the rest", SUPERSEDED)]
    finally:
        if writer.proc.poll() is None:
            writer.kill()
        db.close()


async def test_the_lease_is_renewed_while_the_model_is_silent(tmp_path, fake_server, provider):
    store = Store(tmp_path / "t.db")
    db = AsyncStore(store)
    session = ChatSession(db, provider, heartbeat_seconds=0.02)
    thread = store.create_thread("tester", "m")
    fake_server.script(Reply.text("one two three", chunk_size=4, stall_after=1))

    class Sink:
        def on_text(self, text: str) -> None:
            pass

        def on_reasoning(self, text: str) -> None:
            pass

    task = asyncio.create_task(session.send(thread, PERSONA, "q", Sink()))

    def heartbeat() -> float | None:
        row = store._conn.execute(
            "SELECT lease_heartbeat FROM messages WHERE status = 'streaming'").fetchone()
        return row[0] if row else None

    async def beat() -> float | None:
        return await db.call(heartbeat)

    first = None
    for _ in range(1000):  # the reply row appears, then its heartbeat moves on
        first = await beat()
        if first is not None:
            break
        await asyncio.sleep(0.01)
    assert first is not None
    for _ in range(1000):
        later = await beat()
        if later is not None and later > first:
            break
        await asyncio.sleep(0.01)
    assert later > first  # renewed during the stall, with no token arriving
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    db.close()


def test_ten_concurrent_pipe_runs_and_another_writer_share_one_database(tmp_path, fake_server):
    path = tmp_path / "shared.db"
    Store(path).close()
    replies = [Reply.text(f"Answer number {i}. " * 20, chunk_size=7, delay=0.002) for i in range(10)]
    # The fake server answers in request order; each run's prompt says which it is, and
    # each run must end up with its own prompt and one whole answer in its own thread.
    fake_server.script(*replies)
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-key-123456",
           "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    runs = [
        subprocess.Popen([sys.executable, "-m", "tuichat", "--db", str(path), "--base-url", fake_server.base_url,
                          "-p", f"question {i}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(10)
    ]
    writer = Writer(path)  # a window streaming meanwhile
    results = [run.communicate(timeout=120) for run in runs]
    assert writer.finish() == DONE
    for run, (out, err) in zip(runs, results):
        assert run.returncode == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower(), err
    with Store(path) as store:
        threads = [t for t in store.list_threads(limit=100) if t.id != writer.thread_id]
        assert len(threads) == 10
        answers = set()
        for thread in threads:
            rows = store.messages(thread.id)
            assert [(m.role, m.status) for m in rows] == [("user", DONE), ("assistant", DONE)]
            assert thread.title == rows[0].content  # the thread is named after its own prompt
            answers.add(rows[1].content)
        assert answers == {reply_text for reply_text in ("".join(r.chunks) for r in replies)}
        # What each run printed is what its thread holds.
        printed = {out.strip() for out, _ in results}
        assert printed == {a.strip() for a in answers}
        assert status_of(store, writer.thread_id) == [("half an answer, and the rest", DONE)]


def test_two_apps_and_ten_pipe_runs_on_one_database(tmp_path, fake_server):
    from test_signals import PtyApp, env_for, wait_until

    path = tmp_path / "shared.db"
    Store(path).close()
    replies = [Reply.text(f"Reply {i} here. " * 10, chunk_size=5, delay=0.002) for i in range(12)]
    fake_server.script(*replies)
    env = env_for(tmp_path)
    apps = [PtyApp(["--db", str(path), "--base-url", fake_server.base_url], env) for _ in range(2)]
    try:
        for app in apps:
            wait_until(lambda: "Quit" in app.text(), "the first screen")
        for i, app in enumerate(apps):
            app.type(f"window {i} asks\r")
        env_pipe = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
        runs = [subprocess.Popen([sys.executable, "-m", "tuichat", "--db", str(path), "--base-url",
                                  fake_server.base_url, "-p", f"pipe {i} asks"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env_pipe) for i in range(10)]
        results = [run.communicate(timeout=120) for run in runs]
        for run, (_, err) in zip(runs, results):
            assert run.returncode == 0, err

        def all_done() -> bool:
            with Store(path) as store:
                threads = store.list_threads(limit=100)
                return len(threads) == 12 and all(
                    [m.status for m in store.messages(t.id)] == [DONE, DONE] for t in threads)

        wait_until(all_done, "every exchange saved")
        for app in apps:
            app.type("\x11")  # Ctrl+Q
            assert app.finish() == 0
            assert "locked" not in app.text() and "busy" not in app.text().lower()
    finally:
        for app in apps:
            if app.proc.poll() is None:
                app.proc.kill()
    with Store(path) as store:
        threads = store.list_threads(limit=100)
        prompts = sorted(store.messages(t.id)[0].content for t in threads)
        assert prompts == sorted([f"window {i} asks" for i in range(2)] + [f"pipe {i} asks" for i in range(10)])
        for thread in threads:
            assert thread.title == store.messages(thread.id)[0].content  # no thread mixed up
        answers = sorted(store.messages(t.id)[1].content for t in threads)
        assert answers == sorted("".join(r.chunks) for r in replies)
