"""The provider protocol: one streamed chat completion as an async iterator of events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from tuichat.core.events import Event


class Provider(Protocol):
    """Streams one reply. Raises `ProviderError` (never an SDK exception) on failure."""

    def stream(
        self, messages: list[dict[str, str]], model: str, params: dict[str, Any]
    ) -> AsyncIterator[Event]: ...

    async def aclose(self) -> None: ...

    def warm_up(self) -> None:
        """Do the slow one-time setup (imports, client, TLS context) now. Called from a
        worker thread after the first paint so the first send does not stall the UI."""

