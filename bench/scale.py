"""Benchmark: "history you can live in" -- 10,000 threads and 1,000,000 messages.

Not a test: it prints figures and the budgets they are held to (PERFORMANCE.md):
  - start to first full screen with the big database <= 1.2x with an empty one
  - open a 5,000-message thread until its last screen is shown <= 300 ms
  - search over the 1,000,000 messages, first page <= 100 ms
  - thread-list filter, per keystroke <= 50 ms
  - resident memory after start (big DB) <= 70 MB; after opening the 5,000-message
    thread <= 200 MB
  - no query made by start-up or by opening a thread reads every message

Usage (from the repository root, with the project's venv):
  python bench/scale.py                      # everything, 5 runs each
  python bench/scale.py --quick              # 3 runs each, fewer search repetitions
  python bench/scale.py --only search,filter --runs 10
  python bench/scale.py --regenerate         # rebuild the cached database
  python bench/scale.py --db /tmp/my.db      # generate (if missing) and use this file

The database
  Generated once and cached as /tmp/tuichat-scale-v<GEN_VERSION>-<schema>.db, where
  <schema> is a short hash of the migration names: when a migration is added, the next
  run builds a new file (through the new schema) instead of reusing a stale one.
  It is opened through tuichat.store.Store, so every migration runs (including the
  search index and the triggers that keep it in step), and then filled with executemany
  in one transaction on the store's connection; the triggers fire for every row, so the
  generation time printed includes indexing. Content:
  10,000 threads (personas from personas/, titles = first line of the first prompt, as
  the app sets them: English or Japanese), 1,000,000 messages alternating user/assistant,
  timestamps over the past year (message ids grow with time, as in real use).
  Prompts are English (sentences from the standard library's docstrings, a realistic
  vocabulary), Japanese (generated sentences) or mixed; a few are long pastes. Replies
  are bench/corpus.py Markdown blocks mixed with docstring prose and Japanese; ~4% are
  long (2-5k characters), ~0.2% very long (~20k). The most recent thread has exactly
  5,000 messages, its last one ends with the line SCALE-LAST-MESSAGE. The word
  "xylophone" is in exactly 25 messages, "量子コンピュータ" in 25.

Method (each measurement in fresh processes, so nothing inherits warmed caches other
than the OS page cache, which is warm for both sides of every comparison)
  startup: tuichat in tmux 120x40 (bench/startup.py's control-mode harness), big DB
    vs a migrated empty DB, runs interleaved; first full screen as startup.py sees it
    (or with "^p palette" ending the footer when it has no room for "Quit"), and the
    CPU the process had used by then. RSS (VmRSS) 1 s after the first full screen.
  open: headless, the real TuichatApp under App.run_test(size=(120, 40)) with the big
    DB, started on a new thread; the clock starts when ThreadList.Chosen(id) is posted
    (the path a click or Enter in the thread list takes) and stops when the transcript's
    render_line is asked for a line showing SCALE-LAST-MESSAGE (the compositor is
    building the frame with the thread's last screen). Also: `tuichat -c` in tmux, from
    the spawn until the last message is on screen, and its RSS 1 s later.
  search: the first page, Store.search_page(query) with its default time budget (what
    the search screen lists first; the budget is about this), then the full scan,
    Store.search(query); each on a new connection: the first call is reported as "cold"
    (empty SQLite page cache; the OS may have evicted pages too), then the median of N
    calls. Then the Ctrl+F search screen headless: keys sent to the driver 80 ms apart,
    last key -> the first page listed, and -> the search complete (it goes on with older
    messages page by page), time on the UI thread, and the event loop's worst delay
    meanwhile (5 ms heartbeat). Plus `tuichat search QUERY`
    as a subprocess (wall time, no budget).
  filter: Store.filter_threads for each prefix of a query as it is typed; and in the
    app's filter box (headless), key events sent straight to the driver (Pilot.press
    also waits for the CPU to go idle): key -> ChatScreen.refresh_threads returned, and
    -> the thread list's next render_line.
  queries: the SQL run by start-up (as cli.py does it) and by opening the big thread
    is logged with set_trace_callback; every statement that touches `messages` is
    explained (EXPLAIN QUERY PLAN) and those that scan it are listed.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import hashlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
if str(ROOT / "src") not in sys.path:
    sys.path.insert(1, str(ROOT / "src"))

GEN_VERSION = 1
THREADS = 10_000
MESSAGES = 1_000_000
BIG_THREAD = 5_000
LAST_MARKER = "SCALE-LAST-MESSAGE"
RARE_EN = "xylophone"
RARE_JA = "量子コンピュータ"
RARE_COUNT = 25
SIZE = (120, 40)
BASE_URL = "http://127.0.0.1:9/v1"  # never contacted: nothing is sent

STARTUP_RATIO_BUDGET = 1.2
OPEN_BUDGET_MS = 300.0
SEARCH_BUDGET_MS = 100.0
FILTER_BUDGET_MS = 50.0
RSS_START_BUDGET_MB = 70.0
RSS_OPEN_BUDGET_MB = 200.0

SEARCHES = [  # (label, query)
    ("English word", "iterator"),
    ("English phrase", "default value"),
    ("Japanese, 3+ chars (trigram)", "データベース"),
    ("Japanese, 2 chars (LIKE fallback)", "漢字"),
    ("2 chars, no hits (LIKE, every row)", "鰻丼"),
    ("3+ and 2 chars together", "データベース 東京"),
    ("rare term (25 hits)", RARE_EN),
    ("rare Japanese (25 hits)", RARE_JA),
    ("no hits", "zqxjkvw"),
]
SEARCH_UI_QUERIES = ["iterator", "漢字", "鰻丼", "qz"]
FILTER_QUERIES = ["python", "東京の"]
ALL_PARTS = ["startup", "open", "search", "filter", "rss", "queries"]


# ====================================================================== generator

_JA_NOUNS = (
    "東京 大阪 京都 天気 会議 資料 プログラム データベース 検索 速度 問題 明日 今日 予定 説明 翻訳 料理 "
    "旅行 写真 音楽 映画 電車 駅 猫 犬 桜 富士山 寿司 ラーメン 日本語 英語 勉強 仕事 設計 実装 テスト "
    "性能 メモリ 漢字 ひらがな 文章 手紙 会社 学校 先生 友達 家族 週末 時間 お茶 図書館 画面 端末"
).split()
_JA_PARTICLES = ["は", "が", "を", "に", "で", "と", "の", "から", "まで"]
_JA_ENDINGS = ["です。", "ます。", "ください。", "でしょうか？", "と思います。", "ですね。", "しました。", "したいです。"]
_JA_VERBS = ["確認し", "説明し", "改善し", "勉強し", "予約し", "翻訳し", "書き", "読み", "調べ", "作り"]
_PERSONAS = ["default", "default", "default", "translator", "diary", "ojousama"]
_MODELS = ["llama3.1:8b", "qwen2.5:14b", "gpt-4o-mini", "mistral-small"]


def _ja_sentence(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        parts.append(rng.choice(_JA_NOUNS) + rng.choice(_JA_PARTICLES))
    return "".join(parts) + rng.choice(_JA_VERBS) + rng.choice(_JA_ENDINGS)


def _ja_paragraph(rng: random.Random) -> str:
    return "".join(_ja_sentence(rng) for _ in range(rng.randint(1, 5)))


def prose_paragraphs(limit: int = 20_000) -> list[str]:
    """Paragraphs of English from the standard library's docstrings: a real vocabulary,
    so word frequencies (and so search selectivity) look like real text. Sorted file
    order, so the same Python gives the same text."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out: list[str] = []
    for path in sorted(stdlib.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            doc = ast.get_docstring(node)
            if not doc or ">>>" in doc:
                continue
            for para in doc.split("\n\n"):
                text = " ".join(para.split())
                letters = sum(c.isalpha() or c == " " for c in text)
                if len(text) >= 40 and letters / len(text) > 0.85:
                    out.append(text)
                    if len(out) >= limit:
                        return out
    return out or ["The quick brown fox jumps over the lazy dog; the default value is an iterator."]


def _prompt(rng: random.Random, prose: list[str]) -> str:
    kind = rng.random()
    if kind < 0.03:  # a long paste: a log, a text to translate, code
        from corpus import markdown_reply

        return "Can you look at this?\n\n" + markdown_reply(rng.randint(200, 800), rng.randrange(1 << 30))
    if kind < 0.55:
        text = rng.choice(prose)
        if len(text) > 300:
            text = text[: text.find(" ", 200) if " " in text[200:] else 300]
        return rng.choice(["", "Explain: ", "How do I use this? ", "Question: "]) + text
    if kind < 0.92:
        return _ja_paragraph(rng)
    return _ja_sentence(rng) + " " + rng.choice(prose)[:160]


def _reply(rng: random.Random, prose: list[str]) -> str:
    from corpus import _block

    roll = rng.random()
    if roll < 0.002:
        target = rng.randint(15_000, 25_000)
    elif roll < 0.042:
        target = rng.randint(2_000, 5_000)
    else:
        target = rng.randint(80, 700)
    parts: list[str] = []
    size = 0
    ja = rng.random() < 0.35
    while size < target:
        r = rng.random()
        if ja and r < 0.6:
            block = _ja_paragraph(rng)
        elif r < 0.55:
            block = rng.choice(prose)
        else:
            block = _block(rng)
        parts.append(block)
        size += len(block) + 2
    return "\n\n".join(parts)


def _thread_lengths(rng: random.Random, threads: int, messages: int, big: int) -> list[int]:
    """Messages per thread: one of exactly `big` (the last), the rest long-tailed."""
    rest = messages - big
    n = threads - 1
    weights = [rng.lognormvariate(0, 1.0) for _ in range(n)]
    scale = rest / sum(weights)
    lengths = [max(2, round(w * scale)) for w in weights]
    diff = rest - sum(lengths)
    i = 0
    while diff != 0:  # spread the rounding error, never below 2
        j = i % n
        if diff > 0:
            lengths[j] += 1
            diff -= 1
        elif lengths[j] > 2:
            lengths[j] -= 1
            diff += 1
        i += 1
    return lengths + [big]


def schema_key() -> str:
    from tuichat.store.migrations import MIGRATIONS

    names = ",".join(m.__name__ for m in MIGRATIONS)
    return hashlib.sha1(names.encode()).hexdigest()[:8]


def default_db_path(scale: float = 1.0) -> Path:
    suffix = "" if scale == 1.0 else f"-x{scale:g}"
    return Path(tempfile.gettempdir()) / f"tuichat-scale-v{GEN_VERSION}-{schema_key()}{suffix}.db"


def generate(path: Path, scale: float = 1.0, seed: int = 1) -> dict[str, float]:
    """Build the database at `path` (via a temporary file, renamed when complete)."""
    from tuichat.core.text import first_line
    from tuichat.store import Store

    threads = max(2, round(THREADS * scale))
    big = max(10, round(BIG_THREAD * scale))
    messages = max(big + 2 * (threads - 1), round(MESSAGES * scale))
    t_start = time.perf_counter()
    rng = random.Random(seed)
    prose = prose_paragraphs()
    user_pool = [_prompt(rng, prose) for _ in range(10_000)]
    reply_pool = [_reply(rng, prose) for _ in range(20_000)]
    t_pools = time.perf_counter()

    tmp = path.with_name(path.name + ".part")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    store = Store(tmp)  # every migration runs here
    conn = store._conn  # the bench may use the private connection for the bulk load
    # A rollback journal for the load: new pages need no journaling, where WAL would
    # write the whole database twice. Switched back to WAL (as the app leaves it) below.
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA cache_size = -400000")

    lengths = _thread_lengths(rng, threads, messages, big)
    now = float(int(time.time()))
    year = 365 * 86400
    starts = sorted(now - rng.uniform(2 * 86400, year) for _ in range(threads - 1))
    starts.append(now - 30 * 86400)  # the big thread: the last month, the most recent
    rare_en = set(rng.sample(range(1, messages + 1), RARE_COUNT))
    rare_ja = set(rng.sample(range(1, messages + 1), RARE_COUNT))

    thread_rows = []
    plan = []  # (thread_id, start, gap, count)
    for tid, (start, count) in enumerate(zip(starts, lengths), start=1):
        if tid == threads:
            gap = (30 * 86400 - 3600) / count
        else:
            gap = rng.uniform(20, 300)
        plan.append((tid, start, gap, count))

    def message_rows():
        mid = 0
        for tid, start, gap, count in plan:
            for k in range(count):
                mid += 1
                t = start + k * gap + rng.uniform(0, gap / 2)
                if k % 2 == 0:
                    role, content = "user", rng.choice(user_pool)
                    model, usage = None, (None, None)
                else:
                    role, content = "assistant", rng.choice(reply_pool)
                    model = thread_rows[tid - 1][3]
                    usage = (rng.randint(50, 4000), max(1, len(content) // 4))
                if mid in rare_en:
                    content = f"{content}\n\nThe {RARE_EN} came up again."
                if mid in rare_ja:
                    content = f"{content}\n\n{RARE_JA}の話です。"
                if tid == threads and k == count - 1:
                    content = f"{content}\n\n{LAST_MARKER}"
                status, finish = "done", ("stop" if role == "assistant" else None)
                if role == "assistant" and rng.random() < 0.005:
                    status, finish = "stopped", None
                yield (mid, tid, role, content, status, model, finish, usage[0], usage[1], t, t)

    # Threads first; titled below from their first prompt.
    for tid, start, gap, count in plan:
        end = start + (count - 1) * gap + gap / 2
        thread_rows.append((tid, "", rng.choice(_PERSONAS), rng.choice(_MODELS), start, end))
    t0 = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO threads (id, title, persona, model, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            thread_rows,
        )
        conn.executemany(
            "INSERT INTO messages (id, thread_id, role, content, status, model, finish_reason,"
            " prompt_tokens, completion_tokens, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            message_rows(),
        )
    t_insert = time.perf_counter()
    conn.execute("PRAGMA journal_mode = WAL")
    # Titles: the first line of each thread's first prompt, as Store.add_message sets it.
    with conn:
        conn.execute(
            "UPDATE threads SET title = (SELECT content FROM messages m WHERE m.thread_id = threads.id"
            " ORDER BY m.id LIMIT 1)"
        )
        titles = [(first_line(c or ""), i) for i, c in conn.execute("SELECT id, title FROM threads")]
        conn.executemany("UPDATE threads SET title = ? WHERE id = ?", titles)
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, path)
    t_end = time.perf_counter()
    return {
        "threads": threads, "messages": messages, "big": big,
        "pools_s": t_pools - t_start, "insert_s": t_insert - t0, "total_s": t_end - t_start,
        "size_mb": path.stat().st_size / 1e6,
    }


def db_facts(path: Path) -> dict[str, object]:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        threads = conn.execute("SELECT count(*) FROM threads").fetchone()[0]
        top = conn.execute("SELECT id FROM threads ORDER BY updated_at DESC, id DESC LIMIT 1").fetchone()
        big_id = top[0] if top else None
        big_n = conn.execute("SELECT count(*) FROM messages WHERE thread_id = ?", (big_id,)).fetchone()[0]
        last_id = conn.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        triggers = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    finally:
        conn.close()
    return {"threads": threads, "big_id": big_id, "big_n": big_n, "max_message_id": last_id,
            "tables": tables, "triggers": triggers}


def ensure_db(path: Path | None, regenerate: bool, scale: float) -> Path:
    target = path or default_db_path(scale)
    if target.exists() and not regenerate:
        print(f"database: {target} (cached; --regenerate rebuilds it)")
        return target
    print(f"generating {target} ...", flush=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    st = generate(target, scale)
    print(f"  {st['threads']:,} threads, {st['messages']:,} messages (one thread of {st['big']:,}),"
          f" {st['size_mb']:.0f} MB")
    print(f"  generation: {st['total_s']:.1f} s in all; text pools {st['pools_s']:.1f} s;"
          f" the one insert transaction (threads + messages, triggers and indexes included)"
          f" {st['insert_s']:.1f} s   target: a few minutes")
    return target



# ====================================================================== helpers


def median(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


def spread(xs: list[float], unit: str = "ms", digits: int = 1) -> str:
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return "(no runs)"
    return f"(min {min(xs):.{digits}f}, max {max(xs):.{digits}f} {unit}; {len(xs)} runs)"


def verdict(ok: bool) -> str:
    return "ok" if ok else "OVER BUDGET"


def run_child(kind: str, job: dict[str, object], timeout: float = 300) -> dict:  # type: ignore[type-arg]
    """Run `kind` in a fresh python process (this file with --child); its last stdout
    line is a JSON result."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind, json.dumps(job)],
        capture_output=True, text=True, env=os.environ.copy(), timeout=timeout,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{kind}: the child process failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


async def _until(predicate, timeout: float, step: float = 0.005) -> bool:  # type: ignore[no-untyped-def]
    from stream import _until as until

    return await until(predicate, timeout, step)


# ================================================================= headless: open


def child_open(job: dict) -> dict:  # type: ignore[type-arg]
    return asyncio.run(_open_headless(Path(job["db"]), int(job["thread_id"]),
                                      Path(job["profile"]) if job.get("profile") else None))


async def _open_headless(db: Path, thread_id: int, profile: Path | None) -> dict[str, float]:
    from stream import _build_app
    from tuichat.ui.screens.chat import ChatScreen
    from tuichat.ui.widgets.thread_list import ThreadList
    from tuichat.ui.widgets.transcript import Transcript

    app = _build_app(BASE_URL, db)
    st: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: isinstance(app.screen, ChatScreen), 10)
        await pilot.pause()
        screen = app.screen
        transcript = screen.query_one(Transcript)
        render_line = transcript.render_line
        display = screen.view._display  # puts a read page on screen (synchronous)
        st["load_ms"], st["loaded"] = 0.0, 0

        def spy_render(y: int):  # type: ignore[no-untyped-def]
            strip = render_line(y)
            if "painted" not in st and "t0" in st and LAST_MARKER in strip.text:
                st["painted"] = time.perf_counter()
                st["cpu_painted"] = time.process_time()
            return strip

        def spy_read(read):  # type: ignore[no-untyped-def]
            # Every read of the thread's messages (the last page, counts): time and rows.
            def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                out = read(*args, **kwargs)
                if "t0" in st and "painted" not in st:
                    st["load_ms"] += (time.perf_counter() - t) * 1000
                    st["loaded"] += len(out) if isinstance(out, list) else 0
                return out
            return spy

        def spy_show(conv, page):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            display(conv, page)
            st["show_ms"] = (time.perf_counter() - t) * 1000

        transcript.render_line = spy_render  # type: ignore[method-assign]
        for name in ("messages", "messages_before", "count_before"):
            if hasattr(app.store, name):
                setattr(app.store, name, spy_read(getattr(app.store, name)))
        screen.view._display = spy_show  # type: ignore[method-assign]
        await pilot.pause()
        profiler = None
        if profile is not None:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        st["cpu0"] = time.process_time()
        st["t0"] = time.perf_counter()
        # The path a click or Enter in the thread list takes.
        screen.query_one(ThreadList).post_message(ThreadList.Chosen(thread_id))
        ok = await _until(lambda: "painted" in st, 20, 0.002)
        if profiler is not None:
            profiler.disable()
            profile.parent.mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(str(profile))
        if not ok:
            raise RuntimeError(f"the last message ({LAST_MARKER}) was not painted within 20 s;"
                               f" the screen shows:\n{transcript.visible_text()[-2000:]}")
        await pilot.pause()
        # Home: the top of the thread, reading every older message not read yet.
        unloaded = getattr(transcript, "unloaded", 0)
        t = time.perf_counter()
        transcript.action_scroll_home()
        st["home_ms"] = (time.perf_counter() - t) * 1000
        st["home_read"] = unloaded
        await pilot.pause()
    return {
        "total_ms": (st["painted"] - st["t0"]) * 1000,
        "cpu_ms": (st["cpu_painted"] - st["cpu0"]) * 1000,
        "load_ms": st.get("load_ms", math.nan),
        "show_ms": st.get("show_ms", math.nan),
        "loaded": st.get("loaded", 0),
        "home_ms": st.get("home_ms", math.nan),
        "home_read": st.get("home_read", 0),
    }


# ================================================================= search, filter


def child_search(job: dict) -> dict:  # type: ignore[type-arg]
    from tuichat.store import Store

    db, n = Path(job["db"]), int(job["n"])
    out = {}
    for label, query in job["queries"]:
        # A new connection per query: its first call starts from an empty SQLite page
        # cache. The OS cache may or may not hold the pages (see bench/README.md).
        # The first page as the search screen asks for it (time-boxed; it may stop
        # early and say where), then the whole search in one query (Store.search).
        page_cold, page_warm, page = math.nan, [], None
        with Store(db) as store:
            if hasattr(store, "search_page"):
                t = time.perf_counter()
                page = store.search_page(query)
                page_cold = (time.perf_counter() - t) * 1000
                for _ in range(n):
                    t = time.perf_counter()
                    store.search_page(query)
                    page_warm.append((time.perf_counter() - t) * 1000)
        with Store(db) as store:
            t = time.perf_counter()
            hits = store.search(query)
            cold = (time.perf_counter() - t) * 1000
            warm = []
            for _ in range(n):
                t = time.perf_counter()
                store.search(query)
                warm.append((time.perf_counter() - t) * 1000)
        out[label] = {"query": query, "cold": cold, "warm": warm, "hits": len(hits),
                      "first": hits[0].snippet if hits else "",
                      "page_cold": page_cold, "page_warm": page_warm,
                      "page_hits": len(page.hits) if page else 0,
                      "page_more": page is not None and page.next_before is not None
                      and len(page.hits) < 50}
    return out


def child_filter(job: dict) -> dict:  # type: ignore[type-arg]
    from tuichat.store import Store

    db, n = Path(job["db"]), int(job["n"])
    out = {}
    with Store(db) as store:
        for query in job["queries"]:
            rows = []
            for i in range(1, len(query) + 1):
                prefix = query[:i]
                times = []
                count = 0
                for _ in range(n):
                    t = time.perf_counter()
                    count = len(store.filter_threads(prefix))
                    times.append((time.perf_counter() - t) * 1000)
                rows.append({"prefix": prefix, "ms": times, "count": count})
            out[query] = rows
    return out


def child_filter_ui(job: dict) -> dict:  # type: ignore[type-arg]
    return asyncio.run(_filter_ui(Path(job["db"]), job["queries"]))


def _find_filter_box(screen):  # type: ignore[no-untyped-def]
    """The thread list's filter input, if the app has one (an Input inside or next to
    the ThreadList whose id or classes mention "filter")."""
    from textual.widgets import Input

    for box in screen.query(Input):
        names = f"{box.id or ''} {' '.join(box.classes)}".lower()
        if "filter" in names:
            return box
    return None


async def _filter_ui(db: Path, queries: list[str]) -> dict:  # type: ignore[type-arg]
    from textual import events

    from stream import _build_app
    from tuichat.ui.screens.chat import ChatScreen
    from tuichat.ui.widgets.thread_list import ThreadList

    app = _build_app(BASE_URL, db)
    out: dict[str, object] = {}
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: isinstance(app.screen, ChatScreen), 10)
        await pilot.pause()
        screen = app.screen
        box = _find_filter_box(screen)
        if box is None:
            return {"available": False}
        tl = screen.query_one(ThreadList)
        marks: dict[str, float] = {}
        refresh_threads, set_options, render_line = screen.refresh_threads, tl.set_options, tl.render_line

        def spy_refresh() -> None:
            marks.setdefault("handler", time.perf_counter())
            refresh_threads()
            marks["updated"] = time.perf_counter()

        def spy_set_options(options):  # type: ignore[no-untyped-def]
            t = time.perf_counter()
            result = set_options(options)
            marks["set_options_ms"] = (time.perf_counter() - t) * 1000
            return result

        def spy_render(y: int):  # type: ignore[no-untyped-def]
            if "updated" in marks and "painted" not in marks:
                marks["painted"] = time.perf_counter()
            return render_line(y)

        screen.refresh_threads = spy_refresh  # type: ignore[method-assign]
        tl.set_options = spy_set_options  # type: ignore[method-assign]
        tl.render_line = spy_render  # type: ignore[method-assign]
        driver = app._driver
        assert driver is not None
        for query in queries:
            box.focus()
            box.value = ""
            await pilot.pause(0.3)
            rows = []
            for ch in query:
                prefix = box.value + ch
                marks.clear()
                # Straight to the driver, as a terminal's key would come: Pilot.press
                # also waits for the CPU to go idle, which is not the app's time.
                key = events.Key(ch, ch)
                key.set_sender(app)
                t0 = time.perf_counter()
                driver.send_message(key)
                await _until(lambda: "updated" in marks, 5, 0.001)
                await asyncio.sleep(0.25)  # a typist's pace; time for the frame to be painted
                ms = lambda k: (marks[k] - t0) * 1000 if k in marks else math.nan  # noqa: E731
                rows.append({"prefix": prefix, "updated": ms("updated"), "painted": ms("painted"),
                             "handler": ms("handler"), "set_options": marks.get("set_options_ms", math.nan),
                             "count": tl.option_count, "ok": box.value == prefix})
            out[query] = rows
        out["available"] = True
    return out


def child_search_ui(job: dict) -> dict:  # type: ignore[type-arg]
    return asyncio.run(_search_ui(Path(job["db"]), job["queries"]))


async def _search_ui(db: Path, queries: list[str]) -> dict:  # type: ignore[type-arg]
    """The search screen as a user drives it: keys 80 ms apart (faster than its
    debounce); then the time from the last key until the hits of the whole query are
    listed (SearchScreen.show_results, or run_search if it lists them itself), and the
    longest the event loop was held up meanwhile (a 5 ms heartbeat's worst lateness)."""
    from textual import events

    from stream import _build_app
    from tuichat.ui.screens.chat import ChatScreen

    try:
        from tuichat.ui.screens.search import DEBOUNCE, SearchScreen
    except ImportError:
        return {"available": False}
    app = _build_app(BASE_URL, db)
    out: dict[str, object] = {"available": True, "debounce_ms": DEBOUNCE * 1000}
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: isinstance(app.screen, ChatScreen), 10)
        await pilot.pause()
        driver = app._driver
        assert driver is not None
        for query in queries:
            screen = SearchScreen(app.store)
            app.push_screen(screen)
            await _until(lambda: app.screen is screen and screen.is_mounted, 5)
            await pilot.pause(0.3)
            ui: list[tuple[str, float]] = []  # (what, ms on the UI thread)
            done: dict[str, float] = {}
            run_search = screen.run_search
            show_results = getattr(screen, "show_results", None)

            def spy_run_search() -> None:
                value = screen.query_input.value
                t = time.perf_counter()
                run_search()
                end = time.perf_counter()
                ui.append((f"run_search({value!r})", (end - t) * 1000))
                if value == query and show_results is None:
                    done["end"] = end

            def spy_show_results(q, result, **kwargs):  # type: ignore[no-untyped-def]
                t = time.perf_counter()
                assert show_results is not None
                show_results(q, result, **kwargs)
                end = time.perf_counter()
                ui.append((f"show_results({q!r})", (end - t) * 1000))
                if q == query:
                    # The first page listed; a long search goes on with older messages
                    # (SearchScreen.searching_older) until it is complete.
                    done.setdefault("end", end)
                    if not getattr(screen, "searching_older", False):
                        done["complete"] = end

            screen.run_search = spy_run_search  # type: ignore[method-assign]
            if show_results is not None:
                screen.show_results = spy_show_results  # type: ignore[method-assign]
            lateness = [0.0]
            beating = [True]

            async def heartbeat() -> None:
                while beating[0]:
                    t = time.perf_counter()
                    await asyncio.sleep(0.005)
                    lateness[0] = max(lateness[0], (time.perf_counter() - t - 0.005) * 1000)

            beat = asyncio.create_task(heartbeat())
            t_last = 0.0
            for ch in query:
                key = events.Key(ch, ch)
                key.set_sender(app)
                t_last = time.perf_counter()
                driver.send_message(key)
                await asyncio.sleep(0.08)
            await _until(lambda: "end" in done, 30, 0.002)
            first_hits = len(screen.hits)
            await _until(lambda: "complete" in done or show_results is None, 60, 0.002)
            beating[0] = False
            await beat
            out[query] = {"ui": ui, "last_key_to_listed": (done.get("end", math.nan) - t_last) * 1000,
                          "last_key_to_complete": (done.get("complete", math.nan) - t_last) * 1000,
                          "first_hits": first_hits, "hits": len(screen.hits), "stall": lateness[0]}
            screen.dismiss(None)
            await pilot.pause(0.3)
    return out


# ================================================================= SQL trace


def child_queries(job: dict) -> dict:  # type: ignore[type-arg]
    return asyncio.run(_queries(Path(job["db"]), int(job["thread_id"])))


async def _queries(db: Path, thread_id: int) -> dict:  # type: ignore[type-arg]
    from stream import _build_app
    from tuichat.ui.screens.chat import ChatScreen
    from tuichat.ui.widgets.thread_list import ThreadList
    from tuichat.ui.widgets.transcript import Transcript

    log: list[tuple[str, str]] = []
    phase = ["startup"]
    app = _build_app(BASE_URL, db)  # Store(db) has run (no) migrations already
    conn = app.store._conn
    conn.set_trace_callback(lambda sql: log.append((phase[0], sql)))
    # What cli.run does before the app starts (with -c).
    app.store.recover_streaming()
    app.store.latest_thread()
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: isinstance(app.screen, ChatScreen), 10)
        await pilot.pause(0.3)
        screen = app.screen
        transcript = screen.query_one(Transcript)
        phase[0] = "open thread"
        screen.query_one(ThreadList).post_message(ThreadList.Chosen(thread_id))
        await _until(lambda: LAST_MARKER in transcript.visible_text(), 20, 0.01)
        await pilot.pause(0.3)
        phase[0] = "scroll to top"
        transcript.action_scroll_home()
        await pilot.pause(0.5)
        phase[0] = "search"
        app.store.search("鰻丼")  # two characters, no hits: the LIKE fallback's worst case
        app.store.search("zqxjkvw")
        phase[0] = "filter"
        app.store.filter_threads("東京")
    conn.set_trace_callback(None)
    return {"log": log}


def explain(db: Path, log: list[tuple[str, str]]) -> list[dict]:  # type: ignore[type-arg]
    """EXPLAIN QUERY PLAN for each distinct statement that names the messages table."""
    import re
    import sqlite3

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    seen = set()
    out = []
    partial = {name for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
               if sql and " WHERE " in sql.upper()}
    try:
        for phase, sql in log:
            text = " ".join(sql.split())
            if text.startswith("--") or not re.search(r"\bmessages\b", text, re.IGNORECASE):
                continue
            if text.upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "CREATE")):
                continue
            key = (phase, re.sub(r"\b\d+(\.\d+)?\b", "N", text))
            if key in seen:
                continue
            seen.add(key)
            aliases = {"messages"} | {m.group(1).lower() for m in re.finditer(
                r"\bmessages\s+(?:AS\s+)?(\w+)", text, re.IGNORECASE)} - {"where", "set", "values", "join", "on"}
            try:
                plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + text)]
            except sqlite3.Error as exc:
                plan = [f"(cannot explain: {exc})"]
            scans = []
            for step in plan:
                m = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", step)
                if not m or m.group(1).lower() not in aliases:
                    continue
                # A partial index (messages_streaming) holds a few rows, not every message.
                if m.group(2) and m.group(2) in partial:
                    continue
                scans.append(step)
            out.append({"phase": phase, "sql": text, "plan": plan, "scans": scans})
    finally:
        conn.close()
    return out


