"""The model picker (F4): configured models at once, the server's list when it arrives."""

from __future__ import annotations

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from textual.widgets import LoadingIndicator
from tuichat.ui.screens.chat import ChatScreen
from tuichat.ui.screens.model_picker import ModelPicker, model_choices
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.transcript import Transcript


def chat(app) -> ChatScreen:
    screen = app.screen_stack[0] if not isinstance(app.screen, ChatScreen) else app.screen
    assert isinstance(screen, ChatScreen)
    return screen


def models_requests(fake_server):
    return [r for r in fake_server.requests if r.method == "GET" and r.path.endswith("/models")]


def test_model_choices_order_and_no_duplicates():
    assert model_choices("cur", ["cfg", "cur", None], "per", ["srv", "cfg"]) == [
        ("cur", "current"), ("cfg", "config"), ("per", "persona"), ("srv", "server"),
    ]


async def test_picker_lists_configured_and_server_models_and_filters(tmp_path, fake_server):
    fake_server.models = ["fake-model", "fake-model-mini", "qwen3:8b"]
    fake_server.script(Reply.text("hi from mini"))
    app = make_app(tmp_path, fake_server.base_url)
    app.settings.models = ["cfg-a", "日本語モデル"]
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(app)
        await pilot.press("f4")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ModelPicker)
        await wait_for(pilot, lambda: "qwen3:8b" in picker.shown)
        assert picker.shown[:3] == ["test-model", "cfg-a", "日本語モデル"]
        assert {"fake-model", "fake-model-mini"} <= set(picker.shown)
        await pilot.press(*"mini")
        assert picker.shown == ["fake-model-mini"]
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and screen.model == "fake-model-mini"
        assert "fake-model-mini" in screen.status_text()
        screen.query_one(Composer).text = "hello"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        assert fake_server.chat_requests[-1].json["model"] == "fake-model-mini"
        assert peek(app).get_thread(screen.thread.id).model == "fake-model-mini"
        assert peek(app).messages(screen.thread.id)[-1].model == "fake-model-mini"
        await wait_for(pilot, lambda: "hi from mini" in screen.query_one(Transcript).all_text())
        assert "Assistant · fake-model-mini" in screen.query_one(Transcript).all_text()
        # Fetched once, cached on the app: opening again asks the server nothing. (The
        # send asked /models once more, for the model's context window.)
        asked = len(models_requests(fake_server))
        await pilot.press("f4")
        await pilot.pause()
        assert "qwen3:8b" in app.screen.shown
        await pilot.press("escape")
        assert len(models_requests(fake_server)) == asked


async def test_picker_works_with_configured_models_when_models_is_404(tmp_path, fake_server):
    fake_server.models = None  # GET /models answers 404
    app = make_app(tmp_path, fake_server.base_url)
    app.settings.models = ["cfg-a", "cfg-b"]
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(app)
        await pilot.press("f4")
        await pilot.pause()
        picker = app.screen
        await wait_for(pilot, lambda: app.server_models == [])
        await pilot.pause()
        assert picker.shown == ["test-model", "cfg-a", "cfg-b"]
        assert "Asking the server" not in str(picker.query_one("#model-note").render())
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert screen.model == "cfg-b"
        assert len(models_requests(fake_server)) == 1


async def test_picker_opens_at_once_while_the_server_is_slow(tmp_path, fake_server):
    fake_server.models_delay = 1.0
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(app)
        await pilot.press("f4")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ModelPicker)
        assert app.server_models is None and picker.shown == ["test-model"]
        assert "Asking the server" in str(picker.query_one("#model-note").render())
        # The list is usable meanwhile: nothing covers it (Textual's own `loading` once did).
        assert not picker.query(LoadingIndicator) and not picker.loading
        await wait_for(pilot, lambda: "fake-model" in picker.shown, timeout=5)
        assert picker.shown[0] == "test-model"  # the highlight stayed put
        await pilot.press("escape")
        assert screen.model == "test-model"


async def test_an_unlisted_model_name_can_be_typed(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = chat(app)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.server_models is not None)
        await pilot.press(*"my-private-model")
        assert app.screen.shown == []
        await pilot.press("enter")
        await pilot.pause()
        assert screen.model == "my-private-model"


async def test_no_key_means_no_model_request(tmp_path, fake_server):
    app = make_app(tmp_path, fake_server.base_url, api_key="")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f4")
        await pilot.pause()
        assert app.screen.shown == ["test-model"]
        await pilot.press("escape")
        assert models_requests(fake_server) == []
