"""Command line: parse arguments, build settings, store and provider, then run the app
or pipe mode. The composition root; nothing below it reads sys.argv or the environment."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from tuichat import __version__, paths
from tuichat.core.errors import TuichatError, UsageError
from tuichat.cli.common import open_store, print_error, write_crash_log
from tuichat.core.text import clean_line, mask_urls, sanitize

EPILOG = """\
keys in the app: Enter send · Shift+Enter or Ctrl+J newline · Esc stop · Ctrl+R reset
(fresh thread) · Ctrl+N new thread with a persona · F5 retry · Ctrl+T thread list ·
Ctrl+F search · Ctrl+G regenerate · Up (empty box) edit last · F4 model · Ctrl+P every
action · /help slash commands · Ctrl+Q quit. Remap keys in config.toml's [keymap] table.

history commands (no API key needed; each has --help):
  tuichat threads [--limit N]                     list threads, most recent first
  tuichat search QUERY... [--limit N]             search every message
  tuichat export THREAD_ID [--format md|json] [-o FILE]
  tuichat import FILE                             tuichat JSON or ChatGPT conversations.json
  tuichat delete THREAD_ID                        delete a thread (no confirmation)

  tuichat doctor                                  check config, personas, database and server
  tuichat --web [--port N] [--host ADDRESS --public]
                                                  the app in browser tabs (pip install 'tuichat[web]')

