"""Benchmark: start-up time to the first full screen, in a real terminal (tmux 120x40).

Not a test: it prints figures and the budget they are held to (PERFORMANCE.md):
  - start to first full screen <= 0.6 s median (goal 0.5 s), real terminal, empty DB
  - the openai SDK is imported after the first paint, never before
  - resident memory after start (idle, empty DB) <= 70 MB

Usage (from the repository root, with the project's venv):
  python bench/startup.py                # 10 runs
  python bench/startup.py --runs 20
  python bench/startup.py --tuichat /tmp/venv/bin/tuichat

Method
  One private tmux server (its own socket, `-f /dev/null`) and one control-mode client
  (`tmux -C`) are started first, so that a poll of the screen is a command on a pipe
  (~0.1 ms) instead of forking a tmux client (~3 ms of CPU on a 2-core box).
  For each run, a fresh empty database and fresh XDG config/data directories are made;
  the clock starts just before `new-session -d -x 120 -y 40 tuichat ...` is sent, and
  `capture-pane -p` is polled every ~2 ms until the top line starts with "tuichat" (the
  status line) and "Quit" (the footer) is visible. That is the "raw" time.
  The tmux round trip is measured the same way with a trivial program (`sh -c printf`)
  that prints the same two markers at once; "net" = raw median - that median.

  One more run is instrumented from inside (a small script wrapped around tuichat.cli.main.main
  that hooks the import system and the terminal driver's write): it tells when the first
  frame with "Quit" was handed to the terminal, and when and in which thread `openai` was
  first imported, and how long the warm-up took (the app imports the SDK and builds its
  client in a worker thread when the user starts typing: the bench types one letter once
  the screen is up). `python -X importtime` checks that `import tuichat.cli.main,
  tuichat.ui.app` pulls in no `openai` module.
  Memory: in each timed run, VmRSS of the tuichat process 1 s after its first full screen
  (idle, nothing typed); the instrumented run also gives it after the warm-up (SDK loaded).
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
from pathlib import Path

BUDGET_S = 0.6
GOAL_S = 0.5
WIDTH, HEIGHT = 120, 40
POLL_S = 0.002


# --------------------------------------------------------------------------- tmux


RSS_BUDGET_MB = 70
RSS_AFTER_S = 1.0


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
    return bool(lines) and lines[0].strip().startswith("tuichat") and any("Quit" in ln for ln in lines)


def sigterm_to_exit() -> None:
    """SIGTERM/SIGHUP raise SystemExit, so `finally` blocks clean up tmux and servers."""
    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


# ------------------------------------------------------------------------- probe

# Runs tuichat.cli.main inside the pane, with hooks that write what they saw to a JSON
# file (argv[1]) as it happens: the pane is killed with SIGHUP, so nothing runs at exit.
PROBE = r"""
import sys, time, threading, json
T = {"probe_start": time.monotonic()}
OUT = sys.argv[1]
def mark(key, value=None):
    if key not in T:
        T[key] = time.monotonic() if value is None else value
        with open(OUT, "w") as fh:
            json.dump(T, fh)
class OpenAIWatch:
    def find_spec(self, name, path=None, target=None):
        if name == "openai" or name.startswith("openai."):
            mark("openai_first_import")
            mark("openai_thread", threading.current_thread().name)
        return None
sys.meta_path.insert(0, OpenAIWatch())
import tuichat.cli.main
import tuichat.ui.app as appmod
mark("imports_done")
from textual.drivers.linux_driver import LinuxDriver
_write = LinuxDriver.write
SEEN = set()
def write(self, data):
    mark("first_write")
    if "Quit" in data:
        mark("first_footer_frame")
        SEEN.add("Quit")
    if "tuichat" in data:
        SEEN.add("tuichat")
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
sys.argv = ["tuichat"] + sys.argv[2:]
sys.exit(tuichat.cli.main.main(sys.argv[1:]))
"""


# ---------------------------------------------------------------------- measuring


def time_to_screen(tmux: Tmux, name: str, argv: list[str], env: dict[str, str], timeout: float = 20.0
                   ) -> tuple[float, int, list[str]]:
    """Seconds from just before the spawn until the first full screen; the pane's pid."""
    t0 = time.monotonic()
    pid = tmux.spawn(name, argv, env)
    lines: list[str] = []
    polls = 0
    while True:
        lines = tmux.capture(name)
        now = time.monotonic()
        if full_screen(lines):
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


