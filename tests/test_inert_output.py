"""Untrusted text is inert on every output path (issue 8, requirements 1 and 2).

One hostile payload list (tests/fake_openai.py: HOSTILE_PAYLOADS: CSI clear screen,
OSC 52 clipboard write, OSC 0 window title, OSC 8 link, C1 controls, BEL/DEL/NUL, a lone
CR, Rich markup, bidi overrides and isolates, zero-width characters, a lone surrogate)
goes through each output route, and the test asserts on the bytes handed to the
terminal:

- the app: a driver that records everything Textual writes (the compositor's real
  output, as on a terminal: run_test's headless driver writes nothing). The app writes
  escape sequences of its own (CSI for cursor and colours, and OSC 52 when it copies),
  so the test first checks that none of the payload's own sequences appear, then that
  nothing but the app's CSI is left, and waits for the visible marks (␛, ‹RLO›) to be
  drawn before it looks.
- the command line: a real subprocess against the fake server, stdout and stderr as
  pipes and as a pty.

`pytest tests/test_inert_output.py -q -k route` counts the injection routes tried (each
passes only if the route is inert).
"""

from __future__ import annotations

import errno
import json
import os
import re
import select
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import textual.drivers.headless_driver as headless_driver
from textual.widgets import Input

from apphelpers import make_app, wait_for
from fake_openai import HOSTILE_MODELS, HOSTILE_PAYLOADS, HOSTILE_TEXT, FakeServer, Reply
from tuichat.store import Store
from tuichat.ui.screens.code_picker import CodePicker
from tuichat.ui.screens.dialogs import ConfirmDialog, TextPromptDialog
from tuichat.ui.screens.model_picker import ModelPicker
from tuichat.ui.screens.persona_picker import PersonaPicker
from tuichat.ui.screens.search import SearchScreen

SIZE = (160, 50)
WAIT = 30.0  # generous: a busy 2-core machine

# Stored text cannot hold a lone surrogate (SQLite takes UTF-8): seeded rows use the
# rest of the payloads. The live routes (stream, errors, model ids) send all of them.
STORED_TEXT = "\n".join(f"{k}: {v}" for k, v in HOSTILE_PAYLOADS.items() if k != "lone_surrogate")
# A title or a name: short enough that its marks are on screen in a narrow list.
HOSTILE_TITLE = "inv\u202efdp.exe \x1b]0;pwned-title\x07\x9b2J pay\u200bpal"
HOSTILE_PERSONA = "evil\u202etxt.exe"

