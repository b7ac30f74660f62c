"""Benchmark: start-up, and the first message sent right after it, in a real terminal.

Not a test: it prints each figure beside its budget (PERFORMANCE.md):
  - start to a stable first screen <= 1.3x a bare Textual app (bench/bare_textual_app.py:
    Header, Static, TextArea, Footer) started the same way, medians of interleaved runs
  - the first frame is the final one: the screen does not change after it
  - resident memory after start <= 70 MB
  - the first message sent right after start reaches the server <= 0.3 s after Enter
  - the openai SDK is imported after the first paint, never before; and typing stays
    responsive while it loads (the event loop's worst stall is reported)
  - Markdown (rich.markdown, markdown-it) and pygments are not imported at start-up

Usage (from the repository root, with the project's venv):
  python bench/startup.py                # 5 interleaved runs of each
  python bench/startup.py --runs 10
  python bench/startup.py --tuichat /tmp/venv/bin/tuichat

Method
  One private tmux server (its own socket, `-f /dev/null`, 120x40) and one control-mode
  client (`tmux -C`), so a poll of the screen is a command on a pipe (~0.1 ms) instead of
  a forked tmux client (~3 ms of CPU on a 2-core box).

  Start-up: for each run, the bare Textual app and tuichat (fresh empty database and XDG
  directories) are started one after the other (interleaved, so a noisy moment hits both
  alike). The clock starts just before `new-session` is sent; `capture-pane -p` is
  polled every ~2 ms. "First" is when the app's whole screen is first seen (tuichat: the
  status line and the footer; the bare app: its footer). "Stable" is the last time the
  screen's text changed, once it has not changed for 0.6 s: a late change (a footer key
  that appears a frame later) counts against the app. "Changes" counts the screens seen
  after the first full one. A trivial program printing a full screen at once gives the
  tmux round trip, for reference. RSS is read 1 s after the stable screen, idle (nothing
  typed, so the SDK is not loaded: it loads when typing starts).

  First message: a fake OpenAI-compatible server runs in this process
  (tests/fake_openai.py), which notes when each request's head arrives. tuichat is
  started against it; as soon as its first screen shows, a question is typed (a) at a
  fast typist's pace, 60 ms per key, or (b) all at once, as a paste, with Enter at once.
  The figure is from just before Enter is sent to the request's arrival.

  One more run is instrumented from inside (a wrapper around tuichat.cli.main.main that
  hooks the import system, the terminal driver's write and the SDK warm-up, and runs a
  2 ms ticker on the app's event loop): when the first full frame was written, when and
  in which thread `openai` was imported, how long the warm-up took (one letter is typed
  0.3 s after the first screen, which starts it), the loop's worst stall while it ran
  (how long a key press could wait), and RSS once it is over. `python -X importtime` checks that `import tuichat.cli.main,
  tuichat.ui.app` pulls in no `openai` module (nor markdown_it or pygments, which load
  when a reply first needs them).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATIO_BUDGET = 1.3
RSS_BUDGET_MB = 70
SEND_BUDGET_S = 0.3
WIDTH, HEIGHT = 120, 40
POLL_S = 0.002
QUIET_S = 0.6  # a screen unchanged this long is stable
RSS_AFTER_S = 1.0
KEY_GAP_S = 0.06  # a fast typist: ~1,000 keys a minute
QUESTION = "What is 2+2?"
LAZY_AT_START = ("openai", "markdown_it", "pygments")


# --------------------------------------------------------------------------- tmux




def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MB (VmRSS; nan if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class TmuxError(RuntimeError):
    pass


class Tmux:
    """A private tmux server driven through one control-mode client.

    `cmd()` sends one tmux command and returns its output lines; it costs about 0.1 ms,
    so polling the screen every few ms does not steal a core from the program measured.
    Always `close()` it (it kills the private server and everything running in it).
    """

    def __init__(self, env: dict[str, str] | None = None) -> None:
        if shutil.which("tmux") is None:
            raise TmuxError("tmux is not installed")
        self.socket = f"tuichat-bench-{os.getpid()}-{int(time.monotonic() * 1000) % 100000}"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.socket_path = ""
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-s", "hold",
             "-x", str(WIDTH), "-y", str(HEIGHT), "sleep", "1000000"],
            env=env, check=True,
        )
        # A pane whose program exits stays, so a crash shows its traceback in the report.
        subprocess.run(["tmux", "-L", self.socket, "set-option", "-g", "remain-on-exit", "on"],
                       env=env, check=True)
        self.proc = subprocess.Popen(
            ["tmux", "-L", self.socket, "-C", "attach", "-t", "hold"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self._read_block()  # the answer to the `attach` itself
        self.socket_path = self.cmd("display-message", "-p", "#{socket_path}")[0].strip()

    def _read_block(self) -> list[str]:
        assert self.proc is not None and self.proc.stdout is not None
        out: list[str] = []
        inside = False
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise TmuxError("the tmux control client went away")
            if line.startswith(b"%begin"):
                inside, out = True, []
                continue
            if inside and (line.startswith(b"%end") or line.startswith(b"%error")):
                if line.startswith(b"%error"):
                    raise TmuxError(" ".join(x.decode("utf-8", "replace").rstrip() for x in out))
                return [x.decode("utf-8", "replace").rstrip("\n") for x in out]
            if inside:
                out.append(line)
            # lines outside a block are notifications (%output, %sessions-changed...)

    def cmd(self, *args: str) -> list[str]:
        assert self.proc is not None and self.proc.stdin is not None
        if any("\n" in a for a in args):
            raise ValueError("a tmux control-mode command must be one line")
        self.proc.stdin.write((" ".join(shlex.quote(a) for a in args) + "\n").encode())
        self.proc.stdin.flush()
        return self._read_block()

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Start `argv` (exec'd directly, no shell) in a new detached 120x40 session."""
        extra: list[str] = []
        for key, value in (env or {}).items():
            extra += ["-e", f"{key}={value}"]
        self.cmd("new-session", "-d", "-s", name, "-x", str(WIDTH), "-y", str(HEIGHT), *extra, *argv)
        return int(self.cmd("display-message", "-p", "-t", name, "#{pane_pid}")[0])

    def dead(self, name: str) -> bool:
        return self.cmd("display-message", "-p", "-t", name, "#{pane_dead}")[0].strip() == "1"

    def capture(self, name: str) -> list[str]:
        return self.cmd("capture-pane", "-p", "-t", name)

    def send_keys(self, name: str, *keys: str) -> None:
        self.cmd("send-keys", "-t", name, *keys)

    def kill(self, name: str, pid: int | None = None) -> None:
        """Kill the session and wait (up to 5 s, then SIGKILL) for its process to go."""
        try:
            self.cmd("kill-session", "-t", name)
        except TmuxError:
            pass
        if pid is not None:
            wait_gone(pid)

    def close(self) -> None:
        if self.proc is not None:
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
            except OSError:
                pass
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        if self.socket_path and Path(self.socket_path).name == self.socket:
            Path(self.socket_path).unlink(missing_ok=True)  # kill-server leaves it behind

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                return  # gone, just not reaped yet
        except OSError:
            return
        time.sleep(0.01)
    if Path(f"/proc/{pid}").exists():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def clean_env() -> dict[str, str]:
    """The environment for the tmux server: no OpenAI settings from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    env.pop("TMUX", None)
    env.pop("TEXTUAL", None)
    return env


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def full_screen(lines: list[str]) -> bool:
    """tuichat's whole first screen is up: the status line on top (the thread's title, or
    "New thread") and the footer, whose last binding is the command palette's, below."""
    return bool(lines) and bool(lines[0].strip()) and "palette" in lines[-1]