def baseline_argv() -> list[str]:
    # printf's own "\n" escapes: a control-mode command must stay on one line.
    screen = " tuichat" + "\\n" * (HEIGHT - 1) + " Quit"
    return ["sh", "-c", f"printf '{screen}'; exec sleep 1000"]


def app_env(tmp: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp / "config"), "XDG_DATA_HOME": str(tmp / "data")}


def app_argv(tuichat: str, tmp: Path, base_url: str) -> list[str]:
    return [tuichat, "--base-url", base_url, "--model", "fake", "--db", str(tmp / "tuichat.db")]


def importtime_check(python: str) -> tuple[list[str], float, float]:
    """(openai modules imported by `import tuichat.cli.main, tuichat.ui.app`, that import's
    total seconds, `import openai` alone in seconds), from `python -X importtime`."""
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
    openai_mods = [n for n, _ in rows if n == "openai" or n.startswith("openai.")]
    app_total = sum(c for n, c in rows if n in ("tuichat.cli.main", "tuichat.ui.app")) / 1e6
    openai_alone = next((c for n, c in run("import openai") if n == "openai"), 0) / 1e6
    return openai_mods, app_total, openai_alone


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of tuichat (default 10)")
    parser.add_argument("--baseline-runs", type=int, default=None,
                        help="runs of the trivial program (default: same as --runs)")
    parser.add_argument("--tuichat", default=None,
                        help="the tuichat executable (default: the one next to this python)")
    parser.add_argument("--python", default=sys.executable, help="python for the importtime check")
    args = parser.parse_args(argv)
    tuichat = args.tuichat or str(Path(sys.executable).with_name("tuichat"))
    if not Path(tuichat).exists():
        tuichat = shutil.which("tuichat") or tuichat
    base_url = "http://127.0.0.1:9/v1"  # never contacted: nothing is sent during start-up
    sigterm_to_exit()

    print(f"load average before: {load_average()} (on {os.cpu_count()} CPUs; other work on the box skews the figures)")
    print(f"start-up to first full screen: tmux {WIDTH}x{HEIGHT}, empty DB, {args.runs} runs")
    print(f"  tuichat: {tuichat}")
    raw: list[float] = []
    base: list[float] = []
    rss: list[float] = []
    rss_warm = float("nan")
    probe: dict[str, float | str] = {}
    probe_raw = float("nan")
    root = Path(tempfile.mkdtemp(prefix="tuichat-startup-"))
    tmux = Tmux(clean_env())
    try:
        # Warm the page cache once (the first start after a build reads every .pyc).
        tmp = root / "warm"
        _, pid, _ = time_to_screen(tmux, "warm", app_argv(tuichat, tmp, base_url), app_env(tmp))
        tmux.kill("warm", pid)

        n_base = args.baseline_runs or args.runs
        for i in range(max(args.runs, n_base)):
            # Interleave the two, so a noisy moment on the box hits both alike.
            if i < n_base:
                t, pid, _ = time_to_screen(tmux, f"base{i}", baseline_argv(), {})
                tmux.kill(f"base{i}", pid)
                base.append(t)
            if i < args.runs:
                tmp = root / f"run{i}"
                t, pid, _ = time_to_screen(tmux, f"run{i}", app_argv(tuichat, tmp, base_url), app_env(tmp))
                time.sleep(RSS_AFTER_S)
                rss.append(rss_mb(pid))
                tmux.kill(f"run{i}", pid)  # and wait until it is gone: runs never overlap
                raw.append(t)
                print(f"  run {i + 1:2d}: {t * 1000:6.1f} ms   (trivial program: {base[-1] * 1000:5.1f} ms)"
                      if i < n_base else f"  run {i + 1:2d}: {t * 1000:6.1f} ms", f"  RSS {rss[-1]:5.1f} MB",
                      flush=True)

        # The instrumented run.
        tmp = root / "probe"
        out = tmp / "probe.json"
        python = str(Path(tuichat).parent / "python") if (Path(tuichat).parent / "python").exists() else sys.executable
        tmp.mkdir(parents=True)
        script = root / "probe.py"
        script.write_text(PROBE)
        t0 = time.monotonic()
        probe_raw, pid, _ = time_to_screen(
            tmux, "probe", [python, str(script), str(out), *app_argv(tuichat, tmp, base_url)[1:]], app_env(tmp)
        )
        time.sleep(0.3)
        tmux.send_keys("probe", "-l", "h")  # typing starts the SDK warm-up
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                probe = json.loads(out.read_text())
            except (OSError, ValueError):
                probe = {}
            if "warm_up_end" in probe:
                break
            time.sleep(0.05)
        time.sleep(0.3)
        rss_warm = rss_mb(pid)
        tmux.kill("probe", pid)
        probe = {k: (v - t0 if isinstance(v, float) else v) for k, v in probe.items()}
    finally:
        tmux.close()
        shutil.rmtree(root, ignore_errors=True)

    openai_mods, import_s, openai_alone = importtime_check(args.python)
    print(f"load average after: {load_average()}")

    raw_med, base_med = median(raw), median(base)
    net = raw_med - base_med
    print()
    print("results (medians)")
    print(f"  raw: process start -> first full screen        {raw_med * 1000:7.1f} ms"
          f"   (min {min(raw) * 1000:.1f}, max {max(raw) * 1000:.1f})")
    print(f"  tmux round trip (trivial program, same markers) {base_med * 1000:7.1f} ms"
          f"   (min {min(base) * 1000:.1f}, max {max(base) * 1000:.1f})")
    print(f"  net: raw - tmux round trip                      {net * 1000:7.1f} ms")
    verdict = "within budget" if raw_med <= BUDGET_S else "OVER BUDGET"
    goal = "meets the goal" if raw_med <= GOAL_S else "misses the goal"
    print(f"  budget: <= {BUDGET_S * 1000:.0f} ms median (goal {GOAL_S * 1000:.0f} ms): raw median is {verdict},"
          f" {goal}")
    rss_verdict = "within budget" if median(rss) <= RSS_BUDGET_MB else "OVER BUDGET"
    print(f"  resident memory {RSS_AFTER_S:g} s after the first full screen   {median(rss):7.1f} MB"
          f"   (min {min(rss):.1f}, max {max(rss):.1f}); budget <= {RSS_BUDGET_MB} MB: {rss_verdict}")
    print(f"  ... after typing a letter (the SDK warm-up has run)  {rss_warm:5.1f} MB (instrumented run; no budget)")
    print()
    print("instrumented run (times from just before the spawn)")

    def at(key: str) -> str:
        v = probe.get(key)
        return f"{v * 1000:7.1f} ms" if isinstance(v, float) else "    (not seen)"

    print(f"  python running the wrapper                      {at('probe_start')}")
    print(f"  tuichat.cli.main + ui.app imported           {at('imports_done')}")
    print(f"  first write to the terminal                     {at('first_write')}")
    print(f"  first frame with the footer handed to terminal  {at('first_footer_frame')}")
    print(f"  ... and with the status line too (full screen)  {at('first_full_frame')}")
    print(f"  full screen seen in tmux (this run)             {probe_raw * 1000:7.1f} ms")
    print(f"  openai first imported                           {at('openai_first_import')}"
          f"   (thread: {probe.get('openai_thread', '-')})")
    print(f"  SDK warm-up (after typing): start / end         {at('warm_up_start')} / {at('warm_up_end')}")
    first_import = probe.get("openai_first_import")
    first_frame = probe.get("first_full_frame")
    if isinstance(first_import, float) and isinstance(first_frame, float):
        after = first_import > first_frame
        print(f"  openai imported after the first full frame: {'yes' if after else 'NO'}"
              f" ({(first_import - first_frame) * 1000:+.1f} ms)")
    elif isinstance(first_frame, float):
        print("  openai was not imported at all before the run ended")
    if isinstance(probe.get("warm_up_end"), float) and isinstance(probe.get("warm_up_start"), float):
        dur = probe["warm_up_end"] - probe["warm_up_start"]  # type: ignore[operator]
        print(f"  SDK import + client in the app's worker thread  {dur * 1000:7.1f} ms (wall)")
    print()
    print("python -X importtime")
    print(f"  import tuichat.cli.main, tuichat.ui.app: {import_s * 1000:.1f} ms;"
          f" openai modules among them: {len(openai_mods)}"
          + (f" ({', '.join(openai_mods[:5])}...)" if openai_mods else " (good: none)"))
    print(f"  import openai alone (fresh interpreter):          {openai_alone * 1000:7.1f} ms")
    print("  budget: the openai SDK is imported after the first paint, never before")
    return 0


if __name__ == "__main__":
    sys.exit(main())
