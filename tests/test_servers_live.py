"""Named servers end to end: the model picker lists every server's models and moves a
thread between servers, and `--server` in pipe mode; each server gets only its own key.
Two fake servers stand for two machines."""

from __future__ import annotations

import json
import sqlite3

import pytest

from apphelpers import make_app, peek, wait_for
from fake_openai import FakeServer, Reply
from test_cli import tuichat
from tuichat.servers import Server
from tuichat.session.servers import option_id
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.screens.model_picker import ModelPicker
from tuichat.ui.widgets.composer import Composer

LOCAL_KEY = "local-secret-key-42"
START_KEY = "sk-test-key-0123456789"  # apphelpers' key for the start server


@pytest.fixture
def other_server():
    with FakeServer() as server:
        yield server


async def test_picker_moves_a_thread_to_another_server_with_its_own_key(tmp_path, fake_server, other_server,
                                                                       monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", LOCAL_KEY)
    other_server.require_key = LOCAL_KEY
    other_server.models = ["qwen3:8b", "gemma3"]
    other_server.script(Reply.text("answered by local"), Reply.text("again by local"))
    local = Server(name="local", base_url=other_server.base_url, base_url_source="config", api_key_env="LOCAL_KEY",
                   models=("llama3.2",))
    app = make_app(tmp_path, fake_server.base_url, servers={"local": local})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        await pilot.press("f4")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ModelPicker)
        assert option_id("llama3.2", "local") in picker.shown  # configured: listed at once
        # The other server's own list arrives too, asked with its own key.
        await wait_for(pilot, lambda: option_id("qwen3:8b", "local") in picker.shown)
        assert picker.shown[0] == "test-model"  # the thread's own server first
        await pilot.press(*"gemma")
        assert picker.shown == [option_id("gemma3", "local")]
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.conv.server == "local")
        assert screen.model == "gemma3"
        assert "local 127.0.0.1" in screen.status_text()
        screen.query_one(Composer).text = "hello there"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating
                       and other_server.chat_requests)
        request = other_server.chat_requests[-1]
        assert request.json["model"] == "gemma3"
        assert request.headers["authorization"] == f"Bearer {LOCAL_KEY}"
        assert not fake_server.chat_requests  # the start server saw nothing
        assert all(START_KEY not in r.headers.get("authorization", "") for r in other_server.requests)
        thread = peek(app).get_thread(screen.thread.id)
        assert (thread.model, thread.server) == ("gemma3", "local")
        # A fresh thread (Ctrl+R) stays on the server picked.
        first = screen.thread.id
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.thread is None)
        screen.query_one(Composer).text = "and again"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and screen.thread.id != first
                       and not screen.generating and len(other_server.chat_requests) == 2)
        assert peek(app).get_thread(screen.thread.id).server == "local"
        assert not fake_server.chat_requests


