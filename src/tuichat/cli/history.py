"""`tuichat threads|search|export|import|delete`: the history from the command line.

cli/main.py sends argv here when its first word (after --db/--config) is one of SUBCOMMANDS,
and handles errors the same way as for the app (UsageError -> exit 2, one line, no
traceback). These commands only read or write the database: they need no API key and
never import textual, rich or openai, so they start in a blink and work over ssh and in
scripts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from tuichat import paths
from tuichat.core.errors import UsageError
from tuichat.core.models import SearchHit, Thread
from tuichat.core.files import open_private
from tuichat.core.text import clean_line, encodable, first_line, sanitize
from tuichat.core.timestamps import local_datetime
from tuichat.session import history

SUBCOMMANDS = ("threads", "search", "export", "import", "delete")
# SQLite integers are 64-bit; a bigger id would overflow the query itself. A limit is
# capped lower, so that limit + 1 or an offset added to it stays in range.
MAX_INT = 2**63 - 1
MAX_LIMIT = 2**31
BOLD, NORMAL = "\x1b[1m", "\x1b[22m"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuichat", description="Browse, search, export and import history."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", metavar="PATH", type=Path, help=f"SQLite database (default {paths.db_path()})"
    )
    # Accepted so the same options work before any subcommand; nothing in config.toml
    # changes what these commands do today.
    common.add_argument("--config", metavar="PATH", type=Path, help="config file (accepted, not needed)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    threads = sub.add_parser("threads", parents=[common], help="list threads, most recent first")
    threads.add_argument(
        "--limit", type=_positive, default=50, metavar="N", help="at most N threads (default 50)"
    )

    search = sub.add_parser("search", parents=[common], help="search every message")
    search.add_argument("query", nargs="+", metavar="QUERY",
                        help="words that must all appear (case-insensitive, substrings match)")
    search.add_argument(
        "--limit", type=_positive, default=50, metavar="N", help="at most N results (default 50)"
    )

    export = sub.add_parser("export", parents=[common], help="write one thread as Markdown or JSON")
    export.add_argument("thread_id", type=_thread_id, metavar="THREAD_ID", help="the id shown by `tuichat threads`")
    export.add_argument("--format", choices=("md", "json"), default="md", help="md (default) or json")
    export.add_argument("-o", "--output", metavar="FILE", type=Path, help="write to FILE instead of stdout")

    imp = sub.add_parser("import", parents=[common],
                         help="import a tuichat JSON export or a ChatGPT conversations.json")
    imp.add_argument("file", type=Path, metavar="FILE")

    delete = sub.add_parser("delete", parents=[common], help="delete one thread and its messages")
    delete.add_argument("thread_id", type=_thread_id, metavar="THREAD_ID", help="the id shown by `tuichat threads`")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give e.g. 20") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return min(value, MAX_LIMIT)  # "as many as there are"


def _thread_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a thread id; `tuichat threads` lists them (the first column)"
        ) from None
    if not 1 <= value <= MAX_INT:
        raise argparse.ArgumentTypeError(
            f"no thread has id {text}; `tuichat threads` lists them (the first column)"
        )
    return value


def run(args: argparse.Namespace) -> int:
    from tuichat.cli.common import open_store

    store = open_store(args.db)
    try:
        command = {"threads": _threads, "search": _search, "export": _export, "import": _import,
                   "delete": _delete}
        return command[args.command](store, args, sys.stdout)
    except BrokenPipeError:
        # `tuichat threads | head`: the reader left; that is not an error. Point stdout at
        # devnull so the interpreter's final flush does not complain either.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        store.close()


def local_time(timestamp: float) -> str:
    # Any stored value formats (an old import may have kept a time out of range).
    return local_datetime(timestamp).strftime("%Y-%m-%d %H:%M")


def _title(thread_title: str) -> str:
    # Titles come from user text, models and imports: one line, every control, bidi and
    # zero-width character shown as a mark.
    return clean_line(first_line(thread_title, limit=200)) or "(untitled)"


def format_threads(threads: list[Thread]) -> list[str]:
    """One aligned line per thread: id, last activity, persona, title."""
    id_width = max((len(str(t.id)) for t in threads), default=0)
    persona_width = max((len(clean_line(t.persona)) for t in threads), default=0)
    return [
        f"{t.id:>{id_width}}  {local_time(t.updated_at)}"
        f"  {clean_line(t.persona):<{persona_width}}  {_title(t.title)}"
        for t in threads
    ]


def highlight(snippet: str, spans: list[tuple[int, int]]) -> str:
    """`snippet` with its spans in bold (ANSI). The snippet is already sanitised, so the
    only escape sequences in the result are ours."""
    out, at = [], 0
    for start, end in spans:
        out += [snippet[at:start], BOLD, snippet[start:end], NORMAL]
        at = end
    out.append(snippet[at:])
    return "".join(out)


def format_hits(hits: list[SearchHit], *, bold: bool) -> list[str]:
    """Two lines per hit: where it is (thread id, date, role, title), then the snippet."""
    id_width = max((len(str(h.thread_id)) for h in hits), default=0)
    lines = []
    for hit in hits:
        where = f"{local_time(hit.created_at)}  {clean_line(hit.role):<9}  {_title(hit.thread_title)}"
        lines.append(f"{hit.thread_id:>{id_width}}  {where}")
        # The store's snippet is already one clean line (cleaning again changes nothing,
        # so the spans still fit); cleaned here too, as every path to the terminal is.
        snippet = clean_line(hit.snippet)
        snippet = highlight(snippet, hit.spans) if bold else snippet
        lines.append(" " * (id_width + 2) + snippet)
    return lines


def _threads(store, args: argparse.Namespace, out: TextIO) -> int:
    for line in format_threads(history.list_threads(store, args.limit)):
        print(line, file=out)
    return 0


def _search(store, args: argparse.Namespace, out: TextIO) -> int:
    query = " ".join(args.query)
    hits = history.search(store, query, args.limit)
    if not hits:
        print(f"No messages match {query!r}.", file=sys.stderr)
        return 0
    for line in format_hits(hits, bold=out.isatty()):
        print(line, file=out)
    return 0


def _export(store, args: argparse.Namespace, out: TextIO) -> int:
    thread, text = history.export_text(store, args.thread_id, args.format)
    if args.output is None:
        # stdout is a terminal, or feeds one (`| less -R`): the text shown inert. JSON
        # is inert already, with the exact data (see dumps).
        out.write(text if args.format == "json" else sanitize(text))
        return 0
    try:
        # A file keeps the exact text (lone surrogates aside: UTF-8 cannot hold them).
        # Created 0600 (an export is as private as the history); a FIFO is refused.
        with open_private(args.output) as fh:
            fh.write(encodable(text))
    except OSError as exc:
        raise UsageError(f"Cannot write {args.output}", exc.strerror or str(exc)) from None
    print(f"Wrote thread {thread.id} to {args.output}.", file=sys.stderr)
    return 0


def _import(store, args: argparse.Namespace, out: TextIO) -> int:
    result = history.import_file(store, args.file)  # checks everything before any write
    imported, skipped, message_count = result.threads, result.skipped, result.messages
    print(
        f"Imported {imported} thread{'s' if imported != 1 else ''} ({message_count} message"
        f"{'s' if message_count != 1 else ''}); skipped {skipped} already imported.",
        file=out,
    )
    return 0


def _delete(store, args: argparse.Namespace, out: TextIO) -> int:
    """No confirmation: the command is the confirmation (the app asks; a script must not)."""
    deleted = history.delete_thread(store, args.thread_id)
    if deleted is None:
        raise UsageError(f"No thread with id {args.thread_id}", "`tuichat threads` lists them.")
    thread, count = deleted
    print(f"Deleted thread {thread.id} ({_title(thread.title)}, {count} message"
          f"{'s' if count != 1 else ''}).", file=out)
    return 0