# The payloads' own sequences and characters: none may reach the terminal. The app
# writes none of these itself (its own OSC 52 carries other base64 text).
RAW = {
    "CSI clear screen": "\x1b[2J",
    "OSC 52 clipboard write": "\x1b]52;c;cm0gLXJmIH4=",
    "OSC 0 window title": "\x1b]0;pwned",
    "OSC 8 hyperlink": "\x1b]8;;https://evil",
    "C1 CSI": "\x9b",
    "C1 OSC": "\x9d",
    "C1 ST": "\x9c",
    "DEL": "\x7f",
    "NUL": "\x00",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "PDI": "\u2069",
    "lone surrogate": "\ud800",
}
# In one-line fields (titles, names, ids) zero-width characters are shown as marks too.
RAW_IN_LINES = {"ZWSP": "\u200b", "WJ": "\u2060", "BOM": "\ufeff"}
# What the app itself writes: CSI sequences, OSC 22 (the mouse pointer's shape), and OSC
# 52 with its own base64 when it copies.
APP_OWN = re.compile(
    r"\x1b\[[0-9;:?<=>]*[ -/]*[@-~]|\x1b\]22;[a-z-]*\x07|\x1b\]52;c;[A-Za-z0-9+/=]*\x07"
)
# Controls left after the app's own sequences are removed: none allowed. (BEL is the
# app's bell; CR and LF are line endings.)
STRAY_CONTROL = re.compile(r"[\x00-\x06\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def assert_inert(output: str, *, line: bool = False, where: str = "") -> None:
    """No payload sequence, control or bidi override in `output`."""
    raw = {**RAW, **(RAW_IN_LINES if line else {})}
    leaked = [name for name, seq in raw.items() if seq in output]
    assert not leaked, f"{where}: raw {', '.join(leaked)} reached the terminal"
    rest = APP_OWN.sub("", output)
    stray = STRAY_CONTROL.search(rest)
    assert stray is None, f"{where}: raw {stray.group()!r} reached the terminal: {rest[max(0, stray.start() - 40):stray.end() + 40]!r}"


# --- the app: what the driver is handed -------------------------------------------------


class Terminal:
    """Everything the app wrote to its terminal, in order."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    @property
    def output(self) -> str:
        return "".join(self.writes)

    def visible(self) -> str:
        """The output without the app's own sequences: the text that was drawn."""
        return APP_OWN.sub("", self.output)

    def leaked(self) -> bool:
        output = self.output
        return any(seq in output for seq in RAW.values()) or bool(
            STRAY_CONTROL.search(APP_OWN.sub("", output)))

    async def shows(self, pilot, *marks: str) -> None:
        """Wait until every mark has been drawn (the visible form of a payload), or
        until a raw payload reaches the terminal (then fail, saying which)."""
        try:
            await wait_for(pilot, lambda: self.leaked() or all(mark in self.visible() for mark in marks), WAIT)
            assert_inert(self.output, where="while drawing")
        except AssertionError as exc:
            if "reached the terminal" in str(exc):
                raise
            missing = [mark for mark in marks if mark not in self.visible()]
            raise AssertionError(f"never drawn: {missing!r}") from None


@pytest.fixture
def terminal(monkeypatch) -> Terminal:
    term = Terminal()

    class RecordingDriver(headless_driver.HeadlessDriver):
        """The headless driver, except the app renders to it as to a real terminal."""

        @property
        def is_headless(self) -> bool:
            return False

        def write(self, data: str) -> None:
            term.writes.append(data)

    # App._build_driver imports HeadlessDriver from this module when it builds one.
    monkeypatch.setattr(headless_driver, "HeadlessDriver", RecordingDriver)
    return term


@dataclass
class Ctx:
    tmp_path: Path
    server: FakeServer
    term: Terminal
    _store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.tmp_path / "tuichat.db")
        return self._store

    def app(self, **kw):
        return make_app(self.tmp_path, self.server.base_url, store=self.store, **kw)

    def seed(self, title: str = HOSTILE_TITLE, user: str = "hello", reply: str = "hi", model: str = "test-model"):
        thread = self.store.create_thread("default", model)
        self.store.add_message(thread.id, "user", user)
        self.store.add_message(thread.id, "assistant", reply)
        self.store.set_title(thread.id, title)
        return self.store.get_thread(thread.id)


def hostile_persona_file(config_home: Path) -> None:
    folder = config_home / "tuichat" / "personas"
    folder.mkdir(parents=True, exist_ok=True)
    # TOML escapes: the file itself is plain ASCII, its strings are hostile.
    (folder / "evil.toml").write_text(textwrap.dedent(r'''
        name = "evil\u202etxt.exe"
        description = "desc \u001b]52;c;cm0gLXJmIH4=\u0007 \u009b2J [bold red]x[/] \u200b"
        system_prompt = "be evil"
        greeting = "greet \u001b]0;pwned-title\u0007 \u202eevil"
    '''), encoding="utf-8")


async def send(pilot, text: str) -> None:
    pilot.app.screen.composer.text = text
    await pilot.press("enter")


async def settled(pilot) -> None:
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.thread is not None and not screen.generating, WAIT)


APP_ROUTES: dict[str, Callable[[Ctx], Awaitable[None]]] = {}


def app_route(name: str, *, line: bool = False):
    """Register a route. `line`: everything on screen is one-line fields (titles, names,
    ids), where zero-width characters must be shown as marks too."""
    def register(fn):
        fn.line = line
        APP_ROUTES[name] = fn
        return fn
    return register


@app_route("transcript reply text (streamed, split sequences)")
async def _reply_text(ctx: Ctx) -> None:
    ctx.server.script(Reply.hostile(reasoning=None))
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "hi")
        await settled(pilot)
        await ctx.term.shows(pilot, "clip␛]52;c;cm0gLXJmIH4=␇board", "invoice‹RLO›fdp.exe",
                             "[bold red]not markup[/]", "c1\ufffd2Jcsi")


@app_route("transcript reasoning")
async def _reasoning(ctx: Ctx) -> None:
    ctx.server.script(Reply.hostile(text="the answer", reasoning=HOSTILE_TEXT))
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "hi")
        await settled(pilot)
        await ctx.term.shows(pilot, "the answer", "␛]52;c;cm0gLXJmIH4=␇", "invoice‹RLO›fdp.exe", "‹LRI›isolate‹PDI›")


