"""One composition root: `tuichat` builds its app with cli.main.make_app, and so does
every UI test (tests/apphelpers.py)."""

from __future__ import annotations

import sys

import pytest

from apphelpers import make_app as build_for_tests
from tuichat.cli import main as cli
from tuichat.store import Store
from tuichat.ui.app import TuichatApp


class FakeApp:
    return_code = 0

    def run(self) -> None:
        pass


@pytest.fixture
def built(monkeypatch):
    calls: list[dict] = []
    real = cli.make_app

    def spy(*args, **kwargs):
        app = real(*args, **kwargs)  # the real composition runs; only running it is skipped
        calls.append({"app": app, "args": args, **kwargs})
        return FakeApp()

    monkeypatch.setattr(cli, "make_app", spy)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    return calls


def test_the_cli_builds_the_app_through_make_app(built, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-0123456789")
    db = tmp_path / "t.db"
    assert cli.main(["--db", str(db), "--persona", "ojousama", "--model", "m-flag",
                     "--base-url", "http://127.0.0.1:9/v1"]) == 0
    (call,) = built
    app = call["app"]
    assert isinstance(app, TuichatApp)
    assert app.start_persona.name == "ojousama"
    assert app.model_for(app.start_persona) == "m-flag"  # --model wins
    assert app.settings.base_url == "http://127.0.0.1:9/v1"
    assert app.api_key != "sk-test-key-0123456789"  # an OpenAI key is not sent to another server
    assert app.start_thread is None


def test_continue_reaches_the_app_with_the_latest_thread(built, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-0123456789")
    db = tmp_path / "t.db"
    with Store(db) as store:
        store.create_thread("default", "m")
        latest = store.create_thread("default", "m")
        store.add_message(latest.id, "user", "latest")
    assert cli.main(["--db", str(db), "-c"]) == 0
    assert built[0]["app"].start_thread.id == latest.id


def test_the_tests_build_the_app_through_make_app(tmp_path, monkeypatch):
    seen = []
    real = cli.make_app
    monkeypatch.setattr(cli, "make_app", lambda *a, **k: seen.append(k) or real(*a, **k))
    import apphelpers

    monkeypatch.setattr(apphelpers, "compose_app", cli.make_app)
    app = build_for_tests(tmp_path, "http://127.0.0.1:9/v1")
    assert isinstance(app, TuichatApp) and len(seen) == 1