def sigterm_to_exit() -> None:
    """SIGTERM/SIGHUP raise SystemExit, so `finally` blocks clean up tmux and servers."""
    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)



def bare_ready(lines: list[str]) -> bool:
    return any("Quit" in ln for ln in lines)


def trivial_ready(lines: list[str]) -> bool:
    return bool(lines) and lines[0].strip() == "tuichat" and "palette" in lines[-1]


# ------------------------------------------------------------------------- probe

# Runs tuichat.cli.main inside the pane, with hooks that write what they saw to a JSON
# file (argv[1]) as it happens: the pane is killed with SIGHUP, so nothing runs at exit.
PROBE = r"""
import sys, time, threading, json, asyncio
T = {"probe_start": time.monotonic()}
OUT = sys.argv[1]
def mark(key, value=None):
    if key not in T:
        T[key] = time.monotonic() if value is None else value
        with open(OUT, "w") as fh:
            json.dump(T, fh)
class ImportWatch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in ("openai", "markdown_it", "pygments"):
            mark(top + "_first_import")
            mark(top + "_thread", threading.current_thread().name)
        return None
sys.meta_path.insert(0, ImportWatch())
import tuichat.cli.main
import tuichat.ui.app as appmod
mark("imports_done")
from textual.drivers.linux_driver import LinuxDriver
_write = LinuxDriver.write
SEEN = set()
def write(self, data):
    mark("first_write")
    for marker in ("palette", "New thread"):
        if marker in data:
            SEEN.add(marker)
    if len(SEEN) == 2:
        mark("first_full_frame")
    _write(self, data)
LinuxDriver.write = write
from tuichat.providers.openai import OpenAIProvider
_warm_up = OpenAIProvider.warm_up
def warm(self):
    mark("warm_up_start")
    _warm_up(self)
    mark("warm_up_end")
OpenAIProvider.warm_up = warm
async def ticker(app):
    # How late a 2 ms sleep wakes up while the warm-up (SDK, then Markdown) runs: the
    # longest time a key press would have waited.
    lags = []
    done = None
    while True:
        t = time.monotonic()
        await asyncio.sleep(0.002)
        now = time.monotonic()
        worker = app._warm_up_worker
        if worker is not None and done is None:
            lags.append(now - t - 0.002)
            if worker.is_finished:
                done = now
                mark("warm_up_all_end")
        if done is not None and now > done + 0.1 or now - T["probe_start"] > 15:
            break
    lags.sort()
    if lags:
        mark("loop_worst_stall", lags[-1])
        mark("loop_p99_stall", lags[int(len(lags) * 0.99)])
        mark("loop_ticks", len(lags))
_on_mount = appmod.TuichatApp.on_mount
def on_mount(self):
    _on_mount(self)
    asyncio.get_running_loop().create_task(ticker(self))
appmod.TuichatApp.on_mount = on_mount
sys.argv = ["tuichat"] + sys.argv[2:]
sys.exit(tuichat.cli.main.main(sys.argv[1:]))
"""


