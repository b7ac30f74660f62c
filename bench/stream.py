"""Benchmark: the whole app streaming a long Markdown reply from a local server.

Not a test: it prints figures and the budgets they are held to (PERFORMANCE.md):
  - CPU(8,000 tokens) / CPU(2,000 tokens) <= 4.5, same run (linear, not quadratic)
  - <= 0.15 CPU-s per 1,000 tokens for the 8,000-token reply at full speed, after a
    warm-up reply
  - <= 20% of one core over a 2,000-token reply at 200 tokens/s
  - first token on screen <= 30 ms after it arrives (held at 200 tokens/s)
  - last token on screen <= 100 ms after the last byte, 2,000 tokens at 200 tokens/s

Usage (from the repository root, with the project's venv):
  python bench/stream.py                      # everything, 3 runs (about 3-4 minutes)
  python bench/stream.py --quick              # one run of each (about 2 minutes)
  python bench/stream.py --harness headless --sizes 8000 --rates 0 --runs 1 --profile /tmp/prof

Method
  The reply is bench/corpus.py's markdown_reply(tokens) plus a last paragraph
  "END-OF-REPLY-<tokens>", served by tests/fake_openai.py (a subprocess) in events of
  --chunk-chars characters (default 6, about one token: the corpus has 5.5 characters per
  token), either as fast as it can send (--tokens-per-second 0: it writes until the socket
  pushes back) or paced at --rates tokens/s (200 tokens/s = 1,100 chars/s = 183 events/s
  of 6 characters). A --fixed-tokens (20) reply at full speed measures what a send costs
  apart from the streaming; the ratio and the CPU per 1,000 tokens are also shown without
  it ("net").
  Between the app and the server sits a small TCP relay (this file run with --relay, a
  separate process, so its CPU is not the client's). It timestamps the moment it handed
  the app the first content event (the first token's "arrival") and the final
  "data: [DONE]" event (the last byte; the server sends the finish, usage and [DONE]
  events right after the last content event, without pacing).
  Every run is a fresh process with an empty database, with the openai SDK already
  imported (the app imports it and builds its client in a worker thread once the user
  starts typing); no run inherits caches warmed by another. Unless --no-warmup-reply,
  each run first sends "WARM-UP...", which the server answers with a 300-token reply of
  the same kinds of Markdown at full speed, waits for it, and leaves its thread with
  Ctrl+R: the measured reply is then a user's second reply, with the one-time costs (the
  first code block's lexer, the first table) paid, as PERFORMANCE.md's budget says.
  headless: the real TuichatApp (built as tests/apphelpers.py builds it, with the CLI's
    provider settings) under App.run_test(size=(120, 40)), in a child process
    (--headless-child). The prompt is put in the composer and Enter pressed. CPU is
    time.process_time() (all threads) from just before Enter until the end-marker has
    been painted and the app is no longer generating. "Painted" means the compositor
    asked the transcript for a line (render_line) that shows it, i.e. it is in the frame
    being built; headless Textual does not turn frames into escape codes, so this
    harness leaves out that part of a real terminal's cost. Latencies are given from
    the relay's timestamps and also from the moment the text reached
    Transcript.append_reply.
  tmux: `tuichat` in a private tmux server, 120x40. After its first screen, the bench
    types the prompt (which starts the app's SDK warm-up), waits until it shows in the
    composer, the warm-up is done (pydantic_core mapped into the process) and the process
    is idle, reads utime+stime of the tuichat process from /proc/PID/stat, presses
    Enter, and polls `capture-pane` (through a tmux control-mode client, ~0.1 ms a poll):
    every 2 ms until the first token is on screen, every 50 ms until the relay has
    passed on [DONE], then every 2 ms (paced) or 10 ms (full speed) until the end-marker
    is on screen; CPU is read again once the status line no longer says "generating".
    /proc CPU times have 10 ms resolution. The last-token lag is also given against the
    server's own schedule (relay's first-token time + (events - 1) / rate), as a check.
  "First token on screen" is the first frame that shows any line of the reply: at full
  speed the start of the reply may have scrolled away before the first frame, and then
  the first token waits for the whole burst behind it to be parsed (reported, not held
  to the budget). At full speed the server finishes long before the app, so "last" there
  is the app's backlog, not a latency.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SIZE = (120, 40)
CHARS_PER_TOKEN = 5.5  # bench/corpus.py's convention
PROMPT = "Write a long answer with lists, code and a table."
# The warm-up reply: the same kinds of Markdown (and code languages) as the measured one,
# so its one-time costs (the first table, the first lexer) are paid before measuring. It
# streams in its own thread, which Ctrl+R then leaves, so none of it is on screen after.
WARMUP_PROMPT = "WARM-UP: a short answer, please."
WARMUP_MARKER = "END-OF-WARMUP"


def warmup_text() -> str:
    from corpus import markdown_reply

    return markdown_reply(300, seed=99) + f"\n\n{WARMUP_MARKER}\n"


RATIO_BUDGET = 4.5
PER_1K_BUDGET = 0.15
CORE_BUDGET = 0.20  # of one core, 2,000 tokens at 200 tokens/s
FIRST_BUDGET_MS = 30.0
LAST_BUDGET_MS = 100.0


# ============================================================================ relay


def relay_main(upstream: str) -> int:
    """Forward TCP connections to `upstream` (host:port); print the listening port, then
    one line per event: "first <monotonic>" (first content event passed to the client)
    and "done <monotonic>" (the [DONE] event passed on)."""
    host, _, port = upstream.rpartition(":")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(listener.getsockname()[1], flush=True)
    lock = threading.Lock()

    def emit(event: str, when: float) -> None:
        with lock:
            sys.stdout.write(f"{event} {when:.6f}\n")
            sys.stdout.flush()

    def pump(src: socket.socket, dst: socket.socket, watch: bool) -> None:
        tail = b""
        first_seen = False  # per response; a kept-alive connection carries several
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if watch:
                    now = time.monotonic()
                    buf = tail + data
                    # The role event has "content":"" ; the first text event does not.
                    if not first_seen and _first_content(buf):
                        first_seen = True
                        emit("first", now)
                    if b"data: [DONE]" in buf:
                        emit("done", now)
                        first_seen, tail = False, b""
                    else:
                        tail = buf[-32:]
        except OSError:
            pass
        finally:
            for s in (dst, src):
                try:
                    s.shutdown(socket.SHUT_WR if s is dst else socket.SHUT_RD)
                except OSError:
                    pass

    def serve(client: socket.socket) -> None:
        try:
            server = socket.create_connection((host, int(port)))
        except OSError:
            client.close()
            return
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        up = threading.Thread(target=pump, args=(client, server, False), daemon=True)
        up.start()
        pump(server, client, True)
        up.join(timeout=1)
        client.close()
        server.close()

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def _first_content(buf: bytes) -> bool:
    i = buf.find(b'"content":"')
    while i >= 0:
        if buf[i + 11 : i + 12] not in (b'"', b""):
            return True
        i = buf.find(b'"content":"', i + 11)
    return False


# ====================================================================== processes


class Events:
    """Lines from the relay, collected by a thread."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self._cond = threading.Condition()
        self._events: list[tuple[str, float]] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            parts = line.split()
            if len(parts) == 2:
                with self._cond:
                    self._events.append((parts[0], float(parts[1])))
                    self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._events.clear()

    def get(self, name: str) -> float | None:
        """The last `name` event: the measured reply comes after the warm-up reply."""
        with self._cond:
            return next((t for e, t in reversed(self._events) if e == name), None)

    def wait(self, name: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                t = next((t for e, t in self._events if e == name), None)
                left = deadline - time.monotonic()
                if t is not None or left <= 0:
                    return t
                self._cond.wait(left)


@dataclass
class Case:
    tokens: int
    rate: float  # tokens per second; 0 = as fast as the server can send
    text: str
    marker: str
    chunk_chars: int
    seed: int = 0

    def shows(self, line: str) -> bool:
        """Is this line of the screen a piece of the reply? The first token counts as
        on screen once any line of the reply is: at full speed the start of the reply may
        have scrolled away before the first frame. A line counts if it is a prefix of the
        reply (at least 4 characters) or a piece of it of at least 12 characters."""
        text = line.strip()
        for candidate in (text, text[:-2].rstrip()):  # with or without a scrollbar cell
            if len(candidate) >= 12 and candidate in self.text:
                return True
            if len(candidate) >= 4 and self.text.startswith(candidate):
                return True
        return False

    @property
    def events(self) -> int:
        return math.ceil(len(self.text) / self.chunk_chars)

    @property
    def event_rate(self) -> float:
        return self.rate * CHARS_PER_TOKEN / self.chunk_chars if self.rate > 0 else 0.0

    @property
    def label(self) -> str:
        speed = "full speed" if self.rate <= 0 else f"{self.rate:g} tok/s"
        return f"{self.tokens:>5} tokens, {speed}"


class Backend:
    """The fake server and the relay in front of it, for one case."""

    def __init__(self, case: Case, text_file: Path) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        warm_file = text_file.with_name("warm-up.md")
        warm_file.write_text(warmup_text(), encoding="utf-8")
        server = self._start([
            sys.executable, str(ROOT / "tests" / "fake_openai.py"), "--port", "0",
            "--text-file", str(text_file), "--tokens-per-second", f"{case.event_rate:g}",
            "--chunk-chars", str(case.chunk_chars), "--warmup-text-file", str(warm_file),
        ])
        url = server.stdout.readline().strip()  # type: ignore[union-attr]
        if not url.startswith("http://"):
            raise RuntimeError(f"the fake server did not start: {url!r}")
        hostport = url.split("//", 1)[1].split("/", 1)[0]
        relay = self._start([sys.executable, str(Path(__file__).resolve()), "--relay", hostport])
        port = relay.stdout.readline().strip()  # type: ignore[union-attr]
        if not port.isdigit():
            raise RuntimeError(f"the relay did not start: {port!r}")
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.events = Events(relay.stdout)

    def _start(self, argv: list[str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                env=_clean_env())
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}


# ========================================================================= results


@dataclass
class Result:
    harness: str
    case: Case
    cpu: float
    wall: float
    first_ms: float  # first token painted - relay handed it over
    last_ms: float  # end-marker painted - relay handed over [DONE]
    first_client_ms: float = math.nan  # headless: painted - reached Transcript.append_reply
    last_client_ms: float = math.nan
    last_sched_ms: float = math.nan  # tmux: painted - the server's schedule for the last event
    gc2_n: int = 0  # headless: full garbage collections while streaming
    gc2_max_ms: float = math.nan  # ... and the longest of them
    notes: dict[str, float] = field(default_factory=dict)

    @property
    def per_1k(self) -> float:
        return self.cpu / (self.case.tokens / 1000)


def fmt_ms(x: float) -> str:
    return "     -" if math.isnan(x) else f"{x:6.1f}"


def print_run(r: Result, i: int) -> None:
    line = (f"  {r.harness:8} {r.case.label:24} run {i}: CPU {r.cpu:6.2f} s  ({r.per_1k:5.3f} s/1k tok)"
            f"  wall {r.wall:6.2f} s  first {fmt_ms(r.first_ms)} ms  last {fmt_ms(r.last_ms)} ms")
    if r.harness == "headless":
        line += (f"  (from append_reply: first {fmt_ms(r.first_client_ms)}, last {fmt_ms(r.last_client_ms)};"
                 f" full GCs: {r.gc2_n}, longest {fmt_ms(r.gc2_max_ms).strip()} ms)")
    elif r.case.rate > 0:
        line += f"  (vs server schedule: last {fmt_ms(r.last_sched_ms)})"
    print(line, flush=True)


# ======================================================================= headless


def _build_app(base_url: str, db: Path, variant: str | None = None):  # type: ignore[no-untyped-def]
    """The app as tests/apphelpers.py's make_app builds it, with the CLI's provider
    settings (default timeout and retries) and the placeholder key a keyless local server
    gets. `variant` "with": replies priced from genai-prices' table (as OpenAI's own
    replies are), "without": no price and no per-reply line (the A/B of --stats-ab)."""
    from tuichat.config import PLACEHOLDER_KEY, Settings
    from tuichat.core.personas import default_dirs, load_personas
    from tuichat.providers.openai import OpenAIProvider
    from tuichat.store import Store
    from tuichat.ui.app import TuichatApp

    settings = Settings(model="fake", base_url=base_url, base_url_source="flag")
    personas = load_personas(default_dirs())

    def provider_factory() -> OpenAIProvider:
        return OpenAIProvider(api_key=PLACEHOLDER_KEY, base_url=base_url, timeout=settings.timeout)

    app = TuichatApp(
        store=Store(db), settings=settings, personas=personas, persona=personas["default"],
        provider_factory=provider_factory, api_key=PLACEHOLDER_KEY,
        model_override="gpt-4o-mini" if variant else "fake",
    )
    if variant == "with":
        from tuichat.session.pricing import Pricing

        # Priced as a reply from OpenAI is: the table loads in the warm-up, the cost after the reply.
        app.ws.pricing = Pricing({}, "https://api.openai.com/v1")
    elif variant == "without":
        import tuichat.ui.screens.chat_send as chat_send
        import tuichat.ui.screens.chat_view as chat_view
        from tuichat.session.pricing import Pricing

        app.ws.pricing = Pricing()  # a local server: no price
        chat_send.reply_stats = chat_view.reply_stats = lambda message: None  # no line under the reply
    return app


async def _until(predicate, timeout: float, step: float = 0.01) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


def headless_once(case: Case, backend: Backend, db: Path, profile: Path | None, warmup: bool = True,
                  variant: str | None = None) -> Result:
    """One headless run in a fresh python process, so every run is the first send of a
    new app, as in the tmux harness (no run inherits another's warmed-up caches).
    `variant` (--stats-ab): "with" the per-reply line and its cost from the price table,
    or "without" either."""
    job = {"base_url": backend.base_url, "tokens": case.tokens, "rate": case.rate,
           "chunk_chars": case.chunk_chars, "seed": case.seed, "db": str(db),
           "profile": str(profile) if profile else None, "warmup": warmup, "variant": variant}
    backend.events.clear()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--headless-child", json.dumps(job)],
                          capture_output=True, text=True, env=os.environ.copy())
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"headless {case.label}: the run failed:\n{proc.stderr[-3000:]}")
    st = json.loads(lines[-1])
    relay_first, relay_done = backend.events.get("first"), backend.events.get("done")
    ms = lambda a, b: (a - b) * 1000 if a is not None and b is not None else math.nan  # noqa: E731
    return Result(
        "headless", case, st["cpu"], st["wall"],
        first_ms=ms(st.get("paint_first"), relay_first),
        last_ms=ms(st.get("paint_last"), relay_done),
        first_client_ms=ms(st.get("paint_first"), st.get("arrive_first")),
        last_client_ms=ms(st.get("paint_last"), st.get("arrive_last")),
        gc2_n=int(st.get("gc2_n", 0)), gc2_max_ms=st.get("gc2_max_ms", math.nan),
    )