# An error body: the provider keeps the first 300 characters of a server's message.
ERROR_TEXT = "boom \x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J \x9b2J \x1b]8;;https://evil.example/\x07 invoice\u202efdp.exe \ud800"


@app_route("transcript reply as content parts (text and thinking parts)")
async def _content_parts(ctx: Ctx) -> None:
    parts = [{"type": "thinking", "thinking": [{"type": "text", "text": "think \x1b]0;pwned-title\x07 \u202e"}]},
             {"type": "text", "text": "part \x1b]52;c;cm0gLXJmIH4=\x07 \x9b2J invoice\u202efdp.exe \ud800"}]
    ctx.server.script(Reply(deltas=[{"content": parts}]))
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "hi")
        await settled(pilot)
        await ctx.term.shows(pilot, "part ␛]52;c;cm0gLXJmIH4=␇ \ufffd2J invoice‹RLO›fdp.exe \ufffd",
                             "think ␛]0;pwned-title␇ ‹RLO›")


@app_route("error notification and error note (HTTP error body)")
async def _error_body(ctx: Ctx) -> None:
    ctx.server.script(Reply.hostile_error(400, ERROR_TEXT))
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "hi")
        await settled(pilot)
        await wait_for(pilot, lambda: bool(pilot.app._notifications), WAIT)
        await ctx.term.shows(pilot, "␛]52;c;cm0gLXJmIH4=␇", "invoice‹RLO›fdp.exe", "Press F5 to retry")


@app_route("error notification (error event inside the stream)")
async def _stream_error(ctx: Ctx) -> None:
    body = {"error": {"message": "mid \x1b]0;pwned-title\x07 \x9d0;x\x9c invoice\u202efdp.exe", "type": "server_error"}}
    ctx.server.script(Reply.text("partial text", error_after=1, error_body=body))
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "hi")
        await settled(pilot)
        await ctx.term.shows(pilot, "␛]0;pwned-title␇", "invoice‹RLO›fdp.exe")


@app_route("header and status line (thread title, model id)", line=True)
async def _header(ctx: Ctx) -> None:
    thread = ctx.seed(model="gpt\u202e4o\x1b]0;pwned-title\x07")
    async with ctx.app(thread=thread).run_test(size=SIZE, notifications=True) as pilot:
        await ctx.term.shows(pilot, "inv‹RLO›fdp.exe", "gpt‹RLO›4o␛]0;pwned-title␇", "pay‹ZWSP›pal")


@app_route("thread list (titles, persona names)", line=True)
async def _thread_list(ctx: Ctx) -> None:
    ctx.seed()
    other = ctx.store.create_thread(HOSTILE_PERSONA, "test-model")
    ctx.store.add_message(other.id, "user", "x")
    ctx.store.set_title(other.id, "\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07wipe")
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await ctx.term.shows(pilot, "inv‹RLO›fdp.exe", "evil‹RLO›txt.exe", "␛[2J␛]52;c;")


@app_route("model picker (ids from GET /models)", line=True)
async def _model_picker(ctx: Ctx) -> None:
    ctx.server.models = list(HOSTILE_MODELS)
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelPicker), WAIT)
        picker = pilot.app.screen
        await wait_for(pilot, lambda: len(picker.shown) > len(HOSTILE_MODELS), WAIT)
        await ctx.term.shows(pilot, "evil␛]52;c;cm0gLXJmIH4=␇model", "gpt‹RLO›4o-mini‹ZWSP›",
                             "[bold red]markup-model[/]", "lone\ufffdmodel")


@app_route("picked model id (notification, header, reply header)", line=True)
async def _picked_model(ctx: Ctx) -> None:
    ctx.server.models = list(HOSTILE_MODELS)
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        screen = pilot.app.screen
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ModelPicker), WAIT)
        picker = pilot.app.screen
        await wait_for(pilot, lambda: "gpt\u202e4o-mini\u200b" in picker.shown, WAIT)
        await pilot.press(*"4o-mini", "enter")
        await wait_for(pilot, lambda: pilot.app.screen is screen, WAIT)
        assert screen.model == "gpt\u202e4o-mini\u200b"  # the exact id is what is sent
        await ctx.term.shows(pilot, "Model: gpt‹RLO›4o-mini‹ZWSP›")
        ctx.server.script(Reply.text("fine"))
        await send(pilot, "hi")
        await settled(pilot)
        await ctx.term.shows(pilot, "Assistant · gpt‹RLO›4o-mini‹ZWSP›")


