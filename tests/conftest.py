"""Shared fixtures. tests/ is on sys.path (no __init__.py), so `import fake_openai` works."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_openai import FakeServer


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A started fake OpenAI server, one per test (fresh script and request log)."""
    with FakeServer() as server:
        yield server


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Every test gets its own config and data directories and no real API settings, so
    nothing reads or writes the developer's files or reaches a real server."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path