# ---------------------------------------------------------------------- measuring


def time_to_screen(tmux: Tmux, name: str, argv: list[str], env: dict[str, str], timeout: float = 20.0,
                   ready=None) -> tuple[float, int, list[str]]:  # type: ignore[no-untyped-def]
    """Seconds from just before the spawn until the first full screen; the pane's pid.
    (Also used by bench/stream.py and bench/scale.py.)"""
    ready = ready or full_screen
    t0 = time.monotonic()
    pid = tmux.spawn(name, argv, env)
    lines: list[str] = []
    polls = 0
    while True:
        lines = tmux.capture(name)
        now = time.monotonic()
        if ready(lines):
            return now - t0, pid, lines
        polls += 1
        if polls % 25 == 0 and tmux.dead(name):
            text = "\n".join(ln for ln in tmux.capture(name) if ln.strip())
            tmux.kill(name)
            raise TmuxError(f"the program exited before a full screen; the pane shows:\n{text}")
        if now - t0 > timeout:
            tmux.kill(name, pid)
            raise TmuxError(f"no full screen after {timeout:g} s; the pane shows:\n" + "\n".join(lines))
        time.sleep(POLL_S)


@dataclass
class Startup:
    first: float  # seconds to the first full screen
    stable: float  # seconds to the last change of the screen's text
    changes: int  # screens seen after the first full one
    pid: int


def time_to_stable(tmux: Tmux, name: str, argv: list[str], env: dict[str, str], ready,  # type: ignore[no-untyped-def]
                   timeout: float = 20.0) -> Startup:
    first, pid, lines = time_to_screen(tmux, name, argv, env, timeout, ready)
    t0 = time.monotonic() - first
    last_change, changes, seen = t0 + first, 0, lines
    while True:
        now = time.monotonic()
        if now - last_change >= QUIET_S:
            return Startup(first, last_change - t0, changes, pid)
        if now - t0 > timeout:
            raise TmuxError(f"the screen never settled within {timeout:g} s")
        lines = tmux.capture(name)
        if lines != seen:
            seen, last_change, changes = lines, time.monotonic(), changes + 1
        time.sleep(POLL_S)


def trivial_argv() -> list[str]:
    # printf's own "\n" escapes: a control-mode command must stay on one line.
    screen = "tuichat" + "\\n" * (HEIGHT - 1) + " ^p palette"
    return ["sh", "-c", f"printf '{screen}'; exec sleep 1000"]