def headless_child(job_json: str) -> int:
    job = json.loads(job_json)
    import openai  # noqa: F401  (the app imports it in the background at start-up; do it up front)

    case = make_case(job["tokens"], job["rate"], job["chunk_chars"], job["seed"])
    profile = Path(job["profile"]) if job["profile"] else None
    st = asyncio.run(_headless(case, job["base_url"], Path(job["db"]), profile, job["warmup"], job.get("variant")))
    print(json.dumps(st), flush=True)
    return 0


async def _headless(case: Case, base_url: str, db: Path, profile: Path | None, warmup: bool,
                    variant: str | None = None) -> dict[str, float]:
    from tuichat.ui.screens.chat import ChatScreen
    from tuichat.ui.widgets.composer import Composer
    from tuichat.ui.widgets.transcript import Transcript

    app = _build_app(base_url, db, variant)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: isinstance(app.screen, ChatScreen), 10)
        await pilot.pause()
        screen = app.screen
        transcript = screen.query_one(Transcript)
        composer = screen.query_one(Composer)

        total = len(case.text)
        st: dict[str, float] = {"chars": 0}
        append_reply = transcript.append_reply
        render_line = transcript.render_line

        def spy_append(text: str) -> None:
            now = time.monotonic()
            st.setdefault("arrive_first", now)
            st["arrive_last"] = now
            st["chars"] += len(text)
            append_reply(text)

        def spy_render(y: int):  # type: ignore[no-untyped-def]
            strip = render_line(y)
            if "paint_first" not in st and "arrive_first" in st and case.shows(strip.text):
                st["paint_first"] = time.monotonic()
            if st["chars"] >= total and "paint_last" not in st and case.marker in strip.text:
                st["paint_last"] = time.monotonic()
            return strip

        transcript.append_reply = spy_append  # type: ignore[method-assign]
        transcript.render_line = spy_render  # type: ignore[method-assign]

        composer.text = WARMUP_PROMPT  # starts the SDK warm-up, as typing does; wait it out
        await _until(lambda: app._warm_up_worker is not None and app._warm_up_worker.is_finished, 15)
        await pilot.pause()
        if warmup:
            # A warm-up reply, then a fresh thread (Ctrl+R), as a user's second reply.
            await pilot.press("enter")
            if not await _until(lambda: WARMUP_MARKER in transcript.reply_text and not screen.generating, 30):
                raise RuntimeError("headless: the warm-up reply never finished")
            await pilot.press("ctrl+r")
            await _until(lambda: screen.thread is None, 10)
            await pilot.pause()
        composer.text = PROMPT
        await pilot.pause()
        st["chars"] = 0
        st.pop("arrive_first", None)
        st.pop("arrive_last", None)
        st.pop("paint_first", None)
        profiler = None
        if profile is not None:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        # Full (generation 2) garbage collections stop the event loop; count them.
        gc_start: list[float] = []

        def gc_watch(phase: str, info: dict) -> None:  # type: ignore[type-arg]
            if info.get("generation") != 2:
                return
            if phase == "start":
                gc_start[:] = [time.perf_counter()]
            elif gc_start:
                pause = (time.perf_counter() - gc_start[0]) * 1000
                st["gc2_n"] = st.get("gc2_n", 0) + 1
                st["gc2_max_ms"] = max(st.get("gc2_max_ms", 0.0), pause)

        gc.callbacks.append(gc_watch)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await pilot.press("enter")
        timeout = 60 + (case.tokens / case.rate if case.rate > 0 else 0)
        done = await _until(lambda: "paint_last" in st and not screen.generating, timeout, 0.005)
        if done and variant == "with":
            # The line under the reply, with its cost from the price table, is drawn.
            done = await _until(lambda: "$" in (transcript._entries[-1].stats or ""), 10, 0.005)
            await pilot.pause()
            st["stats_line"] = transcript._entries[-1].stats  # type: ignore[assignment]
        elif done and variant == "without":
            await pilot.pause()  # as many frames as the other variant
            if transcript._entries[-1].stats:
                raise RuntimeError("headless: the per-reply line was drawn with --stats-ab's 'without'")
        cpu = time.process_time() - cpu0
        gc.callbacks.remove(gc_watch)
        if profiler is not None:
            profiler.disable()
            profile.parent.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(profile))
        if not done:
            raise RuntimeError(f"headless {case.label}: the end-marker was not painted within {timeout:g} s"
                               f" ({st['chars']:.0f} of {total} chars arrived)")
        if transcript.reply_text != case.text:
            raise RuntimeError(f"headless {case.label}: the transcript's text differs from what was sent")
        st["cpu"] = cpu
        st["wall"] = st["paint_last"] - wall0
    return st


