"""Building the real app for Pilot tests: a temporary database, the shipped personas, and
the fake server as the base URL."""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from pathlib import Path

from tuichat.cli.main import make_app as compose_app
from tuichat.cli.main import server_pool
from tuichat.config import Settings
from tuichat.servers import default_server
from tuichat.core.personas import default_dirs, load_personas
from tuichat.providers.openai import OpenAIProvider
from tuichat.store import Store
from tuichat.ui.app import TuichatApp


def make_app(
    tmp_path: Path,
    base_url: str,
    *,
    persona: str = "default",
    api_key: str = "sk-test-key-0123456789",
    keymap: dict[str, str] | None = None,
    store: Store | None = None,
    timeout: float = 5.0,
    thread=None,
    prices=None,
    budget=None,
    servers=None,
) -> TuichatApp:
    settings = Settings(model="test-model", base_url=base_url, base_url_source="flag",
                        keymap=keymap or {}, timeout=timeout, prices=prices or {}, budget=budget,
                        servers=servers or {})
    personas = load_personas(default_dirs())
    guarded = LoopGuard(store or Store(tmp_path / "tuichat.db"))

    def provider_factory() -> OpenAIProvider:
        # max_retries=0 keeps error tests fast; the SDK's own retries are tested apart.
        return OpenAIProvider(api_key=api_key or "x", base_url=base_url, timeout=timeout, max_retries=0)

    # The CLI's own composition root: what runs here is what `tuichat` runs.
    app: TuichatApp = compose_app(
        settings, personas, personas[persona], guarded, api_key=api_key,
        key_note="" if api_key else "No API key: set OPENAI_API_KEY.", thread=thread,
        provider_factory=provider_factory, servers=server_pool(settings, default_server(settings)),
    )
    guarded.app = app
    run_test = app.run_test

    @asynccontextmanager
    async def run_test_started(*args, **kwargs):
        # The first screen reads the thread list, the open thread and the draft off the
        # event loop: a test starts once they are shown, as a user would see them. At the
        # end, no call to the store may have been made on the event loop's thread.
        async with run_test(*args, **kwargs) as pilot:
            await wait_for(pilot, lambda: getattr(app.screen, "ready", True), timeout=30)
            yield pilot
        assert not guarded.violations, f"store called on the event loop: {guarded.violations}"

    app.run_test = run_test_started
    return app


class LoopGuard:
    """The app's store, failing any call made on the event loop's thread while the app
    runs (the Pilot runs the loop in the main thread; the app's database thread and the
    search thread are others). Proves that SQLite never runs on the event loop. Before
    and after the app runs, tests use the store freely."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.app = None
        self.violations: list[str] = []

    def __getattr__(self, name: str):
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def guarded(*args, **kwargs):
            app = self.app
            if app is not None and app.is_running and threading.current_thread() is threading.main_thread():
                self.violations.append(name)
                raise AssertionError(f"Store.{name} called on the event loop")
            return attr(*args, **kwargs)

        return guarded


def peek(app) -> Store:
    """A second connection to the app's database, for a test to read what the app wrote
    (while the app runs, its own store may only be used on its database thread)."""
    store = getattr(app, "_peek_store", None)
    if store is None:
        store = app._peek_store = Store(app.store.path)
    return store


async def wait_for(pilot, predicate, timeout: float = 5.0) -> None:
    """Let the app run until `predicate()` is true (or fail after `timeout` seconds)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await pilot.pause(0.02)
