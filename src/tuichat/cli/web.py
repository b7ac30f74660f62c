"""`tuichat --web`: the app in a browser tab, served by textual-serve (an optional extra).

Every tab gets its own `python -m tuichat` process (textual-serve starts one per
websocket), on the same database, config and personas, so the many-windows guarantees
hold between tabs as between terminals. The server only relays what each app draws and
the keys typed: the environment (and so any API key) stays on this machine.

Safe by default: it listens on loopback and answers only to loopback names (a web page
cannot reach it by rebinding a DNS name) and only to websockets opened by its own page
(no other site can drive a tab). Any other address needs --public, and then every request
needs the token of the printed link (kept in a cookie after the first request).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import secrets
import shlex
import signal
import socket
import sys
from urllib.parse import urlsplit

from tuichat.core.errors import TuichatError, UsageError
from tuichat.core.text import clean_line

DEFAULT_PORT = 8000
LOOPBACK = ("127.0.0.1", "::1", "localhost")
TITLE = "tuichat"
# The app options each tab's process gets, as given to `tuichat --web`: (attribute, flag).
FORWARDED = (("persona", "--persona"), ("model", "--model"), ("db", "--db"), ("config", "--config"),
             ("base_url", "--base-url"), ("server", "--server"))
PATH_OPTIONS = ("db", "config")  # made absolute, so they mean the same in every tab
# How long Ctrl+C waits for the tabs' apps to save their replies and exit, before killing them.
STOP_SECONDS = 15.0
INSTALL = "pip install 'tuichat[web]'"


class WebError(TuichatError):
    """The web server cannot start: the extra is missing, or the address cannot be used."""


def check_usage(args: argparse.Namespace) -> None:
    """Refuses what --web cannot do, before anything is opened."""
    if not args.web:
        option = "--host" if args.host is not None else "--port" if args.port is not None else "--public"
        raise UsageError(f"{option} is for --web", f"add --web to serve the app to a browser: tuichat --web {option} ...")
    if args.prompt is not None:
        raise UsageError("--web and -p do not mix",
                         "-p answers one question in the shell; --web serves the app to a browser. Use one.")
    if args.continue_:
        raise UsageError("--web and --continue do not mix",
                         "every tab shows the thread list: pick the thread there")
    host = listen_host(args)
    if not args.public and host.lower() not in LOOPBACK:
        raise UsageError(f"--host {host} would let other machines in",
                         "add --public to allow it (the page then needs the printed link's token), "
                         "or leave --host out to serve this machine only")


def listen_host(args: argparse.Namespace) -> str:
    if args.host is not None:
        return args.host.strip("[]")
    return "0.0.0.0" if args.public else "127.0.0.1"


def tab_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each tab: this Python, `-m tuichat`, and the
    app options given to --web. `exec`, so the app is the process textual-serve signals."""
    words = [sys.executable, "-m", "tuichat"]
    for attribute, flag in FORWARDED:
        value = getattr(args, attribute)
        if value is None:
            continue
        if attribute in PATH_OPTIONS:
            value = os.path.abspath(value)
        words += [flag, str(value)]
    return "exec " + shlex.join(words)