# =========================================================================== tmux


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_warm(pid: int, timeout: float = 15.0) -> None:
    """Until the background import of openai is done (pydantic_core is loaded, as openai
    needs it) and the process has been idle for 0.3 s."""
    deadline = time.monotonic() + timeout
    tick = 1 / os.sysconf("SC_CLK_TCK")
    while time.monotonic() < deadline:
        if "pydantic_core" in Path(f"/proc/{pid}/maps").read_text():
            break
        time.sleep(0.05)
    quiet, last = 0, proc_cpu(pid)
    while quiet < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
        now = proc_cpu(pid)
        quiet = quiet + 1 if now - last <= tick * 1.01 else 0
        last = now


def tmux_once(tmux, case: Case, backend: Backend, tmp: Path, name: str,  # type: ignore[no-untyped-def]
              warmup: bool = True) -> Result:
    from startup import TmuxError, time_to_screen

    tuichat = str(Path(sys.executable).with_name("tuichat"))
    if not Path(tuichat).exists():
        tuichat = shutil.which("tuichat") or "tuichat"
    argv = [tuichat, "--base-url", backend.base_url, "--model", "fake", "--db", str(tmp / "tuichat.db")]
    env = {"XDG_CONFIG_HOME": str(tmp / "config"), "XDG_DATA_HOME": str(tmp / "data")}
    _, pid, _ = time_to_screen(tmux, name, argv, env)
    try:
        if b"tuichat" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            raise TmuxError(f"the pane's process {pid} is not tuichat; cannot read its CPU")

        def screen() -> str:
            return "\n".join(tmux.capture(name))

        def type_in(text: str) -> None:
            tmux.send_keys(name, "-l", text)
            limit = time.monotonic() + 10
            while text not in screen():
                if time.monotonic() > limit:
                    raise TmuxError("the prompt never showed in the composer")
                time.sleep(0.005)

        # Typing starts the app's SDK warm-up (import + client, in a worker thread). Enter
        # is pressed only once the text is in the composer and the warm-up is over, so CPU
        # and latencies are the streaming's alone.
        type_in(WARMUP_PROMPT if warmup else PROMPT)
        wait_warm(pid)
        if warmup:
            # A warm-up reply, then a fresh thread (Ctrl+R), as a user's second reply.
            tmux.send_keys(name, "Enter")
            limit = time.monotonic() + 30
            while not (WARMUP_MARKER in (text := screen()) and "generating" not in text.splitlines()[0]):
                if time.monotonic() > limit:
                    raise TmuxError("the warm-up reply never finished")
                time.sleep(0.02)
            tmux.send_keys(name, "C-r")
            while WARMUP_MARKER in screen():
                if time.monotonic() > limit:
                    raise TmuxError("Ctrl+R did not leave the warm-up thread")
                time.sleep(0.01)
            type_in(PROMPT)
            wait_warm(pid)
        backend.events.clear()
        cpu0 = proc_cpu(pid)
        t0 = time.monotonic()
        tmux.send_keys(name, "Enter")
        limit = t0 + 60 + (case.tokens / case.rate if case.rate > 0 else 0)

        def poll(pred, step: float) -> float:  # type: ignore[no-untyped-def]
            while True:
                text = screen()
                now = time.monotonic()
                if pred(text):
                    return now
                if now > limit:
                    tail = text
                    raise TmuxError(f"tmux {case.label}: timed out; the screen ends with:\n{tail}")
                time.sleep(step)

        def reply_shown(s: str) -> bool:
            # The transcript is right of the thread list's border (the last "▕").
            return any(case.shows(line.rsplit("▕", 1)[-1]) for line in s.splitlines()[1:-1])

        paint_first = poll(reply_shown, 0.002)
        poll(lambda s: backend.events.get("done") is not None or case.marker in s, 0.05)
        paint_last = poll(lambda s: case.marker in s, 0.002 if case.rate > 0 else 0.010)
        poll(lambda s: "generating" not in s.splitlines()[0], 0.010)
        cpu = proc_cpu(pid) - cpu0
        wall = paint_last - t0
    finally:
        tmux.kill(name, pid)
    relay_first, relay_done = backend.events.get("first"), backend.events.get("done")
    ms = lambda a, b: (a - b) * 1000 if a is not None and b is not None else math.nan  # noqa: E731
    sched = (relay_first + (case.events - 1) / case.event_rate
             if relay_first is not None and case.rate > 0 else None)
    return Result("tmux", case, cpu, wall, first_ms=ms(paint_first, relay_first),
                  last_ms=ms(paint_last, relay_done), last_sched_ms=ms(paint_last, sched))