@app_route("completions notification (/model + Tab, server ids)", line=True)
async def _completions(ctx: Ctx) -> None:
    ctx.server.models = list(HOSTILE_MODELS)
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        app = pilot.app
        app.screen.composer.text = "/model evil"
        app.screen.composer.focus()
        app.request_server_models()
        await wait_for(pilot, lambda: app.server_models, WAIT)
        await pilot.press("tab")
        await ctx.term.shows(pilot, "evil␛]52;c;cm0gLXJmIH4=␇model", "evil␛[2J\ufffd2Jmodel")


@app_route("persona picker (name, description)", line=True)
async def _persona_picker(ctx: Ctx) -> None:
    hostile_persona_file(ctx.tmp_path / "config")
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PersonaPicker), WAIT)
        await ctx.term.shows(pilot, "evil‹RLO›txt.exe", "desc ␛]52;c;cm0gLXJmIH4=␇ \ufffd2J [bold red]x[/]", "‹ZWSP›")


@app_route("notice (persona greeting) and header persona name")
async def _greeting(ctx: Ctx) -> None:
    hostile_persona_file(ctx.tmp_path / "config")
    async with ctx.app(persona=HOSTILE_PERSONA).run_test(size=SIZE, notifications=True) as pilot:
        await ctx.term.shows(pilot, "greet ␛]0;pwned-title␇ ‹RLO›evil", "evil‹RLO›txt.exe")


@app_route("code block picker (language, first line)", line=True)
async def _code_picker(ctx: Ctx) -> None:
    reply = ("```py\u202e\x1b]0;pwned-title\x07\nprint('\x1b]52;c;cm0gLXJmIH4=\x07')\n```\n\n"
             "```sh\necho \x9b2J\n```\n")
    thread = ctx.seed(title="code", reply=reply)
    async with ctx.app(thread=thread).run_test(size=SIZE, notifications=True) as pilot:
        transcript = pilot.app.screen.transcript
        transcript.focus()
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CodePicker), WAIT)
        await ctx.term.shows(pilot, "py‹RLO›␛]0;pwned-title␇", "print('␛]52;c;cm0gLXJmIH4=␇')", "echo \ufffd2J")
        await pilot.press("escape")  # leave without copying (a copy writes OSC 52 itself)


@app_route("search results (title, snippet) and search status", line=True)
async def _search(ctx: Ctx) -> None:
    ctx.seed(user="needle \x1b]52;c;cm0gLXJmIH4=\x07 invoice\u202efdp.exe \x9b2J zero\u200bwidth")
    async with ctx.app().run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, SearchScreen), WAIT)
        await pilot.press(*"needle")
        await wait_for(pilot, lambda: pilot.app.screen.hits, WAIT)
        await ctx.term.shows(pilot, "inv‹RLO›fdp.exe", "needle ␛]52;c;cm0gLXJmIH4=␇ invoice‹RLO›fdp.exe", "zero‹ZWSP›width")


@app_route("rename dialog, pre-filled with the title (F2)", line=True)
async def _rename(ctx: Ctx) -> None:
    thread = ctx.seed()
    async with ctx.app(thread=thread).run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TextPromptDialog), WAIT)
        box = pilot.app.screen.query_one(Input)
        assert box.value == "inv‹RLO›fdp.exe ␛]0;pwned-title␇\ufffd2J pay‹ZWSP›pal"
        await ctx.term.shows(pilot, "inv‹RLO›fdp.exe ␛]0;pwned-title␇")
        await pilot.press("enter")  # unchanged: the stored title is not rewritten
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, TextPromptDialog), WAIT)
        assert ctx.store.get_thread(thread.id).title == HOSTILE_TITLE


@app_route("delete confirmation naming the thread (F8)", line=True)
async def _delete(ctx: Ctx) -> None:
    thread = ctx.seed()
    async with ctx.app(thread=thread).run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmDialog), WAIT)
        await ctx.term.shows(pilot, "inv‹RLO›fdp.exe")
        await pilot.press("escape")


@app_route("composer pre-filled by edit-last (F3)")
async def _edit_last(ctx: Ctx) -> None:
    thread = ctx.seed(title="t", user=STORED_TEXT)
    async with ctx.app(thread=thread).run_test(size=SIZE, notifications=True) as pilot:
        screen = pilot.app.screen
        await pilot.press("f3")
        await wait_for(pilot, lambda: screen.composer.text, WAIT)
        assert "\x1b" not in screen.composer.text and "\u202e" not in screen.composer.text
        await ctx.term.shows(pilot, "␛]52;c;cm0gLXJmIH4=␇", "invoice‹RLO›fdp.exe")


