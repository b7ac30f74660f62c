"""`tuichat --web` from the outside: the real command in a subprocess, its page fetched with
urllib, its tabs driven over textual-serve's websocket (tests/webhelpers.py). Binding
rules, the token, a taken port, Ctrl+Q in a tab, Ctrl+C to the server, and the message
when the extra is missing. The browser itself: tests/test_web_browser.py.

    pytest tests/test_web_cli.py -q
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from fake_openai import Reply
from tuichat.cli import web
from tuichat.cli.main import build_parser, main
from tuichat.store import Store
from webhelpers import API_KEY, WAIT, Tab, WebServer, base, env_for, need_textual_serve, wait_until

FIRST = "The first part of the answer"


@pytest.fixture
def serve(tmp_path, fake_server):
    """Starts `tuichat --web ARGS` (a fresh database, the fake server); killed at the end."""
    need_textual_serve()
    started: list[WebServer] = []

    def start(*args: str) -> WebServer:
        server = WebServer(["--db", str(tmp_path / "h.db"), *args], env_for(tmp_path, fake_server.base_url))
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of a GET, redirects not followed."""
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=WAIT) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8", "replace")


def listening_address(port: int) -> str:
    """The local address a LISTEN socket on `port` is bound to, from /proc/net/tcp."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hexport = local.split(":")
        if state == "0A" and int(hexport, 16) == port:
            return socket.inet_ntoa(bytes.fromhex(address)[::-1])
    raise AssertionError(f"nothing listens on port {port}")


def run_cli(tmp_path: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tuichat", *args] if code is None else [sys.executable, "-c", code, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env_for(tmp_path), timeout=WAIT,
                          stdin=subprocess.DEVNULL)


# --- binding rules ---------------------------------------------------------------------


def test_it_serves_loopback_only_by_default_and_prints_the_url(serve):
    server = serve("--port", "0")
    url = server.url()
    assert url.startswith("http://127.0.0.1:") and "token" not in url
    port = int(url.rsplit(":", 1)[1])
    assert url == f"http://127.0.0.1:{port}"
    if Path("/proc/net/tcp").exists():
        assert listening_address(port) == "127.0.0.1"
    assert "warning" not in server.startup_err()


def test_the_default_address_is_127_0_0_1_port_8000(monkeypatch):
    pytest.importorskip("textual_serve")
    asked = []

    def bind(host: str, port: int):  # noqa: ANN202
        asked.append((host, port))
        raise web.WebError("stop here")

    monkeypatch.setattr(web, "bind", bind)
    assert main(["--web"]) == 1
    assert asked == [("127.0.0.1", 8000)]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "example.com", "::"])
def test_another_address_without_public_is_a_usage_error(tmp_path, host):
    result = run_cli(tmp_path, "--web", "--host", host)
    assert result.returncode == 2
    assert "--public" in result.stderr and host in result.stderr
    assert "Traceback" not in result.stderr and not result.stdout


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_loopback_names_need_no_public(host):
    args = build_parser().parse_args(["--web", "--host", host])
    web.check_usage(args)  # no error


@pytest.mark.parametrize("args,says", [
    (["--web", "-p", "hi"], "--web and -p do not mix"),
    (["--web", "-c"], "--web and --continue do not mix"),
    (["--port", "9000"], "--port is for --web"),
    (["--host", "127.0.0.1"], "--host is for --web"),
    (["--public"], "--public is for --web"),
])
def test_options_that_do_not_go_with_web_are_usage_errors(tmp_path, args, says):
    result = run_cli(tmp_path, *args)
    assert result.returncode == 2
    assert says in result.stderr and "Traceback" not in result.stderr


def test_a_port_out_of_range_is_refused_by_the_parser(tmp_path):
    result = run_cli(tmp_path, "--web", "--port", "70000")
    assert result.returncode == 2 and "port number" in result.stderr


# --- --public and its token ------------------------------------------------------------


def test_public_warns_and_every_request_needs_the_token(serve):
    server = serve("--public", "--host", "127.0.0.1", "--port", "0")
    url = server.url()
    root = base(url)
    assert "?token=" in url
    token = url.split("?token=", 1)[1]
    assert len(token) >= 32
    warning = server.startup_err()
    assert "warning" in warning and "anyone who can reach port" in warning and "send messages as you" in warning

    for path in ("/", "/static/js/textual.js", "/ws", "/?token=wrong", "/?token="):
        status, _, body = fetch(root + path)
        assert status == 403, path
        assert "token" in body and body.startswith("tuichat:"), path
    with pytest.raises(Exception, match="403"):
        Tab(root)  # a tab's websocket without the token
    status, _, _ = fetch(root + "/", {"Cookie": "tuichat-token-1=" + token})  # another port's cookie
    assert status == 403

    # The printed link: the token goes into a cookie and out of the address bar.
    status, headers, _ = fetch(url)
    assert status == 303 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"]
    assert token in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    jar = {"Cookie": cookie.split(";", 1)[0]}
    status, _, page = fetch(root + "/", jar)
    assert status == 200 and "<title>tuichat</title>" in page
    assert fetch(root + "/static/js/textual.js", jar)[0] == 200
    assert fetch(f"{root}/static/js/textual.js?token={token}")[0] == 200  # the token itself works too
    tab = Tab(root, headers=jar)
    try:
        tab.wait_for("Quit")  # the app runs in the tab
    finally:
        tab.close()


def test_public_binds_every_address_by_default_and_prints_a_reachable_url(serve):
    server = serve("--public", "--port", "0")
    url = server.url()
    assert "0.0.0.0" not in url and "?token=" in url
    port = int(url.split("?")[0].rsplit(":", 1)[1].strip("/"))
    if Path("/proc/net/tcp").exists():
        assert listening_address(port) == "0.0.0.0"
    token = url.split("?token=", 1)[1]
    assert fetch(f"http://127.0.0.1:{port}/")[0] == 403
    assert fetch(f"http://127.0.0.1:{port}/?token={token}")[0] == 303


# --- what the page holds ---------------------------------------------------------------


def test_the_page_is_titled_tuichat_and_holds_nothing_of_the_environment(serve):
    server = serve("--port", "0")
    root = base(server.url())
    status, headers, page = fetch(root + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<title>tuichat</title>" in page
    assert "fonts.googleapis.com" not in page  # no request leaves for another site
    assert f'data-session-websocket-url="ws://{root[len("http://"):]}/ws"' in page
    script = fetch(root + "/static/js/textual.js")[1:]
    for text in (page, *script[1:], str(script[0])):
        assert API_KEY not in text and "OPENAI" not in text and sys.executable not in text
    tab = Tab(root)
    try:
        tab.wait_for("Quit")
        assert API_KEY not in tab.text()  # nor does the app draw it
    finally:
        tab.close()


def test_other_sites_cannot_reach_the_server(serve):
    server = serve("--port", "0")
    root = base(server.url())
    port = root.rsplit(":", 1)[1]
    # A web page's DNS name rebound to 127.0.0.1 sends its own name as the Host.
    assert fetch(root + "/", {"Host": f"evil.example:{port}"})[0] == 403
    assert fetch(root + "/", {"Host": f"localhost:{port}"})[0] == 200
    # Any web page may open a websocket to 127.0.0.1; only tuichat's own page may open a tab.
    with pytest.raises(Exception, match="403"):
        Tab(root, headers={"Origin": "http://evil.example"})
    tab = Tab(root, headers={"Origin": root})
    try:
        tab.wait_for("Quit")
    finally:
        tab.close()


# --- errors at start -------------------------------------------------------------------


def test_a_port_in_use_is_said_and_exits_1(tmp_path):
    need_textual_serve()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(tmp_path, "--web", "--port", str(port), "--db", str(tmp_path / "h.db"))
    assert result.returncode == 1
    assert result.stderr.strip() == (f"tuichat: port {port} on 127.0.0.1 is in use: "
                                     "stop what uses it or pick another with --port N")
    assert not result.stdout


def test_an_address_that_cannot_be_bound_is_said_and_exits_1(tmp_path):
    need_textual_serve()
    # 192.0.2.0/24 is for documentation: no machine has it.
    result = run_cli(tmp_path, "--web", "--public", "--host", "192.0.2.1", "--port", "0",
                     "--db", str(tmp_path / "h.db"))
    assert result.returncode == 1
    assert "cannot listen on 192.0.2.1" in result.stderr and "--host" in result.stderr
    assert "Traceback" not in result.stderr and not result.stdout
    result = run_cli(tmp_path, "--web", "--public", "--host", "no-such-host.invalid", "--port", "0",
                     "--db", str(tmp_path / "h.db"))
    assert result.returncode == 1 and "cannot listen on no-such-host.invalid" in result.stderr


def test_without_textual_serve_it_says_what_to_install(tmp_path):
    code = ("import sys; sys.modules['textual_serve'] = None; sys.modules['textual_serve.server'] = None; "
            "from tuichat.cli.main import main; sys.exit(main(sys.argv[1:]))")
    result = run_cli(tmp_path, "--web", "--db", str(tmp_path / "h.db"), code=code)
    assert result.returncode == 1
    assert result.stderr.strip() == ("tuichat: tuichat --web needs textual-serve, which is not installed: "
                                     "install it with: pip install 'tuichat[web]'")
    assert not result.stdout


# --- the tabs ---------------------------------------------------------------------------


def test_each_tab_runs_the_app_with_the_options_given_to_web(serve, tmp_path, fake_server):
    fake_server.script(Reply.text("こんにちは、東京から。"))
    server = serve("--port", "0", "--model", "model-from-web", "--persona", "translator")
    root = base(server.url())
    tab = Tab(root)
    try:
        tab.wait_for("Quit")
        tab.type("東京の天気\r")
        wait_until(lambda: fake_server.chat_requests, "the chat request")
        body = fake_server.chat_requests[0].json
        assert body["model"] == "model-from-web"
        assert body["messages"][-1] == {"role": "user", "content": "東京の天気"}
        assert "translat" in body["messages"][0]["content"].lower()  # the persona's system prompt
        assert fake_server.chat_requests[0].headers["authorization"] == f"Bearer {API_KEY}"
        wait_until(lambda: _threads(tmp_path / "h.db") == [("東京の天気", ["done", "done"])], "the saved reply")
    finally:
        tab.close()


def _threads(db: Path) -> list[tuple[str, list[str]]]:
    with Store(db) as store:
        return [(t.title, [m.status for m in store.messages(t.id)]) for t in store.list_threads()]


def test_ctrl_q_in_a_tab_ends_that_tabs_app_and_the_server_goes_on(serve):
    server = serve("--port", "0")
    root = base(server.url())
    first, second = Tab(root), Tab(root)
    try:
        first.wait_for("Quit")
        second.wait_for("Quit")
        first.type("\x11")  # Ctrl+Q
        assert first.closed.wait(WAIT), "the tab's app did not end"
        assert server.proc.poll() is None
        second.type("still here\r")
        second.wait_for("still here")
        assert fetch(root + "/")[0] == 200
        third = Tab(root)
        third.wait_for("Quit")
        third.close()
    finally:
        first.close()
        second.close()
    assert server.proc.poll() is None


@pytest.mark.parametrize("signum,group", [(signal.SIGINT, False), (signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["kill -INT server", "Ctrl+C in its terminal", "SIGTERM"])
def test_ctrl_c_stops_the_server_and_every_app_saving_replies_as_stopped(serve, tmp_path, fake_server, signum,
                                                                         group):
    fake_server.script(Reply(chunks=[FIRST, " and the rest"], stall_after=1))
    server = serve("--port", "0")
    root = base(server.url())
    streaming, idle = Tab(root), Tab(root)
    try:
        idle.wait_for("Quit")
        streaming.wait_for("Quit")
        streaming.type("tell me\r")
        streaming.wait_for("first part")
        apps = server.children()
        assert len(apps) == 2
        if group:  # a terminal sends Ctrl+C to its foreground process group: the apps too
            os.killpg(server.proc.pid, signum)
        else:
            server.proc.send_signal(signum)
        code = server.wait()
        assert streaming.closed.wait(WAIT) and idle.closed.wait(WAIT)
    finally:
        streaming.close()
        idle.close()
    assert code == 0, server.err()
    output = server.out() + server.err()
    assert "Traceback" not in output and "Exception" not in output, output
    for pid in apps:
        wait_until(lambda pid=pid: not _alive(pid), f"app process {pid} to end")
    with Store(tmp_path / "h.db") as store:
        thread = store.list_threads()[0]
        reply = [m for m in store.messages(thread.id) if m.role == "assistant"][-1]
    assert (reply.status, reply.content) == ("stopped", FIRST)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.split(")", 1)[1].split()[0] != "Z"  # a zombie has ended


# --- the command each tab runs ----------------------------------------------------------


def test_the_tab_command_forwards_the_app_options_quoted_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(persona="o'jou sama", model="qwen3:8b", db=Path("my db.sqlite"),
                              config=Path("c.toml"), base_url="http://h:1/v1", server="lab", prompt=None)
    command = web.tab_command(args)
    import shlex

    words = shlex.split(command)
    assert words[:4] == ["exec", sys.executable, "-m", "tuichat"]
    assert words[4:] == ["--persona", "o'jou sama", "--model", "qwen3:8b", "--db", str(tmp_path / "my db.sqlite"),
                         "--config", str(tmp_path / "c.toml"), "--base-url", "http://h:1/v1", "--server", "lab"]
    bare = build_parser().parse_args(["--web"])
    assert shlex.split(web.tab_command(bare)) == ["exec", sys.executable, "-m", "tuichat"]


def test_an_unknown_server_is_refused_before_serving(tmp_path):
    from test_cli import tuichat

    result = tuichat("--web", "--port", "0", "--server", "nowhere", "--db", str(tmp_path / "t.db"))
    assert result.returncode == 2
    assert "Unknown server 'nowhere'" in result.stderr and "serving at" not in result.stdout


def test_textual_serve_log_lines_are_inert(capsys):
    # What textual-serve logs may quote a browser or an app process: one line, with no
    # escape sequence reaching the terminal.
    import logging

    log = logging.getLogger("textual-serve")
    before = (log.handlers[:], log.propagate, log.level)
    server = web.make_server("true", host="127.0.0.1", port=0, token=None)
    server.initialize_logging()
    try:
        raise ValueError("bad frame \x1b]0;pwned\x07\nsecond line")
    except ValueError:
        log.exception("websocket error from \x1b[31mred\x1b[0m")
    finally:
        log.handlers[:], log.propagate = before[0], before[1]
        log.setLevel(before[2])
    err = capsys.readouterr().err
    assert err.startswith("tuichat: web: websocket error from") and err.count("\n") == 1
    assert "\x1b" not in err and "\x07" not in err
    assert "ValueError: bad frame" in err