def bare_argv(python: str) -> list[str]:
    return [python, str(HERE / "bare_textual_app.py")]


def app_env(tmp: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp / "config"), "XDG_DATA_HOME": str(tmp / "data")}


def app_argv(tuichat: str, tmp: Path, base_url: str) -> list[str]:
    return [tuichat, "--base-url", base_url, "--model", "fake", "--db", str(tmp / "tuichat.db")]


def first_send(tmux: Tmux, name: str, tuichat: str, tmp: Path, server, paste: bool) -> float:  # type: ignore[no-untyped-def]
    """Seconds from just before Enter to the request's arrival at the server, for a
    question typed (or pasted) the moment tuichat's first screen shows."""
    before = len(server.chat_requests)
    _, pid, _ = time_to_screen(tmux, name, app_argv(tuichat, tmp, server.base_url), app_env(tmp))
    try:
        if paste:
            tmux.send_keys(name, "-l", QUESTION)
        else:
            for ch in QUESTION:
                tmux.send_keys(name, "-l", ch)
                time.sleep(KEY_GAP_S)
        t_enter = time.monotonic()
        tmux.send_keys(name, "Enter")
        deadline = t_enter + 20
        while len(server.chat_requests) == before:
            if time.monotonic() > deadline:
                raise TmuxError("the request never reached the server; the pane shows:\n"
                                + "\n".join(tmux.capture(name)))
            time.sleep(0.002)
        return server.chat_requests[before].at - t_enter
    finally:
        tmux.kill(name, pid)


def importtime_check(python: str) -> tuple[dict[str, int], float, float]:
    """({top-level package: modules imported} for the lazily loaded packages, among
    `import tuichat.cli.main, tuichat.ui.app`; that import's total seconds; `import
    openai` alone in seconds), from `python -X importtime`."""
    def run(code: str) -> list[tuple[str, int]]:
        proc = subprocess.run([python, "-X", "importtime", "-c", code], capture_output=True,
                              text=True, env=clean_env(), check=True)
        rows = []
        for line in proc.stderr.splitlines():
            if line.startswith("import time:") and "|" in line:
                _, cumulative, name = line[len("import time:"):].split("|")
                if cumulative.strip().isdigit():
                    rows.append((name.strip(), int(cumulative)))
        return rows

    rows = run("import tuichat.cli.main, tuichat.ui.app")
    lazy = {top: sum(1 for n, _ in rows if n.partition(".")[0] == top) for top in LAZY_AT_START}
    app_total = sum(c for n, c in rows if n in ("tuichat.cli.main", "tuichat.ui.app")) / 1e6
    openai_alone = next((c for n, c in run("import openai") if n == "openai"), 0) / 1e6
    return lazy, app_total, openai_alone


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def ms(x: float) -> str:
    return f"{x * 1000:7.1f} ms"