@pytest.mark.parametrize("route", list(APP_ROUTES))
async def test_app_route_is_inert(route, tmp_path, fake_server, terminal):
    ctx = Ctx(tmp_path, fake_server, terminal)
    await APP_ROUTES[route](ctx)
    assert terminal.writes, "the app wrote nothing: the recording driver is not in use"
    assert_inert(terminal.output, line=APP_ROUTES[route].line, where=route)


# --- the command line: real subprocesses -------------------------------------------------


def run_cli(args: list[str], env: dict[str, str], *, pty_streams: tuple[str, ...] = (),
            timeout: float = 60) -> tuple[int, bytes, bytes]:
    """Run `python -m tuichat ARGS`; stdout and stderr are pipes, or a pty for the
    streams named in `pty_streams` (then that stream's bytes are what the pty got)."""
    cmd = [sys.executable, "-m", "tuichat", *args]
    full_env = {**os.environ, **env}
    if not pty_streams:
        result = subprocess.run(cmd, capture_output=True, env=full_env, timeout=timeout,
                                stdin=subprocess.DEVNULL)
        return result.returncode, result.stdout, result.stderr
    master, slave = os.openpty()
    proc = subprocess.Popen(
        cmd, env=full_env, stdin=subprocess.DEVNULL,
        stdout=slave if "stdout" in pty_streams else subprocess.PIPE,
        stderr=slave if "stderr" in pty_streams else subprocess.PIPE,
    )
    os.close(slave)
    got = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        # select: a hung child fails the test at the deadline instead of blocking it.
        ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            proc.kill()
            raise AssertionError(f"tuichat {' '.join(args)} did not finish within {timeout} s")
        try:
            chunk = os.read(master, 65536)
        except OSError as exc:  # EIO: every writer of the pty has closed it
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, (bytes(got) if "stdout" in pty_streams else out), (
        bytes(got) if "stderr" in pty_streams else err)


def assert_bytes_inert(data: bytes, *, line: bool = False, where: str = "") -> str:
    """No escape or control byte at all (the CLI writes no sequences of its own, except
    `search`'s bold on a terminal), no bidi override; the text as decoded."""
    text = data.decode("utf-8")  # also proves no lone surrogate was written
    assert_inert(text, line=line, where=where)
    assert "\x1b" not in text.replace("\x1b[1m", "").replace("\x1b[22m", ""), f"{where}: ESC written"
    assert "\x07" not in text, f"{where}: BEL written"
    return text


@dataclass
class CliCtx:
    tmp_path: Path
    server: FakeServer

    @property
    def db(self) -> str:
        return str(self.tmp_path / "cli.db")

    @property
    def env(self) -> dict[str, str]:
        return {"OPENAI_API_KEY": "sk-test-key-0123456789", "OPENAI_BASE_URL": self.server.base_url,
                "XDG_CONFIG_HOME": str(self.tmp_path / "config"), "XDG_DATA_HOME": str(self.tmp_path / "data")}

    def seed(self) -> int:
        store = Store(self.tmp_path / "cli.db")
        try:
            thread = store.create_thread(HOSTILE_PERSONA, "gpt\u202e4o\x1b]0;pwned-title\x07")
            store.add_message(thread.id, "user", "needle " + STORED_TEXT)
            store.add_message(thread.id, "assistant", STORED_TEXT)
            store.set_title(thread.id, HOSTILE_TITLE)
            return thread.id
        finally:
            store.close()


CLI_ROUTES: dict[str, Callable[[CliCtx], None]] = {}


def cli_route(name: str):
    def register(fn):
        CLI_ROUTES[name] = fn
        return fn
    return register


@cli_route("pipe mode stdout, a pipe (| tee)")
def _pipe_stdout(ctx: CliCtx) -> None:
    ctx.server.script(Reply.hostile(reasoning="thinking-only \x1b]52;c;cm0gLXJmIH4=\x07"))
    code, out, err = run_cli(["--db", ctx.db, "-p", "hi"], ctx.env)
    assert code == 0, err
    text = assert_bytes_inert(out, where="stdout")
    # Whole sequences removed, even when the server split them across chunks.
    assert "osc52_clipboard: clipboard\n" in text and "csi_clear: clearscreen\n" in text
    assert "osc0_title: window\n" in text and "c1_osc: c1osc\n" in text
    assert "invoicefdp.exe isolate" in text
    assert "[bold red]not markup[/]" in text  # markup is just text here
    assert "lone \ufffd surrogate" in text
    assert "thinking-only" not in text  # the reasoning is not the answer


