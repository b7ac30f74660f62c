"""Building the real app for Pilot tests: a temporary database, the shipped personas, and
the fake server as the base URL."""

from __future__ import annotations

from pathlib import Path

from tuichat.config import Settings
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
) -> TuichatApp:
    settings = Settings(model="test-model", base_url=base_url, base_url_source="flag",
                        keymap=keymap or {}, timeout=timeout)
    personas = load_personas(default_dirs())
    store = store or Store(tmp_path / "tuichat.db")

    def provider_factory() -> OpenAIProvider:
        # max_retries=0 keeps error tests fast; the SDK's own retries are tested apart.
        return OpenAIProvider(api_key=api_key or "x", base_url=base_url, timeout=timeout, max_retries=0)

    return TuichatApp(
        store=store, settings=settings, personas=personas, persona=personas[persona],
        provider_factory=provider_factory, api_key=api_key,
        key_note="" if api_key else "No API key: set OPENAI_API_KEY.", thread=thread,
    )


async def wait_for(pilot, predicate, timeout: float = 5.0) -> None:
    """Let the app run until `predicate()` is true (or fail after `timeout` seconds)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await pilot.pause(0.02)