environment: OPENAI_API_KEY, OPENAI_BASE_URL (any OpenAI-compatible server);
AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY, OPENAI_API_VERSION (Azure OpenAI, --server azure);
HTTPS_PROXY, NO_PROXY (proxies). Other servers: [servers.NAME] in config.toml, --server NAME.
config: {config}
"""

# First words that select a history command (cli/history.py) instead of the app. Kept
# here rather than imported so starting the app does not load the history module.
HISTORY_COMMANDS = ("threads", "search", "export", "import", "delete")

# What textual-serve sets TEXTUAL_DRIVER to for each browser tab's app (cli/web.py).
WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tuichat",
        description="A terminal chat client for OpenAI-compatible LLM servers.",
        epilog=EPILOG.format(config=paths.config_file()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-p", "--prompt", metavar="TEXT",
                        help="pipe mode: send TEXT (or '-' to read stdin), print the reply to stdout, exit")
    parser.add_argument("--persona", metavar="NAME|FILE", help="start a new thread with this persona")
    parser.add_argument("-c", "--continue", dest="continue_", action="store_true",
                        help="continue the most recent thread")
    parser.add_argument("--model", help="model name (overrides the persona and config.toml)")
    parser.add_argument("--base-url", metavar="URL", help="OpenAI-compatible API base URL, e.g. http://localhost:11434/v1")
    parser.add_argument("--server", metavar="NAME",
                        help="talk to the server [servers.NAME] of config.toml ('azure': AZURE_OPENAI_ENDPOINT)")
    parser.add_argument("--config", metavar="PATH", type=Path, help=f"config file (default {paths.config_file()})")
    parser.add_argument("--db", metavar="PATH", type=Path, help=f"SQLite database (default {paths.db_path()})")
    parser.add_argument("--list-personas", action="store_true", help="print the available personas and exit")
    parser.add_argument("--raw", action="store_true",
                        help="pipe mode: write the reply exactly as received (by default escape "
                             "sequences, control and bidi characters are removed)")
    parser.add_argument("--json", action="store_true",
                        help="pipe mode: write one JSON object per line (text, reasoning, then how the reply "
                             "ended: status, tokens, timing) instead of the text")
    parser.add_argument("--max-tokens", metavar="N", type=_positive_int,
                        help="pipe mode: stop the reply after N tokens (the server's max_tokens)")
    parser.add_argument("--max-cost", metavar="DOLLARS", type=_positive_dollars,
                        help="pipe mode: cap the run's cost (the reply's max_tokens is set from the model's price)")
    parser.add_argument("--over-budget", action="store_true",
                        help="pipe mode: send even when this month's [budget] is spent")
    parser.add_argument("--web", action="store_true",
                        help="serve the app to a browser, one app per tab (needs: pip install 'tuichat[web]')")
    parser.add_argument("--host", metavar="ADDRESS",
                        help="--web: the address to listen on (default 127.0.0.1; 0.0.0.0 with --public)")
    parser.add_argument("--port", metavar="N", type=_port, help="--web: the port (default 8000; 0 picks a free one)")
    parser.add_argument("--public", action="store_true",
                        help="--web: allow an address other than loopback; the page then needs the printed "
                             "link's token")
    parser.add_argument("--version", action="version", version=f"tuichat {__version__}")
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return value


def _positive_dollars(text: str) -> float:
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        value = 0.0
    if not 0 < value < 1e6:  # also false for nan
        raise argparse.ArgumentTypeError(f"expected an amount of US dollars above 0, such as 0.05, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a whole number above 0, got {text!r}")
    return value


# The options a history command shares with the app: they may come before its name.
_SHARED_OPTIONS = ("--db", "--config")


def history_first(argv: list[str]) -> list[str]:
    """`--db X threads` as `threads --db X`: the history command's name first, when only
    options it shares with the app come before it. Anything else is returned as it is."""
    i = 0
    while i < len(argv):
        if argv[i] in _SHARED_OPTIONS:
            i += 2
        elif argv[i].startswith(tuple(f"{option}=" for option in _SHARED_OPTIONS)):
            i += 1
        else:
            break
    if 0 < i < len(argv) and argv[i] in HISTORY_COMMANDS:
        return [argv[i], *argv[:i], *argv[i + 1 :]]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    argv = history_first(list(sys.argv[1:] if argv is None else argv))
    runner = run
    if argv and argv[0] == "doctor":
        from tuichat.cli import doctor

        args = doctor.build_parser().parse_args(argv[1:])
        runner = doctor.run
    elif argv and argv[0] in HISTORY_COMMANDS:
        # Subcommands get their own parser so the app's flat flags stay as they were.
        from tuichat.cli import history

        args = history.build_parser().parse_args(argv)
        runner = history.run
    else:
        args = build_parser().parse_args(argv)  # exits 2 on bad arguments, as argparse does
    try:
        return runner(args)
    except UsageError as exc:
        print_error(exc)
        return 2
    except TuichatError as exc:
        print_error(exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except sqlite3.Error as exc:
        # A history command meeting a locked, full or damaged database: plain words.
        from tuichat.store.async_store import storage_error

        print_error(storage_error(exc, getattr(args, "db", None) or paths.db_path()))
        return 1
    except Exception as exc:  # noqa: BLE001 - the user gets a message, the log gets the traceback
        log = write_crash_log()
        # Exception text may quote a server or a URL: inert, and no credentials.
        said = sanitize(mask_urls(f"{type(exc).__name__}: {exc}"))
        print(f"tuichat: unexpected error: {said}", file=sys.stderr)
        if log:
            print(f"tuichat: details were written to {sanitize(str(log))}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    if not args.web:
        # The openai SDK imports aiohttp when it is installed (the web extra brings it) for
        # a client tuichat never uses. Kept out of the app and pipe processes: it cost the
        # SDK's import ~100 ms and ~10 MB. Only --web's own server needs it.
        sys.modules.setdefault("aiohttp", None)  # type: ignore[arg-type]
    from tuichat.config import load_settings, with_overrides
    from tuichat.servers import resolve_server, server_key, server_names
    from tuichat.core.personas import PersonaProblem, default_dirs, find_persona, load_personas

    if args.server is not None and args.base_url is not None:
        raise UsageError("--server and --base-url do not mix",
                         "--server names a server of config.toml; --base-url gives an address. Use one.")
    settings = with_overrides(load_settings(args.config), base_url=args.base_url)
    # A broken persona file is set aside: it fails only when it is the one asked for.
    problems: list[PersonaProblem] = []
    personas = load_personas(default_dirs(), problems)

    if args.list_personas:
        width = max((len(clean_line(name)) for name in personas), default=0)
        for name, persona in sorted(personas.items()):
            # Persona files are other people's text too: names and descriptions inert.
            print(f"{clean_line(name):<{width}}  {clean_line(persona.description)}")
        sys.stdout.flush()  # the list first, then the warnings, when both go to a terminal
        for problem in problems:
            print(f"tuichat: warning: skipped {clean_line(mask_urls(problem.message))}", file=sys.stderr)
        return 0

    if (args.json or args.max_tokens or args.max_cost or args.over_budget) and args.prompt is None:
        option = ("--json" if args.json else "--max-tokens" if args.max_tokens else
                  "--max-cost" if args.max_cost else "--over-budget")
        raise UsageError(f"{option} is for pipe mode",
                         "add -p 'question' (or -p - to read it from stdin)")
    if args.web or args.host is not None or args.port is not None or args.public:
        from tuichat.cli import web

        web.check_usage(args)  # before anything is opened: --web with -p, --host without --public
    if args.persona and args.continue_:
        raise UsageError("--persona and --continue do not mix",
                         "--persona starts a new thread; --continue goes on with the last one. Use one.")
    persona = find_persona(personas, args.persona or settings.default_persona, problems)
    if args.persona and persona.name not in personas:
        personas = {**personas, persona.name: persona}  # a persona given as a file path

    if args.web:
        from tuichat.cli import web

        resolve_server(settings, args.server, os.environ)  # an unknown --server is said here, not in every tab
        return web.run(args)  # every tab runs this command again, without --web

    store = open_store(args.db)
    try:
        store.recover_streaming()
        server = resolve_server(settings, args.server, os.environ)
        thread = None
        if args.continue_:
            thread = store.latest_thread()
            if thread is not None and ((args.model and args.model != thread.model)
                                       or (args.server and server.name != thread.server)):
                store.set_model(thread.id, args.model or thread.model, server.name if args.server else None)
                thread = store.get_thread(thread.id)
            if thread is not None and thread.server and not args.server:
                # The thread goes on with the server it was on, when config.toml still has it.
                if thread.server in server_names(settings, os.environ):
                    server = resolve_server(settings, thread.server, os.environ)
        api_key, key_note = server_key(server, os.environ)
        if (warning := server.usage_warning()) and args.prompt is not None:
            print(f"tuichat: warning: {warning}", file=sys.stderr)  # the app shows it in the thread

        provider_factory = openai_provider_factory(server, api_key)
        servers = server_pool(settings, server)
        if args.prompt is not None:
            from tuichat.cli.pipe import run_pipe
            from tuichat.session.pricing import Pricing

            return run_pipe(
                prompt=args.prompt, store=store, personas=personas, persona=persona,
                thread=thread, model=args.model or persona.model or settings.model,
                provider_factory=provider_factory, api_key=api_key, key_note=key_note,
                raw=args.raw, json_lines=args.json, max_tokens=args.max_tokens, max_cost=args.max_cost,
                pricing=Pricing(settings.prices, server.base_url), server=server.name,
                budget=None if args.over_budget else settings.budget,
                context_window=settings.context_window,
            )

        # A browser tab's app (textual-serve's web driver) talks through pipes, not a terminal.
        web_tab = os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER
        if not web_tab and not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("tuichat needs a terminal",
                             "stdin/stdout are not a terminal; for scripts use pipe mode: tuichat -p 'question'")
        app = make_app(settings, personas, persona, store, api_key=api_key, key_note=key_note,
                       model_override=args.model, thread=thread, provider_factory=provider_factory,
                       servers=servers)
        app.run()
        return app.return_code or 0
    finally:
        store.close()


def openai_provider_factory(server, api_key: str):  # noqa: ANN001, ANN201
    """Builds the provider of `server` (a Server, or Settings for its default server)
    when the app first needs it (the SDK loads later still)."""
    from tuichat.servers import Server, default_server

    if not isinstance(server, Server):
        server = default_server(server)

    def factory():  # noqa: ANN202
        from tuichat.providers.openai import OpenAIProvider

        return OpenAIProvider.for_server(server, api_key or "missing")

    return factory


def server_pool(settings, start):  # noqa: ANN001, ANN201
    """Every server of config.toml, for threads on another server than `start`: each is
    reached with its own key, resolved when it is first used (in a worker thread)."""
    from tuichat.servers import resolve_server, server_key, server_names
    from tuichat.session.servers import ServerPool

    env = dict(os.environ)
    known = {}
    for name in server_names(settings, env):
        if name != start.name:
            try:
                known[name] = resolve_server(settings, name, env)
            except TuichatError:
                continue  # one server set up wrongly (no endpoint) must not stop the others

    def connect(server):  # noqa: ANN001, ANN202
        key, _note = server_key(server, env)
        return openai_provider_factory(server, key)()

    return ServerPool(start, known, connect=connect)


def make_app(settings, personas, persona, store, *, api_key: str, key_note: str = "",  # noqa: ANN001, ANN201
             model_override: str | None = None, thread=None, provider_factory=None, servers=None):  # noqa: ANN001
    """The app, composed: the one place the CLI (and every UI test, through
    tests/apphelpers.py) builds it. `provider_factory` defaults to the OpenAI SDK with
    the settings' server and `api_key`."""
    from tuichat.ui.app import TuichatApp

    return TuichatApp(
        store=store, settings=settings, personas=personas, persona=persona,
        provider_factory=provider_factory or openai_provider_factory(settings, api_key),
        api_key=api_key, key_note=key_note, model_override=model_override, thread=thread, servers=servers,
    )