@cli_route("pipe mode stdout, a terminal")
def _pipe_stdout_pty(ctx: CliCtx) -> None:
    ctx.server.script(Reply.hostile(reasoning=None))
    code, out, _ = run_cli(["--db", ctx.db, "-p", "hi"], ctx.env, pty_streams=("stdout",))
    assert code == 0
    text = assert_bytes_inert(out, where="stdout (pty)")
    assert "osc52_clipboard: clipboard" in text and "invoicefdp.exe" in text


@cli_route("pipe mode stderr, a pipe (server error body)")
def _pipe_stderr(ctx: CliCtx) -> None:
    ctx.server.script(Reply.hostile_error(400, ERROR_TEXT))  # 400: the SDK does not retry it
    code, out, err = run_cli(["--db", ctx.db, "-p", "hi"], ctx.env)
    assert code == 1
    text = assert_bytes_inert(err, where="stderr")
    assert "␛]52;c;cm0gLXJmIH4=␇" in text and "invoice‹RLO›fdp.exe" in text


@cli_route("pipe mode stderr, a terminal (error event in the stream)")
def _pipe_stderr_pty(ctx: CliCtx) -> None:
    body = {"error": {"message": "mid \x1b]0;pwned-title\x07 \x9d0;x\x9c invoice\u202efdp.exe \ud800",
                      "type": "server_error"}}
    ctx.server.script(Reply.text("partial", error_after=1, error_body=body))
    code, _, err = run_cli(["--db", ctx.db, "-p", "hi"], ctx.env, pty_streams=("stderr",))
    assert code == 1
    text = assert_bytes_inert(err, where="stderr (pty)")
    assert "␛]0;pwned-title␇" in text and "invoice‹RLO›fdp.exe" in text


@cli_route("--list-personas")
def _list_personas(ctx: CliCtx) -> None:
    hostile_persona_file(ctx.tmp_path / "config")
    code, out, err = run_cli(["--list-personas"], ctx.env)
    assert code == 0, err
    text = assert_bytes_inert(out, line=True, where="--list-personas")
    assert "evil‹RLO›txt.exe" in text and "desc ␛]52;c;cm0gLXJmIH4=␇ \ufffd2J [bold red]x[/] ‹ZWSP›" in text


@cli_route("usage error naming an argument (--persona)")
def _usage_error(ctx: CliCtx) -> None:
    code, _, err = run_cli(["--db", ctx.db, "--persona", "x\x1b]0;pwned-title\x07\u202e", "-p", "hi"], ctx.env)
    assert code == 2
    text = assert_bytes_inert(err, where="usage error")
    assert "x␛]0;pwned-title␇‹RLO›" in text


@cli_route("tuichat threads")
def _threads(ctx: CliCtx) -> None:
    ctx.seed()
    code, out, err = run_cli(["threads", "--db", ctx.db], ctx.env)
    assert code == 0, err
    text = assert_bytes_inert(out, line=True, where="threads")
    assert "evil‹RLO›txt.exe" in text and "inv‹RLO›fdp.exe ␛]0;pwned-title␇\ufffd2J pay‹ZWSP›pal" in text


@cli_route("tuichat search, a pipe")
def _search(ctx: CliCtx) -> None:
    ctx.seed()
    code, out, err = run_cli(["search", "--db", ctx.db, "needle"], ctx.env)
    assert code == 0, err
    text = assert_bytes_inert(out, line=True, where="search")
    assert "inv‹RLO›fdp.exe" in text and "needle csi_clear: clear␛[2J␛[Hscreen" in text


@cli_route("tuichat search, a terminal (bold matches)")
def _search_pty(ctx: CliCtx) -> None:
    ctx.seed()
    code, out, _ = run_cli(["search", "--db", ctx.db, "needle"], ctx.env, pty_streams=("stdout",))
    assert code == 0
    text = assert_bytes_inert(out, line=True, where="search (pty)")
    assert "\x1b[1mneedle\x1b[22m csi_clear: clear␛[2J" in text  # our bold, their ␛