def verdict(ok: bool) -> str:
    return "within budget" if ok else "OVER BUDGET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs of each program (default 5)")
    parser.add_argument("--send-runs", type=int, default=None,
                        help="runs of each first-message case (default: same as --runs)")
    parser.add_argument("--tuichat", default=None,
                        help="the tuichat executable (default: the one next to this python)")
    parser.add_argument("--python", default=sys.executable, help="python for the bare app and importtime")
    args = parser.parse_args(argv)
    tuichat = args.tuichat or str(Path(sys.executable).with_name("tuichat"))
    if not Path(tuichat).exists():
        tuichat = shutil.which("tuichat") or tuichat
    base_url = "http://127.0.0.1:9/v1"  # never contacted: nothing is sent during start-up
    sigterm_to_exit()
    sys.path.insert(0, str(HERE.parent / "tests"))
    from fake_openai import FakeServer

    # What `pip install` does: with PYTHONDONTWRITEBYTECODE set, an editable install would
    # otherwise compile every tuichat module again at each start.
    subprocess.run([args.python, "-c", "import compileall, os, tuichat; "
                    "compileall.compile_dir(os.path.dirname(tuichat.__file__), quiet=1)"], check=True)
    print(f"load average before: {load_average()} (on {os.cpu_count()} CPUs; other work on the box skews the figures)")
    print(f"start-up to a stable first screen: tmux {WIDTH}x{HEIGHT}, empty DB, {args.runs} interleaved runs")
    print(f"  tuichat: {tuichat}")
    runs: dict[str, list[Startup]] = {"trivial": [], "bare": [], "tuichat": []}
    rss: dict[str, list[float]] = {"bare": [], "tuichat": []}
    sends: dict[str, list[float]] = {"typed": [], "pasted": []}
    probe: dict[str, float | str] = {}
    probe_first = float("nan")
    rss_warm = float("nan")
    root = Path(tempfile.mkdtemp(prefix="tuichat-startup-"))
    tmux = Tmux(clean_env())
    server = FakeServer().start()
    server.default_reply = type(server.default_reply).text("4.")
    try:
        # Warm the page cache once (the first start after a build reads every .pyc).
        for name, argv_, env, ready in (("warm-bare", bare_argv(args.python), {}, bare_ready),
                                        ("warm", app_argv(tuichat, root / "warm", base_url),
                                         app_env(root / "warm"), full_screen)):
            _, pid, _ = time_to_screen(tmux, name, argv_, env, ready=ready)
            tmux.kill(name, pid)

        for i in range(args.runs):
            tmp = root / f"run{i}"
            for kind, argv_, env, ready in (
                ("trivial", trivial_argv(), {}, trivial_ready),
                ("bare", bare_argv(args.python), {}, bare_ready),
                ("tuichat", app_argv(tuichat, tmp, base_url), app_env(tmp), full_screen),
            ):
                name = f"{kind}{i}"
                s = time_to_stable(tmux, name, argv_, env, ready)
                if kind in rss:
                    time.sleep(max(0.0, RSS_AFTER_S - QUIET_S))
                    rss[kind].append(rss_mb(s.pid))
                tmux.kill(name, s.pid)  # and wait until it is gone: runs never overlap
                runs[kind].append(s)
            b, t = runs["bare"][-1], runs["tuichat"][-1]
            print(f"  run {i + 1:2d}: bare {b.stable * 1000:6.1f} ms, tuichat {t.stable * 1000:6.1f} ms"
                  f" (first {t.first * 1000:6.1f} ms, {t.changes} later change(s)),"
                  f" ratio {t.stable / b.stable:4.2f}, RSS {rss['tuichat'][-1]:5.1f} MB", flush=True)

        n_send = args.send_runs or args.runs
        print(f"first message right after start: {n_send} runs each, typed and pasted, interleaved")
        for i in range(n_send):
            for mode in ("typed", "pasted"):
                sends[mode].append(first_send(tmux, f"send-{mode}{i}", tuichat, root / f"send-{mode}{i}",
                                              server, paste=mode == "pasted"))
            print(f"  run {i + 1:2d}: typed {sends['typed'][-1] * 1000:6.1f} ms,"
                  f" pasted {sends['pasted'][-1] * 1000:6.1f} ms (Enter -> request at the server)", flush=True)

        # The instrumented run.
        tmp = root / "probe"
        out = tmp / "probe.json"
        python = str(Path(tuichat).parent / "python") if (Path(tuichat).parent / "python").exists() else sys.executable
        tmp.mkdir(parents=True)
        script = root / "probe.py"
        script.write_text(PROBE)
        t0 = time.monotonic()
        probe_first, pid, _ = time_to_screen(
            tmux, "probe", [python, str(script), str(out), *app_argv(tuichat, tmp, base_url)[1:]], app_env(tmp)
        )
        time.sleep(0.3)
        tmux.send_keys("probe", "-l", "h")  # typing starts the warm-up
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                probe = json.loads(out.read_text())
            except (OSError, ValueError):
                probe = {}
            if "loop_worst_stall" in probe:
                break
            time.sleep(0.05)
        rss_warm = rss_mb(pid)
        tmux.kill("probe", pid)
        probe = {k: (v - t0 if isinstance(v, float) and not k.startswith("loop_") else v) for k, v in probe.items()}
    finally:
        server.stop()
        tmux.close()
        shutil.rmtree(root, ignore_errors=True)

    lazy, import_s, openai_alone = importtime_check(args.python)
    print(f"load average after: {load_average()}")

    def med(kind: str, attr: str) -> float:
        return median([getattr(s, attr) for s in runs[kind]])

    print()
    print(f"results (medians of {args.runs} interleaved runs, times from just before the spawn)")
    print("                              first screen   stable screen   later changes   RSS after start")
    for kind, label in (("trivial", "tmux round trip (printf)"), ("bare", "bare Textual app"), ("tuichat", "tuichat")):
        later = sum(s.changes for s in runs[kind])
        mem = f"{median(rss[kind]):6.1f} MB" if kind in rss else ""
        print(f"  {label:26s}  {ms(med(kind, 'first'))}     {ms(med(kind, 'stable'))}       {later:3d}"
              f"          {mem}")
    ratio = med("tuichat", "stable") / med("bare", "stable")
    ratios = sorted(t.stable / b.stable for t, b in zip(runs["tuichat"], runs["bare"]))
    print(f"  tuichat / bare Textual app, stable screen: {ratio:.2f}x (per run {ratios[0]:.2f}-{ratios[-1]:.2f});"
          f" budget <= {RATIO_BUDGET}x: {verdict(ratio <= RATIO_BUDGET)}")
    later = sum(s.changes for s in runs["tuichat"])
    print(f"  tuichat's first frame is the final one: {'yes' if later == 0 else 'NO'}"
          f" ({later} later screen change(s) in {args.runs} runs)")
    print(f"  tuichat RSS {RSS_AFTER_S:g} s after start (idle; the SDK loads when typing starts): "
          f"{median(rss['tuichat']):.1f} MB (max {max(rss['tuichat']):.1f}); budget <= {RSS_BUDGET_MB} MB:"
          f" {verdict(median(rss['tuichat']) <= RSS_BUDGET_MB)}")
    print()
    typed, pasted = median(sends["typed"]), median(sends["pasted"])
    print(f"first message right after start: Enter -> request at the fake server (medians of {n_send})")
    print(f'  "{QUESTION}" typed at {KEY_GAP_S * 1000:.0f} ms a key from the first screen: {ms(typed)}'
          f" (max {max(sends['typed']) * 1000:.1f}); budget <= {SEND_BUDGET_S * 1000:.0f} ms:"
          f" {verdict(typed <= SEND_BUDGET_S)}")
    print(f"  pasted with Enter at the first screen:                 {ms(pasted)}"
          f" (max {max(sends['pasted']) * 1000:.1f}); no budget: Enter comes before the SDK"
          " import (started by the first key) can finish")
    print()
    print("instrumented run (times from just before the spawn)")

    def at(key: str) -> str:
        v = probe.get(key)
        return ms(v) if isinstance(v, float) else "    (not seen)"

    print(f"  python running the wrapper                      {at('probe_start')}")
    print(f"  tuichat.cli.main + ui.app imported              {at('imports_done')}")
    print(f"  first write to the terminal                     {at('first_write')}")
    print(f"  first full frame handed to the terminal         {at('first_full_frame')}")
    print(f"  full screen seen in tmux (this run)             {ms(probe_first)}")
    print(f"  warm-up start (a letter typed) / SDK / all done {at('warm_up_start')} / {at('warm_up_end')}"
          f" / {at('warm_up_all_end')}")
    for top in LAZY_AT_START:
        print(f"  {top:12s} first imported                   {at(top + '_first_import')}"
              f"   (thread: {probe.get(top + '_thread', '-')})")
    first_import, first_frame = probe.get("openai_first_import"), probe.get("first_full_frame")
    if isinstance(first_import, float) and isinstance(first_frame, float):
        print(f"  openai imported after the first full frame: {'yes' if first_import > first_frame else 'NO'}"
              f" ({(first_import - first_frame) * 1000:+.1f} ms)")
    stall = probe.get("loop_worst_stall")
    if isinstance(stall, float):
        print(f"  event loop while the warm-up runs (2 ms ticker, {probe.get('loop_ticks')} ticks): worst stall"
              f" {stall * 1000:.1f} ms, 99th percentile {probe['loop_p99_stall'] * 1000:.1f} ms")  # type: ignore[operator]
    print(f"  RSS once the warm-up is over                    {rss_warm:7.1f} MB")
    print()
    print("python -X importtime")
    print(f"  import tuichat.cli.main, tuichat.ui.app: {import_s * 1000:.1f} ms; modules of "
          + ", ".join(f"{top}: {n}" for top, n in lazy.items())
          + (" (good: none)" if not any(lazy.values()) else " (should be none: they load when needed)"))
    print(f"  import openai alone (fresh interpreter): {openai_alone * 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