def test_pipe_mode_server_flag_uses_that_server_and_its_key(tmp_path, fake_server, other_server):
    config = tmp_path / "config.toml"
    config.write_text(f'[servers.local]\nbase_url = "{other_server.base_url}"\napi_key_env = "LOCAL_KEY"\n',
                      encoding="utf-8")
    other_server.require_key = LOCAL_KEY
    other_server.script(Reply.text("from the named server"))
    db = str(tmp_path / "t.db")
    env = {"LOCAL_KEY": LOCAL_KEY, "OPENAI_API_KEY": START_KEY, "OPENAI_BASE_URL": fake_server.base_url}
    result = tuichat("-p", "hi", "--server", "local", "--config", str(config), "--db", db, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "from the named server\n"
    assert not fake_server.chat_requests
    with sqlite3.connect(db) as conn:
        assert conn.execute("select server from threads").fetchall() == [("local",)]
    # --continue goes on with the thread's server, without --server.
    other_server.script(Reply.text("still local"))
    result = tuichat("-p", "more", "-c", "--config", str(config), "--db", db, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "still local\n" and not fake_server.chat_requests


def test_unknown_server_and_mixing_with_base_url_are_usage_errors(tmp_path, fake_server):
    result = tuichat("-p", "hi", "--server", "nowhere", "--db", str(tmp_path / "t.db"))
    assert result.returncode == 2
    assert "Unknown server 'nowhere'" in result.stderr and "Traceback" not in result.stderr
    result = tuichat("-p", "hi", "--server", "x", "--base-url", fake_server.base_url)
    assert result.returncode == 2 and "--server and --base-url do not mix" in result.stderr


@pytest.mark.parametrize(("shape", "version"), [("v1", None), ("dated", "2024-10-21")])
def test_azure_from_the_environment_in_both_url_shapes(tmp_path, fake_server, shape, version):
    fake_server.azure, fake_server.require_key = shape, "azure-key-1"
    fake_server.script(Reply.text(f"azure {shape}", usage="auto"))
    env = {"AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{fake_server.port}", "AZURE_OPENAI_API_KEY": "azure-key-1",
           "OPENAI_API_KEY": "", **({"OPENAI_API_VERSION": version} if version else {})}
    result = tuichat("-p", "hi", "--model", "my-deployment", "--json", "--db", str(tmp_path / "t.db"), env=env)
    assert result.returncode == 0, result.stderr
    request = fake_server.chat_requests[-1]
    expected = "/openai/v1/chat/completions" if shape == "v1" else \
        "/openai/deployments/my-deployment/chat/completions"
    assert request.path == expected and request.headers["api-key"] == "azure-key-1"
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert "".join(o["text"] for o in out if o["type"] == "text") == f"azure {shape}"
    assert out[-1]["usage"]["estimated"] is False  # the counts were streamed


def test_old_azure_version_warns_in_pipe_mode(tmp_path, fake_server):
    fake_server.azure = "dated"
    fake_server.script(Reply.text("old but fine", usage="auto"))
    env = {"AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{fake_server.port}", "AZURE_OPENAI_API_KEY": "k",
           "OPENAI_API_KEY": "", "OPENAI_API_VERSION": "2024-06-01"}
    result = tuichat("-p", "hi", "--server", "azure", "--db", str(tmp_path / "t.db"), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "old but fine\n"
    assert "2024-06-01 does not report token counts" in result.stderr
    assert "stream_options" not in fake_server.chat_requests[-1].json


async def test_the_app_warns_about_an_old_azure_version(tmp_path, fake_server):
    from tuichat.cli.main import server_pool
    from tuichat.config import Settings

    app = make_app(tmp_path, fake_server.base_url)
    old = Server(name="azure", base_url=f"http://127.0.0.1:{fake_server.port}", azure=True, api_version="2024-06-01")
    app.ws.servers = server_pool(Settings(), old)  # as `tuichat --server azure` with OPENAI_API_VERSION=2024-06-01
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "2024-06-01 does not report token counts" in app.screen.transcript.all_text())


async def test_each_thread_is_priced_as_its_own_server(tmp_path, fake_server, other_server):
    # The price table tells clouds apart by their host. The start server stands for
    # OpenAI's address (its provider is the fake, so nothing leaves the machine); "local"
    # serves a model of the same name, which must not be priced as OpenAI's.
    from tuichat.core.models import Persona
    from tuichat.providers.openai import OpenAIProvider
    from tuichat.session.pricing import Pricing
    from tuichat.session.servers import ServerPool
    from tuichat.session.workspace import Workspace
    from tuichat.store import Store
    from tuichat.store.async_store import AsyncStore

    pytest.importorskip("genai_prices")
    fake_server.script(Reply.text("priced", usage={"prompt_tokens": 1000, "completion_tokens": 1000,
                                                   "total_tokens": 2000}))
    other_server.script(Reply.text("free", usage={"prompt_tokens": 1000, "completion_tokens": 1000,
                                                  "total_tokens": 2000}))
    local = Server(name="local", base_url=other_server.base_url, base_url_source="config")
    pool = ServerPool(Server(), {"local": local},
                      connect=lambda server: OpenAIProvider.for_server(server, "k", max_retries=0, timeout=5))
    start = OpenAIProvider(api_key="k", base_url=fake_server.base_url, max_retries=0, timeout=5)
    with Store(tmp_path / "t.db") as store:
        ws = Workspace(AsyncStore(store), lambda: start, pricing=Pricing({}, None), servers=pool)
        persona = Persona("p", "", "")
        costs = {}
        try:
            for server in ("default", "local"):
                conv = ws.conversation(persona, "gpt-4o-mini", server=server)
                live = await conv.send("hi", saved=lambda prompt: None)
                await live.wait()
                assert live.status == "done"
                costs[server] = store.messages(conv.thread.id)[-1].cost
        finally:
            await ws.stop_all()
            await start.aclose()
            await pool.aclose()
    assert costs["default"] is not None and costs["default"] > 0  # OpenAI's price for gpt-4o-mini
    assert costs["local"] is None  # the same name on a local server has no price


async def test_the_status_line_shows_the_start_server_given_by_name(tmp_path, fake_server, other_server):
    from tuichat.cli.main import server_pool
    from tuichat.config import Settings

    app = make_app(tmp_path, fake_server.base_url)
    local = Server(name="local", base_url=other_server.base_url, base_url_source="config")
    app.ws.servers = server_pool(Settings(base_url=fake_server.base_url), local)  # as `tuichat --server local`
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: f"local 127.0.0.1:{other_server.port}" in screen.status_text())
        assert f":{fake_server.port}" not in screen.status_text()  # not config's top-level base_url
