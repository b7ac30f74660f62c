"""`tuichat --web` in a subprocess, and a browser tab's websocket without a browser, for
tests/test_web_cli.py and tests/test_web_browser.py."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

WAIT = 60  # seconds; only a broken feature comes near this, even on a busy machine
API_KEY = "sk-test-web-key-0123456789"  # in the server's environment; must never reach a page
URL_LINE = re.compile(r"^tuichat: serving at (http://\S+)$")


def env_for(tmp_path: Path, base_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TEXTUAL"))}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               OPENAI_API_KEY=API_KEY, PYTHONDONTWRITEBYTECODE="1")
    if base_url:
        env["OPENAI_BASE_URL"] = base_url
    return env


def wait_until(predicate, what: str, timeout: float = WAIT, pause=time.sleep) -> None:  # noqa: ANN001
    """Polls `predicate`; `pause(seconds)` between tries (Playwright's sync API delivers its
    events only inside its own calls: pass one of those)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause(0.02)


def need_textual_serve() -> None:
    pytest.importorskip("textual_serve", reason="textual-serve is not installed: pip install -e '.[test]'")


class WebServer:
    """`python -m tuichat --web ARGS` with stdout and stderr collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tuichat", "--web", *args], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout, True), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr, False), daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, into: list[str], announce: bool) -> None:  # noqa: ANN001
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            into.append(line)
            if announce:
                self._lines.put(line)
        stream.close()

    def url(self) -> str:
        """The printed URL, once the server listens."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no URL printed; stderr: {self.err()}") from None
            if match := URL_LINE.match(line):
                return match.group(1)

    def startup_err(self) -> str:
        """stderr up to its last start-up line (read by another thread than stdout)."""
        wait_until(lambda: "Ctrl+C stops the server" in self.err(), "the start-up lines on stderr")
        return self.err()

    def wait(self) -> int:
        code = self.proc.wait(WAIT)
        for reader in self._readers:
            reader.join(WAIT)
        return code

    def out(self) -> str:
        return "\n".join(self.stdout)

    def err(self) -> str:
        return "\n".join(self.stderr)

    def children(self) -> list[int]:
        """The processes the server started (each tab's app)."""
        pids: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids += [int(pid) for pid in (task / "children").read_text().split()]
            except OSError:
                pass
        return pids

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)


def base(url: str) -> str:
    """http://HOST:PORT from a printed URL."""
    return re.match(r"(http://[^/]+)", url).group(1)


class Tab:
    """What a browser tab does over textual-serve's websocket: keys in, the app's screen
    (the bytes a terminal would get) out. Runs its own event loop in a thread."""

    def __init__(self, server_base: str, *, headers: dict[str, str] | None = None, cols: int = 120,
                 rows: int = 35) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        self.url = f"{server_base.replace('http://', 'ws://')}/ws?width={cols}&height={rows}"
        self.headers = headers or {}
        self.screen = bytearray()
        self.closed = threading.Event()
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._ws = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),), daemon=True)
        self._thread.start()
        self._ready.wait(WAIT)
        if self.error is not None:
            raise self.error

    async def _run(self) -> None:
        try:
            async with self._aiohttp.ClientSession() as session:
                async with session.ws_connect(self.url, headers=self.headers) as ws:
                    self._ws = ws
                    self._ready.set()
                    async for message in ws:
                        if message.type == self._aiohttp.WSMsgType.BINARY:
                            self.screen.extend(message.data)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
        finally:
            self._ready.set()
            self.closed.set()

    def text(self) -> str:
        return bytes(self.screen).decode("utf-8", "replace")

    def type(self, keys: str) -> None:
        asyncio.run_coroutine_threadsafe(self._ws.send_str(json.dumps(["stdin", keys])), self._loop).result(WAIT)

    def wait_for(self, text: str) -> None:
        wait_until(lambda: text in self.text(), f"{text!r} on the tab's screen")

    def close(self) -> None:
        if self._ws is not None and not self.closed.is_set():
            asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop).result(WAIT)
        self._thread.join(WAIT)
