"""Benchmark: stream a long Markdown reply into the Transcript, token by token.

Not a test: it prints figures and the budgets they are held to (PERFORMANCE.md):
  - CPU(8,000 tokens) / CPU(2,000 tokens) <= 4.5 (linear, not quadratic)
  - <= 0.5 CPU-s per 1,000 tokens for the 8,000-token reply at full speed (goal 0.25)
  - first token on screen <= 30 ms after it arrives; last token <= 100 ms after the end

Usage (from the repository root):
  PYTHONPATH=src python bench/stream_widget.py                 # 2,000 and 8,000 tokens
  PYTHONPATH=src python bench/stream_widget.py --rate 200      # paced like a real server
  PYTHONPATH=src python bench/stream_widget.py --baseline      # plain Markdown.get_stream()
  PYTHONPATH=src python bench/stream_widget.py --profile out.prof --runs 1 --sizes 8000

"On screen" means painted: the benchmark watches the strips the compositor asks the
widget for (render_line), headless at 120x40.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import markdown_reply, split_tokens  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.containers import VerticalScroll  # noqa: E402
from textual.widgets import Markdown  # noqa: E402

from tuichat.ui.widgets.transcript import Transcript  # noqa: E402

SIZE = (120, 40)
MARKER = "ZQXEND"
RATIO_BUDGET = 4.5
PER_1K_BUDGET = 0.5
PER_1K_GOAL = 0.25
FIRST_BUDGET_MS = 30
LAST_BUDGET_MS = 100


@dataclass
class Run:
    tokens: int
    chars: int
    cpu: float
    wall: float
    first_ms: float
    last_ms: float
    flushes: int


class TranscriptApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()


class BaselineApp(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).anchor()


def reply_tokens(tokens: int, seed: int) -> tuple[str, list[str]]:
    text = markdown_reply(tokens, seed) + f"\n\nThat is all {MARKER}."
    return text, split_tokens(text, seed)


async def _pace(start: float, index: int, rate: float) -> None:
    if rate > 0:
        delay = start + index / rate - time.perf_counter()
        await asyncio.sleep(max(0.0, delay))
    else:
        await asyncio.sleep(0)  # yield to the event loop: timers and frames run


async def run_transcript(tokens: int, seed: int, rate: float) -> Run:
    text, pieces = reply_tokens(tokens, seed)
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(Transcript)
        await pilot.pause()
        seen: dict[str, float] = {}
        watch: list[str] = []
        render_line = view.render_line

        def spy(y: int):  # type: ignore[no-untyped-def]
            strip = render_line(y)
            if watch and watch[0] not in seen and watch[0] in strip.text:
                seen[watch[0]] = time.perf_counter()
            return strip

        view.render_line = spy  # type: ignore[method-assign]
        flushes = 0
        flush = view._flush

        def counting_flush() -> None:
            nonlocal flushes
            flushes += 1
            flush()

        view._flush = counting_flush  # type: ignore[method-assign]

        first = pieces[0].strip()
        view.begin_reply("bench-model")
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        watch.append(first)
        first_at = time.perf_counter()
        for i, piece in enumerate(pieces):
            view.append_reply(piece)
            await _pace(wall0, i + 1, rate)
        last_at = time.perf_counter()
        view.end_reply()
        watch[:] = [MARKER]
        deadline = time.perf_counter() + 10
        while MARKER not in seen and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        assert view.reply_text == text
        first_ms = (seen.get(first, float("nan")) - first_at) * 1000
        last_ms = (seen.get(MARKER, float("nan")) - last_at) * 1000
    return Run(tokens, len(text), cpu, wall, first_ms, last_ms, flushes)


async def run_baseline(tokens: int, seed: int, rate: float) -> Run:
    text, pieces = reply_tokens(tokens, seed)
    app = BaselineApp()
    async with app.run_test(size=SIZE) as pilot:
        markdown = app.query_one(Markdown)
        await pilot.pause()
        stream = Markdown.get_stream(markdown)
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        for i, piece in enumerate(pieces):
            await stream.write(piece)
            await _pace(wall0, i + 1, rate)
        last_at = time.perf_counter()
        await stream.stop()
        await pilot.pause()
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        last_ms = (time.perf_counter() - last_at) * 1000  # until idle: a rough figure
    return Run(tokens, len(text), cpu, wall, float("nan"), last_ms, 0)


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per size (default 3)")
    parser.add_argument("--sizes", type=int, nargs="+", help="reply sizes in tokens")
    parser.add_argument("--rate", type=float, default=0, help="tokens/s (0: full speed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", action="store_true", help="plain Markdown.get_stream()")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the runs")
    args = parser.parse_args()
    sizes = args.sizes or ([2000] if args.baseline else [2000, 8000])
    runner = run_baseline if args.baseline else run_transcript
    what = "Markdown.get_stream() baseline" if args.baseline else "Transcript"
    speed = f"{args.rate:g} tokens/s" if args.rate else "full speed"
    print(f"{what}, headless {SIZE[0]}x{SIZE[1]}, {speed}, {args.runs} run(s) per size")

    await runner(200, args.seed + 99, 0)  # warm up imports, lexers and caches
    profiler = cProfile.Profile() if args.profile else None
    medians: dict[int, float] = {}
    for tokens in sizes:
        runs = []
        for _ in range(args.runs):
            if profiler:
                profiler.enable()
            runs.append(await runner(tokens, args.seed, args.rate))
            if profiler:
                profiler.disable()
        cpu = _median(runs, "cpu")
        medians[tokens] = cpu
        print(
            f"{tokens:>6} tokens ({runs[0].chars:,} chars): "
            f"CPU {cpu:.2f} s (runs {', '.join(f'{r.cpu:.2f}' for r in runs)}), "
            f"wall {_median(runs, 'wall'):.2f} s, "
            f"{cpu / tokens * 1000:.3f} CPU-s/1k tokens, "
            f"first token {_median(runs, 'first_ms'):.1f} ms, "
            f"last token {_median(runs, 'last_ms'):.1f} ms, "
            f"frames {_median(runs, 'flushes'):.0f}"
        )
    print(
        f"budgets: CPU ratio 8000/2000 <= {RATIO_BUDGET}; <= {PER_1K_BUDGET} CPU-s per 1k "
        f"tokens at 8,000 (goal {PER_1K_GOAL}); first token <= {FIRST_BUDGET_MS} ms; "
        f"last token <= {LAST_BUDGET_MS} ms"
    )
    if 2000 in medians and 8000 in medians:
        ratio = medians[8000] / medians[2000]
        per_1k = medians[8000] / 8
        print(
            f"ratio CPU(8000)/CPU(2000) = {ratio:.2f} "
            f"({'ok' if ratio <= RATIO_BUDGET else 'OVER BUDGET'}); "
            f"{per_1k:.3f} CPU-s per 1k tokens at 8,000 "
            f"({'ok' if per_1k <= PER_1K_BUDGET else 'OVER BUDGET'}"
            f"{', goal met' if per_1k <= PER_1K_GOAL else ''})"
        )
    if profiler:
        profiler.dump_stats(args.profile)
        print(f"profile written to {args.profile}")


if __name__ == "__main__":
    asyncio.run(main())