# ================================================================= tmux


def tuichat_exe() -> str:
    exe = str(Path(sys.executable).with_name("tuichat"))
    return exe if Path(exe).exists() else (shutil.which("tuichat") or "tuichat")


def tmux_argv(db: Path, *extra: str) -> list[str]:
    return [tuichat_exe(), "--base-url", BASE_URL, "--db", str(db), *extra]


def tmux_until(tmux, name: str, pid: int, t0: float, pred, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    from startup import TmuxError

    while True:
        lines = tmux.capture(name)
        now = time.perf_counter()
        if pred(lines):
            return now - t0
        if now - t0 > timeout:
            tmux.kill(name, pid)
            raise TmuxError(f"timed out after {timeout:g} s; the pane shows:\n" + "\n".join(lines))
        time.sleep(0.002)


def empty_db(root: Path) -> Path:
    from tuichat.store import Store

    path = root / "empty.db"
    Store(path).close()  # migrated, like the big one
    return path


def tmux_startup(tmux, big: Path, empty: Path, root: Path, runs: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    from startup import app_env, rss_mb, time_to_screen

    from stream import proc_cpu

    res: dict[str, list[float]] = {"empty": [], "big": [], "rss_empty": [], "rss_big": [],
                                   "cpu_empty": [], "cpu_big": []}
    # Warm the page cache (the .pyc files, and both databases' first pages).
    for i, db in enumerate((empty, big)):
        tmp = root / f"warm{i}"
        _, pid, _ = time_to_screen(tmux, f"warm{i}", tmux_argv(db), app_env(tmp))
        tmux.kill(f"warm{i}", pid)
    for i in range(runs):
        for label, db in (("empty", empty), ("big", big)) if i % 2 == 0 else (("big", big), ("empty", empty)):
            name = f"start-{label}-{i}"
            tmp = root / name
            t, pid, _ = time_to_screen(tmux, name, tmux_argv(db), app_env(tmp))
            # CPU (user + system, 10 ms ticks) spent by then: less swayed by other work
            # on the box than the wall time.
            res[f"cpu_{label}"].append(proc_cpu(pid) * 1000)
            time.sleep(1.0)
            res[f"rss_{label}"].append(rss_mb(pid))
            tmux.kill(name, pid)
            res[label].append(t * 1000)
        print(f"  run {i + 1}: empty {res['empty'][-1]:6.1f} ms (CPU {res['cpu_empty'][-1]:4.0f})"
              f"  big {res['big'][-1]:6.1f} ms (CPU {res['cpu_big'][-1]:4.0f})"
              f"   RSS empty {res['rss_empty'][-1]:5.1f} MB  big {res['rss_big'][-1]:5.1f} MB", flush=True)
    return res


def tmux_open(tmux, big: Path, root: Path, runs: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    """`tuichat -c` on the big DB (the 5,000-message thread is the most recent): spawn
    -> first full screen -> the last message on screen; RSS 1 s later."""
    from startup import app_env, rss_mb, time_to_screen

    res: dict[str, list[float]] = {"screen": [], "last": [], "rss": []}
    for i in range(runs):
        name = f"open-{i}"
        tmp = root / name
        t0 = time.perf_counter()
        t_screen, pid, _ = time_to_screen(tmux, name, tmux_argv(big, "-c"), app_env(tmp))
        t_last = tmux_until(tmux, name, pid, t0, lambda lines: any(LAST_MARKER in ln for ln in lines))
        time.sleep(1.0)
        res["rss"].append(rss_mb(pid))
        tmux.kill(name, pid)
        res["screen"].append(t_screen * 1000)
        res["last"].append(t_last * 1000)
        print(f"  run {i + 1}: first full screen {t_screen * 1000:6.1f} ms, last message on screen"
              f" {t_last * 1000:6.1f} ms   RSS 1 s later {res['rss'][-1]:5.1f} MB", flush=True)
    return res


# ================================================================= reports


def report_startup(tmux, db: Path, root: Path, runs: int) -> None:  # type: ignore[no-untyped-def]
    print(f"\nstart-up to the first full screen: tmux {SIZE[0]}x{SIZE[1]}, big DB vs an empty (migrated) DB,"
          f" {runs} interleaved runs")
    res = tmux_startup(tmux, db, empty_db(root), root, runs)
    e, b = median(res["empty"]), median(res["big"])
    ratios = [y / x for x, y in zip(res["empty"], res["big"])]
    print(f"  empty DB: {e:7.1f} ms median {spread(res['empty'])}")
    print(f"  big DB:   {b:7.1f} ms median {spread(res['big'])}")
    print(f"  ratio big/empty: {b / e:5.2f} (run by run: {', '.join(f'{r:.2f}' for r in ratios)})"
          f"   budget <= {STARTUP_RATIO_BUDGET:g}x  {verdict(b / e <= STARTUP_RATIO_BUDGET)}")
    ce, cb = median(res["cpu_empty"]), median(res["cpu_big"])
    print(f"  CPU used by the first full screen (utime+stime, 10 ms ticks): empty {ce:.0f} ms, big {cb:.0f} ms,"
          f" ratio {cb / ce:.2f} (no budget: a check on the wall-time ratio, which other work on the box sways)")
    rb = median(res["rss_big"])
    print(f"  RSS 1 s after the first full screen: big DB {rb:5.1f} MB {spread(res['rss_big'], 'MB')},"
          f" empty DB {median(res['rss_empty']):5.1f} MB   budget (big) <= {RSS_START_BUDGET_MB:g} MB"
          f"  {verdict(rb <= RSS_START_BUDGET_MB)}")


def report_open(tmux, db: Path, root: Path, runs: int, big_id: int, profile: Path | None) -> None:  # type: ignore[no-untyped-def]
    print(f"\nopen the {BIG_THREAD:,}-message thread until its last screen is painted: headless"
          f" App.run_test {SIZE[0]}x{SIZE[1]}, from ThreadList.Chosen to render_line showing the last message;"
          f" {runs} runs, each in a fresh process")
    rows = []
    for i in range(runs):
        prof = profile / f"open-{i}.prof" if profile else None
        r = run_child("open", {"db": str(db), "thread_id": big_id, "profile": str(prof) if prof else None})
        rows.append(r)
        print(f"  run {i + 1}: {r['total_ms']:7.1f} ms (CPU {r['cpu_ms']:6.1f} ms); of which store reads"
              f" {r['load_ms']:6.1f} ms ({r['loaded']:,} messages read), display {r['show_ms']:6.1f} ms;"
              f" then Home {r['home_ms']:6.1f} ms (reads the {r['home_read']:,} older ones)", flush=True)
    total = median([r["total_ms"] for r in rows])
    print(f"  median: {total:7.1f} ms   (store reads {median([r['load_ms'] for r in rows]):.1f} ms,"
          f" display in all {median([r['show_ms'] for r in rows]):.1f} ms)"
          f"   budget < {OPEN_BUDGET_MS:g} ms  {verdict(total < OPEN_BUDGET_MS)}")
    print(f"  Home, to the first message (reads the rest of the thread): {median([r['home_ms'] for r in rows]):.1f} ms"
          " median (no budget)")
    if profile:
        import pstats

        print(f"  profile of the first run ({profile / 'open-0.prof'}), top by cumulative time:")
        stats = pstats.Stats(str(profile / "open-0.prof"))
        stats.sort_stats("cumulative").print_stats(18)
    if tmux is None:
        return
    print(f"\n  in tmux: `tuichat -c` with the big DB (the {BIG_THREAD:,}-message thread is the most recent),"
          f" {runs} runs")
    res = tmux_open(tmux, db, root, runs)
    last, rss = median(res["last"]), median(res["rss"])
    print(f"  spawn -> first full screen {median(res['screen']):7.1f} ms; spawn -> last message on screen"
          f" {last:7.1f} ms {spread(res['last'])}")
    print(f"  (the start-up part is measured above; last - first full screen ="
          f" {last - median(res['screen']):.1f} ms)")
    print(f"  RSS 1 s after the last message is on screen: {rss:5.1f} MB {spread(res['rss'], 'MB')}"
          f"   budget <= {RSS_OPEN_BUDGET_MB:g} MB  {verdict(rss <= RSS_OPEN_BUDGET_MB)}")


def report_rss_only(tmux, db: Path, root: Path, runs: int) -> None:  # type: ignore[no-untyped-def]
    from startup import app_env, rss_mb, time_to_screen

    print(f"\nresident memory (VmRSS), tmux, big DB, {runs} runs")
    start, after = [], []
    for i in range(runs):
        tmp = root / f"rss-{i}"
        _, pid, _ = time_to_screen(tmux, f"rss-{i}", tmux_argv(db), app_env(tmp))
        time.sleep(1.0)
        start.append(rss_mb(pid))
        tmux.kill(f"rss-{i}", pid)
    res = tmux_open(tmux, db, root, runs)
    after = res["rss"]
    print(f"  1 s after start: {median(start):5.1f} MB {spread(start, 'MB')}   budget <= {RSS_START_BUDGET_MB:g} MB"
          f"  {verdict(median(start) <= RSS_START_BUDGET_MB)}")
    print(f"  1 s after `tuichat -c` showed the {BIG_THREAD:,}-message thread: {median(after):5.1f} MB"
          f" {spread(after, 'MB')}   budget <= {RSS_OPEN_BUDGET_MB:g} MB"
          f"  {verdict(median(after) <= RSS_OPEN_BUDGET_MB)}")


def report_search(db: Path, n: int) -> None:
    print(f"\nsearch over the big DB: first page = Store.search_page(query) (limit 50, its default time"
          f" budget; \"more\" = it stopped early and the screen goes on with older messages); full scan ="
          f" Store.search(query) (limit 50, one query, to the end). cold = first call on a new connection"
          f" (the OS may have evicted the pages: see bench/README.md); then the median of {n} calls")
    res = run_child("search", {"db": str(db), "n": n, "queries": SEARCHES})
    worst = worst_full = 0.0
    for label, r in res.items():
        m = median(r["warm"])
        worst_full = max(worst_full, m, r["cold"])
        if r["page_warm"]:
            pm = median(r["page_warm"])
            worst = max(worst, pm, r["page_cold"])
            more = "more" if r["page_more"] else "    "
            print(f"  {label:36} {r['query']!r:18} first page: hits {r['page_hits']:3d} {more} cold"
                  f" {r['page_cold']:7.1f} ms  median {pm:7.1f} ms {spread(r['page_warm'])}"
                  f"  {verdict(pm < SEARCH_BUDGET_MS)}")
        print(f"  {'':36} {'':18} full scan:  hits {r['hits']:3d}      cold {r['cold']:7.1f} ms  median"
              f" {m:7.1f} ms {spread(r['warm'])}  (no budget)")
    print(f"  budget < {SEARCH_BUDGET_MS:g} ms for the first page (median); slowest first-page figure (cold or"
          f" median): {worst:.1f} ms; slowest full scan: {worst_full:.1f} ms")
    res = run_child("search_ui", {"db": str(db), "queries": SEARCH_UI_QUERIES})
    if not res.get("available"):
        print("  in the app: no search screen (tuichat.ui.screens.search) yet: not measured")
    else:
        debounce = res["debounce_ms"]
        print(f"  in the app (headless; Ctrl+F screen, keys 80 ms apart, then its {debounce:.0f} ms debounce):"
              " last key -> hits listed; time spent on the UI thread by run_search/show_results; the event"
              " loop's worst delay meanwhile (5 ms heartbeat)")
        for query in SEARCH_UI_QUERIES:
            r = res[query]
            listed, stall = r["last_key_to_listed"], r["stall"]
            complete = r.get("last_key_to_complete", math.nan)
            print(f"    {query!r:12} last key -> first page listed {listed:7.1f} ms ({r.get('first_hits', r['hits'])}"
                  f" hits; of which debounce {debounce:.0f}); -> search complete {complete:7.1f} ms"
                  f" ({r['hits']} hits); worst event-loop delay {stall:6.1f} ms"
                  f"  {verdict(listed - debounce < SEARCH_BUDGET_MS)}")
            ui_ms = [ms for _, ms in r["ui"]]
            print(f"      on the UI thread: {len(ui_ms)} calls of run_search/show_results, longest"
                  f" {max(ui_ms, default=0):.1f} ms, total {sum(ui_ms):.1f} ms")
    # The command line, as a user would run it: process start + search + print.
    label, query = SEARCHES[0]
    argv = [tuichat_exe(), "search", query, "--db", str(db)]
    times, rc, err, out_lines = [], 0, "", 0
    for _ in range(3):
        t = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True, env=_env_for_cli(db))
        times.append((time.perf_counter() - t) * 1000)
        rc, err, out_lines = proc.returncode, proc.stderr.strip(), len(proc.stdout.splitlines())
    if rc != 0:
        print(f"  `tuichat search {query}`: exit {rc}: {err.splitlines()[-1] if err else '(no message)'}"
              " (not available yet?)")
    else:
        print(f"  `tuichat search {query}` as a subprocess: {median(times):.0f} ms wall (median of 3;"
              f" {out_lines} lines of output; no budget)")


def _env_for_cli(db: Path) -> dict[str, str]:
    from startup import clean_env

    env = clean_env()
    tmp = Path(tempfile.gettempdir()) / f"tuichat-scale-cli-{os.getpid()}"
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    env["XDG_DATA_HOME"] = str(tmp / "data")
    return env


def report_filter(db: Path, n: int) -> None:
    print(f"\nthread-list filter per keystroke: Store.filter_threads(prefix) as the query is typed,"
          f" median of {n} calls each")
    res = run_child("filter", {"db": str(db), "n": n, "queries": FILTER_QUERIES})
    worst = 0.0
    for query, rows in res.items():
        cells = []
        for r in rows:
            m = median(r["ms"])
            worst = max(worst, m)
            cells.append(f"{r['prefix']!r} {m:.1f} ms ({r['count']})")
        print(f"  {query!r}: " + ", ".join(cells))
    print(f"  slowest keystroke: {worst:.1f} ms   budget {FILTER_BUDGET_MS:g} ms per keystroke"
          f"  {verdict(worst <= FILTER_BUDGET_MS)}   (in brackets: threads listed, at most 200)")
    res = run_child("filter_ui", {"db": str(db), "queries": FILTER_QUERIES})
    if not res.get("available"):
        print("  in the app: no filter box found in the chat screen (an Input whose id or class says"
              " \"filter\"; also tried \"/\" and ctrl+f on the thread list): not measured")
        return
    worst = 0.0
    print("  in the app (headless, key events sent to the driver 250 ms apart): key -> thread list updated"
          " (ChatScreen.refresh_threads returned) / painted (its first render_line after that);"
          " set_options = OptionList.set_options alone")
    for query in FILTER_QUERIES:
        cells = []
        for r in res[query]:
            shown = r["painted"] if not math.isnan(r["painted"]) else r["updated"]
            worst = max(worst, shown) if not math.isnan(shown) else math.inf
            cells.append(f"{r['prefix']!r} {r['updated']:.1f}/{r['painted']:.1f} ms"
                         f" (set_options {r['set_options']:.1f})" + ("" if r["ok"] else " (KEY LOST)"))
        print(f"  {query!r}: " + ", ".join(cells))
    print(f"  slowest keystroke (to painted, or updated when nothing changed on screen): {worst:.1f} ms"
          f"   budget {FILTER_BUDGET_MS:g} ms  {verdict(worst <= FILTER_BUDGET_MS)}")


def report_queries(db: Path, big_id: int) -> None:
    print("\nqueries that touch `messages` (set_trace_callback; start-up as cli.py does it with -c, then"
          f" opening the {BIG_THREAD:,}-message thread headless, scrolling to its top, two searches, a filter)")
    res = run_child("queries", {"db": str(db), "thread_id": big_id})
    log = [tuple(x) for x in res["log"]]
    counts: dict[str, int] = {}
    for phase, _ in log:
        counts[phase] = counts.get(phase, 0) + 1
    print("  statements per phase: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    bad = 0
    for row in explain(db, log):  # type: ignore[arg-type]
        sql = row["sql"] if len(row["sql"]) < 260 else row["sql"][:257] + "..."
        mark = "SCANS messages" if row["scans"] else "ok"
        if row["scans"] and row["phase"] in ("startup", "open thread", "scroll to top"):
            bad += 1
            mark = "SCANS messages  <-- reads every message"
        print(f"  [{row['phase']}] {mark}\n      {sql}\n      plan: {' | '.join(row['plan'])}")
    print(f"  statements of start-up / thread open that scan messages: {bad}   budget: none")


# ================================================================= main


CHILDREN = {"open": child_open, "search": child_search, "search_ui": child_search_ui, "filter": child_filter,
            "filter_ui": child_filter_ui, "queries": child_queries}


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))), flush=True)
        return 0
    p = argparse.ArgumentParser(description="Scale benchmarks: 10,000 threads, 1,000,000 messages.")
    p.add_argument("--runs", type=int, default=5, help="runs of each timed measurement (default 5)")
    p.add_argument("--quick", action="store_true", help="3 runs, 10 search/filter repetitions")
    p.add_argument("--only", default=",".join(ALL_PARTS),
                   help=f"comma-separated parts to run (default all: {','.join(ALL_PARTS)})")
    p.add_argument("--db", type=Path, default=None,
                   help="database to use (generated there if missing); default: the cached /tmp file")
    p.add_argument("--regenerate", action="store_true", help="rebuild the database even if cached")
    p.add_argument("--scale", type=float, default=1.0,
                   help="generate a smaller database (e.g. 0.01) to try the bench out; budgets assume 1")
    p.add_argument("--profile", type=Path, default=None,
                   help="write a cProfile of each headless thread open into this directory, print the top")
    args = p.parse_args(argv)
    parts = [x.strip() for x in args.only.split(",") if x.strip()]
    unknown = set(parts) - set(ALL_PARTS) - {"none"}
    if unknown:
        p.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(ALL_PARTS)}")
    runs = 3 if args.quick and args.runs == 5 else args.runs
    reps = 10 if args.quick else 30

    from startup import Tmux, clean_env, load_average, sigterm_to_exit

    sigterm_to_exit()
    db = ensure_db(args.db, args.regenerate, args.scale)
    facts = db_facts(db)
    print(f"  {facts['threads']:,} threads; most recent thread #{facts['big_id']} has {facts['big_n']:,} messages;"
          f" search index: {'messages_fts' in facts['tables']}; triggers: {', '.join(facts['triggers']) or 'none'}")
    if facts["big_n"] != round(BIG_THREAD * args.scale) and args.scale == 1.0:
        print(f"  WARNING: the most recent thread has {facts['big_n']:,} messages, not {BIG_THREAD:,}:"
              " the open and rss figures are not for the thread the budget is about")
    if not [x for x in parts if x != "none"]:
        return 0
    root = Path(tempfile.mkdtemp(prefix="tuichat-scale-"))
    # The headless app reads personas and config through XDG: keep it off the user's.
    os.environ["XDG_CONFIG_HOME"] = str(root / "config")
    os.environ["XDG_DATA_HOME"] = str(root / "data")
    for name in [k for k in os.environ if k.startswith(("OPENAI_", "AZURE_OPENAI_"))]:
        del os.environ[name]
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(HERE)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    print(f"load average before: {load_average()} (on {os.cpu_count()} CPUs; other work on the box skews the figures)")
    tmux = None
    try:
        if {"startup", "open", "rss"} & set(parts):
            tmux = Tmux(clean_env())
        if "startup" in parts:
            report_startup(tmux, db, root, runs)
        if "open" in parts:
            report_open(tmux, db, root, runs, int(facts["big_id"]), args.profile)  # type: ignore[arg-type]
        elif "rss" in parts:
            report_rss_only(tmux, db, root, runs)
        if "search" in parts:
            report_search(db, reps)
        if "filter" in parts:
            report_filter(db, reps)
        if "queries" in parts:
            report_queries(db, int(facts["big_id"]))  # type: ignore[arg-type]
    finally:
        if tmux is not None:
            tmux.close()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(Path(tempfile.gettempdir()) / f"tuichat-scale-cli-{os.getpid()}", ignore_errors=True)
    print(f"\nload average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