# =========================================================================== main


def make_case(tokens: int, rate: float, chunk_chars: int, seed: int) -> Case:
    from corpus import markdown_reply

    marker = f"END-OF-REPLY-{tokens}"
    text = markdown_reply(tokens, seed) + f"\n\n{marker}\n"
    if len(text[:chunk_chars].strip()) < 4:
        raise SystemExit("--chunk-chars must be at least 4 (the first event is looked for on screen)")
    return Case(tokens, rate, text, marker, chunk_chars, seed)


def median(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


def summary(results: list[Result], harnesses: list[str], fixed: int) -> None:
    def pick(h: str, tokens: int, rate: float) -> list[Result]:
        return [r for r in results if r.harness == h and r.case.tokens == tokens and r.case.rate == rate]

    def med(h: str, tokens: int, rate: float, attr: str) -> float:
        return median([getattr(r, attr) for r in pick(h, tokens, rate)])

    cases = sorted({(r.case.rate, r.case.tokens) for r in results})
    print()
    print("medians  (first: first token painted - relay handed it to the app; last: end-marker painted -"
          " relay handed over [DONE];")
    print("          at full speed the server finishes long before the app, so 'last' there is the app's backlog)")
    print(f"  {'harness':8} {'case':24} {'runs':>4} {'CPU s':>7} {'CPU/1k':>7} {'wall s':>7}"
          f" {'first ms':>9} {'last ms':>8}")
    for h in harnesses:
        for rate, tokens in cases:
            rs = pick(h, tokens, rate)
            if rs:
                print(f"  {h:8} {rs[0].case.label:24} {len(rs):4d} {med(h, tokens, rate, 'cpu'):7.2f}"
                      f" {med(h, tokens, rate, 'per_1k'):7.3f} {med(h, tokens, rate, 'wall'):7.2f}"
                      f" {fmt_ms(med(h, tokens, rate, 'first_ms')):>9} {fmt_ms(med(h, tokens, rate, 'last_ms')):>8}")
    pauses = [r.gc2_max_ms for r in results if r.harness == "headless" and not math.isnan(r.gc2_max_ms)]
    if pauses:
        print(f"  longest full (generation 2) garbage collection while streaming, headless: {max(pauses):.1f} ms"
              f" (median of the runs' longest: {median(pauses):.1f} ms); the UI stops meanwhile")
    print()
    print("budgets (PERFORMANCE.md)")
    ok = lambda good: "ok" if good else "OVER"  # noqa: E731
    for h in harnesses:
        base = med(h, fixed, 0, "cpu") if fixed else math.nan
        if not math.isnan(base):
            print(f"  {h:8} fixed cost of a send ({fixed}-token reply, full speed): {base:.3f} CPU-s"
                  " (included in every figure below; 'net' = without it)")
        small, big = med(h, 2000, 0, "cpu"), med(h, 8000, 0, "cpu")
        if not math.isnan(small) and not math.isnan(big):
            ratio = big / small
            net = (big - base) / (small - base) if not math.isnan(base) else math.nan
            each = [b.cpu / a.cpu for a, b in zip(pick(h, 2000, 0), pick(h, 8000, 0))]
            print(f"  {h:8} CPU(8000)/CPU(2000), full speed: {ratio:5.2f}  (net {net:5.2f};"
                  f" run by run: {', '.join(f'{x:.2f}' for x in each)})"
                  f"   budget <= {RATIO_BUDGET:g}  {ok(ratio <= RATIO_BUDGET)}")
        if not math.isnan(big):
            per = big / 8
            net = (big - base) / 8 if not math.isnan(base) else math.nan
            print(f"  {h:8} CPU per 1,000 tokens, 8,000 at full speed: {per:5.3f} s  (net {net:5.3f})"
                  f"   budget <= {PER_1K_BUDGET}  {ok(per <= PER_1K_BUDGET)}")
        for rate in sorted({r.case.rate for r in results if r.harness == h}):
            firsts = [r.first_ms for r in results if r.harness == h and r.case.rate == rate]
            f = median(firsts)
            speed = "full speed" if rate <= 0 else f"{rate:g} tok/s"
            tag = (f"budget <= {FIRST_BUDGET_MS:g} ms  {ok(f <= FIRST_BUDGET_MS)}" if rate > 0 else
                   "(a flood: the first token waits for the events behind it)")
            print(f"  {h:8} first token on screen after it arrives, {speed}: {fmt_ms(f)} ms"
                  f" (max {fmt_ms(max(firsts))})   {tag}")
        for rate in sorted({r.case.rate for r in results if r.harness == h and r.case.rate > 0}):
            for tokens in sorted({r.case.tokens for r in results if r.harness == h and r.case.rate == rate}):
                lasts = [r.last_ms for r in pick(h, tokens, rate)]
                m = median(lasts)
                tag = (f"budget <= {LAST_BUDGET_MS:g} ms  {ok(m <= LAST_BUDGET_MS)}" if tokens == 2000 and rate == 200
                       else "(the budget is for 2,000 at 200 tok/s)")
                print(f"  {h:8} last token on screen after the last byte, {tokens} at {rate:g} tok/s:"
                      f" {fmt_ms(m)} ms (max {fmt_ms(max(lasts))})   {tag}")
                per = med(h, tokens, rate, "per_1k")
                share = med(h, tokens, rate, "cpu") / med(h, tokens, rate, "wall")
                tag = (f"budget <= {CORE_BUDGET:.0%}  {ok(share <= CORE_BUDGET)}" if tokens == 2000 and rate == 200
                       else "(the budget is for 2,000 at 200 tok/s)")
                print(f"  {h:8} CPU at {rate:g} tok/s over {tokens} tokens: {share:.1%} of a core"
                      f" ({per:5.3f} s per 1,000 tokens)   {tag}")


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--relay":
        return relay_main(sys.argv[2])
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--headless-child":
        return headless_child(sys.argv[2])
    p = argparse.ArgumentParser(description="Stream long replies through the whole app; print CPU and latency.")
    p.add_argument("--runs", type=int, default=3, help="runs per case (default 3)")
    p.add_argument("--paced-long-runs", type=int, default=1,
                   help="runs of the paced cases longer than 2,000 tokens (default 1: 40 s each at 200 tok/s)")
    p.add_argument("--quick", action="store_true", help="one run of each case")
    p.add_argument("--harness", choices=["headless", "tmux", "both"], default="both")
    p.add_argument("--sizes", default="2000,8000", help="reply sizes in tokens (default 2000,8000)")
    p.add_argument("--rates", default="0,200", help="tokens/s; 0 = as fast as possible (default 0,200)")
    p.add_argument("--fixed-tokens", type=int, default=20,
                   help="size of the tiny reply that measures the fixed cost of a send (0: skip)")
    p.add_argument("--chunk-chars", type=int, default=6, help="characters per SSE event (default 6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-warmup-reply", dest="warmup", action="store_false",
                   help="measure the first reply of a new app (default: a warm-up reply first)")
    p.add_argument("--profile", type=Path, default=None,
                   help="headless: write a cProfile of each run into this directory")
    p.add_argument("--stats-ab", action="store_true",
                   help="headless A/B: the per-reply line and its cost from the price table, against neither, "
                        "interleaved (--runs pairs of 2,000 tokens at --rates' first rate)")
    args = p.parse_args(argv)
    if args.stats_ab:
        return stats_ab(args)
    if args.quick:
        args.runs = args.paced_long_runs = 1
    sizes = [int(x) for x in args.sizes.split(",")]
    rates = [float(x) for x in args.rates.split(",")]
    harnesses = ["headless", "tmux"] if args.harness == "both" else [args.harness]

    from startup import Tmux, clean_env, load_average, sigterm_to_exit

    sigterm_to_exit()
    root = private_dirs("tuichat-stream-")
    print(f"load average before: {load_average()} (on {os.cpu_count()} CPUs; other work on the box skews the figures)")
    print(f"streaming through the whole app: {', '.join(harnesses)}; {SIZE[0]}x{SIZE[1]};"
          f" {args.chunk_chars} chars per event; method: see the top of bench/stream.py")
    results: list[Result] = []
    tmux = None
    backend = None
    count = 0
    try:
        if "tmux" in harnesses:
            tmux = Tmux(clean_env())
        plan = [(rate, tokens) for rate in rates for tokens in sizes]
        if args.fixed_tokens and 0 in rates:
            plan.insert(0, (0.0, args.fixed_tokens))
        for rate, tokens in plan:
            case = make_case(tokens, rate, args.chunk_chars, args.seed)
            runs = args.runs if rate <= 0 or tokens <= 2000 else args.paced_long_runs
            text_file = root / f"reply-{tokens}.md"
            text_file.write_text(case.text, encoding="utf-8")
            backend = Backend(case, text_file)
            try:
                for i in range(1, runs + 1):
                    for h in harnesses:
                        count += 1
                        tmp = root / f"run{count}"
                        tmp.mkdir()
                        if h == "headless":
                            prof = args.profile / f"headless-{tokens}-{rate:g}-{i}.prof" if args.profile else None
                            r = headless_once(case, backend, tmp / "tuichat.db", prof, args.warmup)
                        else:
                            r = tmux_once(tmux, case, backend, tmp, f"run{count}", args.warmup)
                        results.append(r)
                        print_run(r, i)
            finally:
                backend.close()
                backend = None
    finally:
        if backend is not None:
            backend.close()
        if tmux is not None:
            tmux.close()
        shutil.rmtree(root, ignore_errors=True)
    print(f"load average after: {load_average()}")
    summary(results, harnesses, args.fixed_tokens)
    return 0


STATS_BUDGET = 0.02  # the line may add at most 2% to a reply's CPU ("nothing measurable")


def private_dirs(prefix: str) -> Path:
    """A temporary root whose config and data dirs the apps use (the headless app reads
    personas and config through XDG: keep it off the user's), and no server settings."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    os.environ["XDG_DATA_HOME"] = str(root / "data")
    for name in [k for k in os.environ if k.startswith(("OPENAI_", "AZURE_OPENAI_"))]:
        del os.environ[name]
    return root


def stats_ab(args: argparse.Namespace) -> int:
    """The per-reply line (tokens, cost, speed) costs nothing while streaming: a reply's
    CPU with the line and its cost from genai-prices' table, and without either, in
    interleaved runs of fresh processes; the difference beside the runs' own spread."""
    from startup import load_average, sigterm_to_exit

    sigterm_to_exit()
    root = private_dirs("tuichat-stats-")
    rate = float(args.rates.split(",")[0])
    case = make_case(2000, rate, args.chunk_chars, args.seed)
    text_file = root / "reply.md"
    text_file.write_text(case.text, encoding="utf-8")
    print(f"load average before: {load_average()} (on {os.cpu_count()} CPUs)")
    print(f"per-reply line A/B, headless, {case.label}, {args.runs} pairs, interleaved")
    cpu: dict[str, list[float]] = {"with": [], "without": []}
    backend = Backend(case, text_file)
    try:
        for i in range(args.runs):
            for variant in (("with", "without") if i % 2 == 0 else ("without", "with")):
                tmp = root / f"run-{i}-{variant}"
                tmp.mkdir()
                r = headless_once(case, backend, tmp / "tuichat.db", None, args.warmup, variant)
                cpu[variant].append(r.cpu)
                print(f"  pair {i + 1} {variant:8} CPU {r.cpu:6.3f} s", flush=True)
    finally:
        backend.close()
        shutil.rmtree(root, ignore_errors=True)
    with_, without = median(cpu["with"]), median(cpu["without"])
    added = (with_ - without) / without
    low, high = min(cpu["without"]), max(cpu["without"])
    print(f"load average after: {load_average()}")
    print(f"median CPU per reply: with the line {with_:.3f} s, without {without:.3f} s;"
          f" added {added:+.1%} (budget <= {STATS_BUDGET:.0%}: {'ok' if added <= STATS_BUDGET else 'OVER'});"
          f" the runs without it alone range over {low:.3f}-{high:.3f} s ({(high - low) / without:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
