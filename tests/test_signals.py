"""Signals: the real `tuichat` in a subprocess (the app under a pty), a reply stalled
mid-stream by the fake server, then a signal. SIGTERM and SIGHUP put the terminal back and
save the partial reply as "interrupted"; SIGINT in pipe mode exits 130 with it "stopped".

    pytest tests/test_signals.py -q
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from fake_openai import Reply
from tuichat.store import Store

WAIT = 60  # seconds; only a broken feature comes near this, even on a busy machine
FIRST = "The first part of the answer"
SCRIPT = Reply(chunks=[FIRST, " and the rest"], stall_after=1)


def env_for(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TEXTUAL"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               OPENAI_API_KEY="sk-test-key-123456", TERM="xterm-256color", COLUMNS="100", LINES="30")
    return env


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def reply_row(db: Path):
    """The assistant reply as stored, read by a connection of this process."""
    if not db.exists():
        return None
    with Store(db) as store:
        threads = store.list_threads()
        if not threads:
            return None
        rows = [m for m in store.messages(threads[0].id) if m.role == "assistant"]
        return rows[-1] if rows else None


def _controlling_terminal() -> None:
    # In the child, after setsid: make the pty its controlling terminal, so that Ctrl+C
    # typed on it is a SIGINT, as in a real terminal.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyApp:
    """`python -m tuichat` on a pseudo-terminal; everything it writes is kept in `output`."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.master = master
        self.proc = subprocess.Popen([sys.executable, "-m", "tuichat", *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True, close_fds=True,
                                     preexec_fn=_controlling_terminal)
        os.close(slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return  # EIO: the child closed the terminal
            if not data:
                return
            self.output += data

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def type(self, data: str) -> None:
        os.write(self.master, data.encode())

    def finish(self) -> int:
        code = self.proc.wait(WAIT)
        self._reader.join(WAIT)
        os.close(self.master)
        return code


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_the_app_restores_the_terminal_and_saves_the_reply_as_interrupted(tmp_path, fake_server, signum):
    fake_server.script(SCRIPT)
    db = tmp_path / "h.db"
    app = PtyApp(["--db", str(db), "--base-url", fake_server.base_url], env_for(tmp_path))
    try:
        wait_until(lambda: "Quit" in app.text(), "the first screen")
        app.type("tell me\r")
        wait_until(lambda: "first part" in app.text(), "the first chunk on screen")
        app.proc.send_signal(signum)
        code = app.finish()
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
    assert code == 128 + signum
    out = bytes(app.output)
    tail = out[out.rindex(b"\x1b[?1049h"):]  # after the app entered the alternate screen
    assert b"\x1b[?1049l" in tail  # back to the normal screen
    assert b"\x1b[?25h" in tail  # cursor shown
    assert b"\x1b[?1000l" in tail or b"\x1b[?1003l" in tail  # mouse reporting off
    row = reply_row(db)
    assert row is not None and row.status == "interrupted"
    assert row.content == FIRST  # the text that had arrived, kept


def run_pipe(tmp_path: Path, fake_server, *, tty: bool = False):
    fake_server.script(SCRIPT)
    db = tmp_path / "p.db"
    args = [sys.executable, "-m", "tuichat", "--db", str(db), "--base-url", fake_server.base_url, "-p", "hi"]
    if tty:
        return PtyApp(args[3:], env_for(tmp_path)), db
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_for(tmp_path),
                            start_new_session=True)
    return proc, db


@pytest.mark.parametrize("signum,status", [(signal.SIGINT, "stopped"), (signal.SIGTERM, "interrupted"),
                                           (signal.SIGHUP, "interrupted")], ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_pipe_mode_saves_the_partial_reply_and_exits_with_the_signal_code(tmp_path, fake_server, signum, status):
    proc, db = run_pipe(tmp_path, fake_server)
    try:
        printed = b""
        while FIRST.encode() not in printed:  # the first chunk reached stdout
            piece = proc.stdout.read1(4096)
            assert piece, "stdout closed before the first chunk"
            printed += piece
        proc.send_signal(signum)
        rest, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (130 if signum == signal.SIGINT else 128 + signum), err
    assert b"Traceback" not in err
    assert (printed + rest).decode().strip() == FIRST
    row = reply_row(db)
    assert row is not None and (row.status, row.content) == (status, FIRST)


def test_ctrl_c_on_a_terminal_stops_pipe_mode_with_130(tmp_path, fake_server):
    app, db = run_pipe(tmp_path, fake_server, tty=True)
    try:
        wait_until(lambda: FIRST in app.text(), "the first chunk")
        app.type("\x03")  # the terminal turns Ctrl+C into SIGINT for the foreground group
        code = app.finish()
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
    assert code == 130
    assert "Traceback" not in app.text()
    row = reply_row(db)
    assert row is not None and (row.status, row.content) == ("stopped", FIRST)
