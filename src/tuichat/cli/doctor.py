"""`tuichat doctor`: is everything in place to chat? Checks the config, the personas, the
database and the server (reachable, key accepted, models listed, a one-token streamed
reply, whether it counts tokens), and says what to fix. Exit 0 when nothing failed
(warnings do not fail), 1 otherwise.

Everything printed that came from a file or a server is made inert (clean_line), and the
API key is never printed: only where it came from.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TextIO

from tuichat import paths
from tuichat.core.errors import ProviderError, TuichatError
from tuichat.core.events import Finished, TextDelta, UsageReport
from tuichat.core.text import clean_line, mask_url, mask_urls

OK, WARN, FAIL = "ok", "warning", "FAILED"
_MARKS = {OK: "✓", WARN: "!", FAIL: "✗"}
PROBE = "Reply with the single word OK."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuichat doctor",
        description="Check the config, personas, database and server; say what to fix.",
    )
    parser.add_argument("--config", metavar="PATH", type=Path, help=f"config file (default {paths.config_file()})")
    parser.add_argument("--db", metavar="PATH", type=Path, help=f"SQLite database (default {paths.db_path()})")
    parser.add_argument("--base-url", metavar="URL", help="the server to check (default: as the app would)")
    parser.add_argument("--server", metavar="NAME", help="the named server ([servers.NAME]) to check")
    parser.add_argument("--model", help="the model to try (default: as the app would)")
    return parser


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = 0
        self.warned = 0

    def say(self, level: str, what: str, detail: str = "") -> None:
        self.failed += level == FAIL
        self.warned += level == WARN
        line = f"{_MARKS[level]} {clean_line(mask_urls(what))}"
        if detail:
            line += f": {clean_line(mask_urls(detail))}"
        print(line, file=self.out, flush=True)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from tuichat.config import load_settings, with_overrides
    from tuichat.servers import PLACEHOLDER_KEY, resolve_server, server_key, server_names
    from tuichat.core.personas import PersonaProblem, default_dirs, load_personas

    report = Report(out)
    try:
        settings = with_overrides(load_settings(args.config), model=args.model, base_url=args.base_url)
    except TuichatError as exc:
        report.say(FAIL, "config", _sentence(exc))
        return _verdict(report)
    where = str(settings.config_path) if settings.config_path else "none (defaults)"
    report.say(OK, "config", where)

    problems: list[PersonaProblem] = []
    personas = load_personas(default_dirs(), problems)
    report.say(OK, "personas", f"{len(personas)} ({', '.join(sorted(personas)[:8])}"
                               f"{', …' if len(personas) > 8 else ''})")
    for problem in problems:
        report.say(WARN, "persona skipped", problem.message)
    if settings.default_persona not in personas:
        report.say(FAIL, "default persona", f"{settings.default_persona!r} is not installed: set default_persona "
                                            f"in config.toml to one of {', '.join(sorted(personas))}")

    _check_database(report, args.db)

    try:
        chosen = resolve_server(settings, args.server, os.environ)
    except TuichatError as exc:
        report.say(FAIL, "server", _sentence(exc))
        return _verdict(report)
    others = [name for name in server_names(settings, os.environ) if name != chosen.name]
    named = "" if chosen.name == "default" else f" {chosen.name!r}"
    server = f"{named.strip()} ({chosen.label})" if named else (mask_url(chosen.base_url) if chosen.base_url
                                                                else "the default OpenAI address")
    if others:
        report.say(OK, "servers", f"checking{named or ' the default'}; also configured: {', '.join(others)} "
                                  "(tuichat doctor --server NAME checks one)")
    api_key, key_note = server_key(chosen, os.environ)
    if api_key == PLACEHOLDER_KEY:
        report.say(OK, "API key", f"none sent, only a placeholder. {key_note}")
    elif api_key:
        where = key_note.removeprefix("API key ").replace("from $", "from ", 1)  # "from OPENAI_API_KEY"
        report.say(OK, "API key", f"{where} (not shown)")
    else:
        report.say(WARN, "API key", key_note or "none set (a local server may need none)")
    if warning := chosen.usage_warning():
        report.say(WARN, "Azure API version", warning)

    asyncio.run(_check_server(report, settings, chosen, api_key, server))
    return _verdict(report)


def _check_database(report: Report, db: Path | None) -> None:
    from tuichat.cli.common import open_store

    try:
        store = open_store(db)
    except TuichatError as exc:
        report.say(FAIL, "database", _sentence(exc))
        return
    try:
        count = store.thread_count()
        if getattr(store, "read_only", False):
            report.say(FAIL, "database", f"{store.path} is read-only: nothing can be saved. "
                                         "Check the file's permissions.")
        else:
            report.say(OK, "database", f"{store.path} ({count:,} threads)")
    except Exception as exc:  # noqa: BLE001 - a broken database is a finding, not a crash
        report.say(FAIL, "database", f"{store.path} cannot be read ({exc}). Move it aside to start a new one.")
    finally:
        store.close()


async def _check_server(report: Report, settings, chosen, api_key: str, server: str) -> None:  # noqa: ANN001
    from tuichat.providers.openai import OpenAIProvider

    provider = OpenAIProvider.for_server(chosen, api_key or "missing", timeout=min(chosen.timeout, 20.0),
                                         max_retries=0)
    try:
        models = await provider.list_models()
        if models:
            listed = "listed" if settings.model in models else f"NOT among them (it has: {', '.join(models[:6])})"
            report.say(OK if settings.model in models else WARN, "models",
                       f"{server} lists {len(models)}; {settings.model!r} is {listed}")
        else:
            report.say(WARN, "models", f"{server} gives no model list (fine for some servers)")
        text: list[str] = []
        usage = None
        finish = None
        try:
            async for event in provider.stream([{"role": "user", "content": PROBE}], settings.model,
                                               {"max_tokens": 5}):
                if isinstance(event, TextDelta):
                    text.append(event.text)
                elif isinstance(event, UsageReport):
                    usage = event.usage
                elif isinstance(event, Finished):
                    finish = event.reason
        except ProviderError as exc:
            report.say(FAIL, f"a streamed reply from {server} with {settings.model!r}", _sentence(exc))
            return
        said = "".join(text).strip()
        report.say(OK, "a streamed reply", f"{said[:40]!r} (finish: {finish or 'none given'})" if said
                   else f"arrived, but empty (finish: {finish or 'none given'})")
        if usage is not None:
            report.say(OK, "token counts", f"the server sends them ({usage.prompt_tokens} in, "
                                           f"{usage.completion_tokens} out)")
        else:
            report.say(WARN, "token counts", "the server sends none: tuichat estimates them (shown with ≈)")
        from tuichat.providers.context import context_window

        window = await context_window(chosen.base_url, api_key, settings.model, min(chosen.timeout, 10.0),
                                      headers=chosen.headers, ca_bundle=chosen.ca_bundle)
        if window is not None:
            report.say(OK, "context window", f"{window.tokens:,} tokens, from {window.source}")
        else:
            report.say(WARN, "context window", "the server does not tell: a prompt longer than its limit may "
                                               "be cut without a word (tuichat says so when the counts show it)")
    finally:
        await provider.aclose()


def _sentence(exc: TuichatError) -> str:
    detail = getattr(exc, "detail", "")
    return f"{exc.title}. {detail}" if detail else exc.title


def _verdict(report: Report) -> int:
    if report.failed:
        print(f"{report.failed} problem(s) to fix.", file=report.out)
        return 1
    tail = f" ({report.warned} warning(s))" if report.warned else ""
    print(f"All is well{tail}.", file=report.out)
    return 0