@cli_route("tuichat export --format md to stdout")
def _export_md(ctx: CliCtx) -> None:
    thread_id = ctx.seed()
    code, out, err = run_cli(["export", "--db", ctx.db, str(thread_id)], ctx.env)
    assert code == 0, err
    text = assert_bytes_inert(out, where="export md")
    assert "# inv‹RLO›fdp.exe ␛]0;pwned-title␇" in text and "clip␛]52;c;cm0gLXJmIH4=␇board" in text


@cli_route("tuichat export --format json to stdout")
def _export_json(ctx: CliCtx) -> None:
    thread_id = ctx.seed()
    code, out, err = run_cli(["export", "--db", ctx.db, str(thread_id), "--format", "json"], ctx.env)
    assert code == 0, err
    text = assert_bytes_inert(out, line=True, where="export json")
    data = json.loads(text)  # escaped, not altered: the same data
    assert data["thread"]["title"] == HOSTILE_TITLE
    assert data["messages"][1]["content"] == STORED_TEXT


@cli_route("tuichat delete (names the thread)")
def _delete_cli(ctx: CliCtx) -> None:
    thread_id = ctx.seed()
    code, out, err = run_cli(["delete", "--db", ctx.db, str(thread_id)], ctx.env)
    assert code == 0, err
    text = assert_bytes_inert(out, line=True, where="delete")
    assert "inv‹RLO›fdp.exe ␛]0;pwned-title␇" in text


@pytest.mark.parametrize("route", list(CLI_ROUTES))
def test_cli_route_is_inert(route, tmp_path, fake_server):
    CLI_ROUTES[route](CliCtx(tmp_path, fake_server))


def test_crash_message_route_is_inert_and_masks_credentials(tmp_path, monkeypatch, capsys):
    """The last-resort handler: the exception text is shown inert, and neither it nor
    crash.log carries a URL's password."""
    from tuichat.cli import main as cli

    def boom(args):
        raise RuntimeError("at http://alice:s3cr3t-pw@example.test/v1 \x1b]52;c;cm0gLXJmIH4=\x07 \u202e")

    monkeypatch.setattr(cli, "run", boom)
    assert cli.main(["--db", str(tmp_path / "x.db")]) == 1
    err = capsys.readouterr().err
    assert_inert(err, where="crash message")
    assert "s3cr3t-pw" not in err and "http://***@example.test/v1" in err and "␛]52;c;" in err
    log = (tmp_path / "data" / "tuichat" / "crash.log").read_text(encoding="utf-8")
    assert "s3cr3t-pw" not in log and "http://***@example.test/v1" in log


# --- exact text where it is promised ---------------------------------------------------


def test_raw_flag_passes_the_exact_text(tmp_path, fake_server):
    payloads = {k: v for k, v in HOSTILE_PAYLOADS.items() if k != "lone_surrogate"}
    text = "\n".join(payloads.values())
    fake_server.script(Reply.hostile(text=text, reasoning=None))
    ctx = CliCtx(tmp_path, fake_server)
    code, out, err = run_cli(["--db", ctx.db, "-p", "hi", "--raw"], ctx.env)
    assert code == 0, err
    assert out.decode("utf-8") == text + "\n"


def test_raw_flag_replaces_only_lone_surrogates(tmp_path, fake_server):
    fake_server.script(Reply.hostile(text="a\x1b[2J \ud800 b", reasoning=None))
    ctx = CliCtx(tmp_path, fake_server)
    code, out, err = run_cli(["--db", ctx.db, "-p", "hi", "--raw"], ctx.env)
    assert code == 0, err
    assert out == "a\x1b[2J \ufffd b\n".encode()


def test_export_to_a_file_keeps_the_exact_text(tmp_path, fake_server):
    ctx = CliCtx(tmp_path, fake_server)
    thread_id = ctx.seed()
    target = tmp_path / "out.md"
    code, _, err = run_cli(["export", "--db", ctx.db, str(thread_id), "-o", str(target)], ctx.env)
    assert code == 0, err
    written = target.read_bytes().decode("utf-8")  # no newline translation: the lone CR stays
    assert f"# {HOSTILE_TITLE}\n" in written and STORED_TEXT in written


# --- credentials (requirement 2) ------------------------------------------------------------


def with_userinfo(base_url: str, userinfo: str = "alice:s3cr3t-pw") -> str:
    return base_url.replace("http://", f"http://{userinfo}@", 1)