def run(args: argparse.Namespace) -> int:
    try:
        import textual_serve.server  # noqa: F401 - only to know it is there
    except ImportError:
        raise WebError("tuichat --web needs textual-serve, which is not installed",
                       f"install it with: {INSTALL}") from None
    from tuichat.cli.common import open_store

    open_store(args.db).close()  # a database tuichat must not use is refused here, not in every tab
    host = listen_host(args)
    port = DEFAULT_PORT if args.port is None else args.port
    sock = bind(host, port)
    port = sock.getsockname()[1]  # the real one, for --port 0
    token = secrets.token_urlsafe(24) if args.public else None
    server = make_server(tab_command(args), host=host, port=port, token=token)
    url = f"http://{_url_host(host)}:{port}" + (f"/?token={token}" if token else "")
    if args.public:
        print(f"tuichat: warning: --public: anyone who can reach port {port} on {host} and has the link "
              "below can read your threads and send messages as you (with your API key). Keep the link "
              "to yourself; Ctrl+C stops the server.", file=sys.stderr, flush=True)
    print(f"tuichat: serving at {url}", flush=True)
    print("tuichat: Ctrl+C stops the server and every tab's app", file=sys.stderr, flush=True)
    asyncio.run(server.serve_on(sock))
    return 0


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a taken port or a foreign address is said in
    plain words (and the port cannot be taken between checking and serving)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise WebError(f"cannot listen on {host}: no such address",
                       "give one of this machine's addresses with --host (0.0.0.0: all of them)") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: restart at once
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise WebError(f"port {port} on {host} is in use",
                           "stop what uses it or pick another with --port N") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise WebError(f"cannot listen on {host}: it is not an address of this machine",
                           "give one of its addresses with --host (0.0.0.0: all of them)") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise WebError(f"no permission to listen on port {port}",
                           "pick a port above 1023 with --port N") from None
        raise WebError(f"cannot listen on {host} port {port}", f"{exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):
        host = _lan_address()  # the wildcard is no address to browse to
    return f"[{host}]" if ":" in host else host


def _lan_address() -> str:
    """This machine's address on its network, the one other machines browse to."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # a UDP "connect" only picks a route; nothing is sent
            return probe.getsockname()[0]
    except OSError:
        return socket.gethostname()


def make_server(command: str, *, host: str, port: int, token: str | None):  # noqa: ANN201
    """textual-serve's Server, with tuichat's guard in front of every request, the page's
    URLs taken from the request (so it works under any name the machine has), the title
    "tuichat", and a shutdown that lets each tab's app save its reply."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server

    cookie = f"tuichat-token-{port}"  # cookies are per host, not per port
    names = ("127.0.0.1", "localhost", "[::1]")
    loopback_hosts = {f"{name}:{port}" for name in names} | (set(names) if port == 80 else set())

    def forbidden(text: str) -> web.Response:
        return web.Response(status=403, text=f"tuichat: {text}\n", content_type="text/plain")

    def token_ok(value: str | None) -> bool:
        return value is not None and secrets.compare_digest(value.encode(), token.encode())  # type: ignore[union-attr]

    @web.middleware
    async def guard(request: web.Request, handler):  # noqa: ANN001, ANN202
        if token is None and request.host.lower() not in loopback_hosts:
            # A DNS name rebound to 127.0.0.1 by some web page: not this machine's own.
            return forbidden(f"this server answers only at http://127.0.0.1:{port}/")
        origin = request.headers.get("Origin")
        if request.path == "/ws" and origin and urlsplit(origin).netloc.lower() != request.host.lower():
            return forbidden("a tab can only be opened by tuichat's own page")  # another site's websocket
        if token is not None:
            if token_ok(request.query.get("token")):
                if request.path == "/" and request.method == "GET":
                    # The token moves to a cookie and out of the address bar (a screen share).
                    query = request.query.copy()
                    query.pop("token")
                    response = web.HTTPSeeOther(request.rel_url.with_query(query))
                    response.set_cookie(cookie, token, httponly=True, samesite="Lax", path="/")
                    return response
            elif not token_ok(request.cookies.get(cookie)):
                return forbidden("this page needs the link with its token, as printed by tuichat --web --public")
        return await handler(request)

    class WebServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=host, port=port, title=TITLE)
            self.services: set = set()  # textual-serve's AppService of every open tab

        def initialize_logging(self) -> None:
            # textual-serve's own problems, one line each; no banner, no request log, no
            # tracebacks with locals.
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(_OneLine("tuichat: web: %(message)s"))
            log = logging.getLogger("textual-serve")
            log.handlers[:] = [handler]
            log.propagate = False
            log.setLevel(logging.WARNING)

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(guard)
            return app

        async def on_startup(self, app: web.Application) -> None:
            pass  # run() has said where it serves

        async def handle_index(self, request: web.Request) -> web.Response:
            context = {
                "font_size": _int(request.query.get("fontsize"), 16),
                "app_websocket_url": f"ws://{request.host}/ws",  # plain HTTP only
                "config": {"static": {"url": "/static/"}},
                "application": {"name": TITLE},
            }
            response = aiohttp_jinja2.render_template("app_index.html", request, context)
            response.text = _page(response.text or "")
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            return response

        async def _process_messages(self, websocket, app_service) -> None:  # noqa: ANN001
            self.services.add(app_service)
            try:
                await super()._process_messages(websocket, app_service)
            finally:
                self.services.discard(app_service)

        async def serve_on(self, sock: socket.socket) -> None:
            """Serve until SIGINT or SIGTERM, then stop every tab's app the way Ctrl+Q
            would (replies in flight are saved as stopped) and close."""
            self.initialize_logging()
            runner = web.AppRunner(await self._make_app(), handle_signals=False, access_log=None)
            await runner.setup()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            try:
                await web.SockSite(runner, sock).start()
                await stop.wait()
                await self.stop_apps()
            finally:
                await runner.cleanup()

        async def stop_apps(self) -> None:
            services = list(self.services)
            if not services:
                return
            # stop() sends the app textual-serve's "quit" (the app exits as on Ctrl+Q,
            # without asking) and waits until its process has gone.
            waiting = asyncio.gather(*(service.stop() for service in services), return_exceptions=True)
            try:
                await asyncio.wait_for(waiting, STOP_SECONDS)
            except asyncio.TimeoutError:
                for service in services:
                    process = getattr(service, "_process", None)
                    if process is not None and process.returncode is None:
                        process.kill()

    return WebServer()


def _page(html: str) -> str:
    """textual-serve's page, with a title and without its one outside request (a web
    font from Google): the terminal's font falls back to this machine's monospace."""
    html = html.replace("<head>", f"<head>\n    <title>{TITLE}</title>", 1)
    start = html.find('<link\n      rel="stylesheet"\n      href="https://fonts.googleapis.com')
    if start != -1:
        end = html.find("/>", start)
        html = html[:start] + html[end + 2:]
    return html


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


class _OneLine(logging.Formatter):
    """textual-serve's log records as one inert line each: they may quote what a browser
    or an app process sent."""

    def formatException(self, ei) -> str:  # noqa: ANN001, N802
        return ""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = ""
        text = super().format(record)
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        return clean_line(text)