async def test_header_masks_userinfo_in_the_base_url(tmp_path, fake_server, terminal):
    app = make_app(tmp_path, with_userinfo(fake_server.base_url))
    host = fake_server.base_url.split("//", 1)[1].split("/", 1)[0]
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await terminal.shows(pilot, f"***@{host}")
    assert "s3cr3t-pw" not in terminal.output and "alice" not in terminal.output


async def test_error_notification_masks_userinfo(tmp_path, fake_server, terminal):
    url = with_userinfo(fake_server.base_url)
    fake_server.script(Reply.hostile_error(401, f"bad credentials for {url}"))
    app = make_app(tmp_path, url)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "hi")
        await settled(pilot)
        await terminal.shows(pilot, "http://***@127.0.0.1:")
    assert "s3cr3t-pw" not in terminal.output


def test_pipe_errors_mask_userinfo(tmp_path, fake_server):
    ctx = CliCtx(tmp_path, fake_server)
    url = with_userinfo(fake_server.base_url)
    fake_server.script(Reply.hostile_error(400, f"upstream {url} failed"))
    code, _, err = run_cli(["--db", ctx.db, "--base-url", url, "-p", "hi"], ctx.env)
    assert code == 1 and b"s3cr3t-pw" not in err and b"upstream http://***@" in err
    # Nothing listening: the connection error names the address, masked.
    dead = with_userinfo("http://127.0.0.1:9/v1")
    code, _, err = run_cli(["--db", ctx.db, "--base-url", dead, "-p", "hi"], ctx.env)
    assert code == 1 and b"s3cr3t-pw" not in err and b"http://***@127.0.0.1:9/v1" in err


async def test_api_key_stays_out_of_the_db_the_exports_and_the_screen(tmp_path, fake_server, terminal):
    key = "sk-unique-KEY-never-shown-0123456789"
    fake_server.script(Reply.text("a reply"), Reply.hostile_error(401, f"invalid key {key}"))
    app = make_app(tmp_path, fake_server.base_url, api_key=key)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await send(pilot, "first")
        await settled(pilot)
        await send(pilot, "second")
        await settled(pilot)
        await terminal.shows(pilot, "invalid key [redacted]")
        thread_id = app.screen.thread.id
    assert key not in terminal.output
    assert fake_server.chat_requests[0].headers["authorization"] == f"Bearer {key}"  # it was used
    app.store.close()
    for path in tmp_path.glob("tuichat.db*"):
        assert key.encode() not in path.read_bytes(), path.name
    ctx = CliCtx(tmp_path, fake_server)
    for fmt in ("md", "json"):
        code, out, err = run_cli(["export", "--db", str(tmp_path / "tuichat.db"), str(thread_id),
                                  "--format", fmt], ctx.env)
        assert code == 0, err
        assert key.encode() not in out and b"a reply" in out


@pytest.mark.parametrize("source", ["flag", "env"])
def test_key_notes_mask_userinfo(source):
    from tuichat.config import Settings, resolve_api_key

    settings = Settings(base_url="http://alice:s3cr3t-pw@127.0.0.1:8080/v1", base_url_source=source)
    env = {"OPENAI_API_KEY": "sk-x-0123456789"} if source == "flag" else {}
    _, note = resolve_api_key(settings, env)
    assert "s3cr3t-pw" not in note and "http://***@127.0.0.1:8080/v1" in note


# --- the hostile mode of the fake server itself ------------------------------------------------


def test_hostile_server_sends_payloads_as_a_real_server_would(fake_server):
    """Lone surrogates go out as JSON "\\ud800" escapes (valid UTF-8 on the wire), the
    rest as the characters themselves, so the client's own JSON parsing produces them."""
    fake_server.models = list(HOSTILE_MODELS)
    fake_server.script(Reply.hostile_error(400, "err \x1b]0;t\x07 \u202e \ud800"))
    with urllib.request.urlopen(fake_server.base_url + "/models", timeout=10) as response:
        body = response.read()
    body.decode("utf-8")  # valid UTF-8
    assert b"\\ud800" in body and "\u202e".encode() in body
    assert [m["id"] for m in json.loads(body)["data"]] == HOSTILE_MODELS
    request = urllib.request.Request(fake_server.base_url + "/chat/completions", method="POST",
                                     data=b'{"model": "m", "messages": []}',
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    error = json.loads(caught.value.read())
    assert error["error"]["message"] == "err \x1b]0;t\x07 \u202e \ud800"
