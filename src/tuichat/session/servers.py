"""The servers one app may talk to: the one it started with, and the other named servers
of config.toml, each with its own provider and key, built the first time a thread on that
server sends (a key command may take a while, so that happens in a worker thread)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

from tuichat.providers.base import Provider
from tuichat.servers import Server

# Between a model id and its server in the model picker's option ids. Model ids are
# anything a server lists, but none holds an ASCII unit separator.
SEP = "\x1f"


class ServerPool:
    """Servers by name, and a provider for each other than the start server (which the
    session owns). `connect(server)` builds a provider with that server's own key."""

    def __init__(self, start: Server, servers: Mapping[str, Server] = (), *,
                 connect: Callable[[Server], Provider] | None = None) -> None:
        self.start = start
        # The start server as resolved (flags, environment) wins over its config entry.
        self._servers = {**servers, start.name: start}
        self._connect = connect
        self._providers: dict[str, Provider] = {}
        self._lock = asyncio.Lock()

    @property
    def names(self) -> list[str]:
        """Every server a thread may use, the start server first."""
        return [self.start.name, *(name for name in self._servers if name != self.start.name)]

    def server(self, name: str | None) -> Server:
        """The server called `name`; the start server for None or a name no longer configured."""
        return self._servers.get(name or "", self.start)

    def owns(self, name: str | None) -> bool:
        """True when `name` is served by the start server's provider (the session's own)."""
        return self.server(name) is self.start

    async def provider(self, name: str) -> Provider:
        server = self.server(name)
        if server.name not in self._providers:
            if self._connect is None:
                raise LookupError(f"no way to reach server {name!r}")
            async with self._lock:
                if server.name not in self._providers:
                    self._providers[server.name] = await asyncio.to_thread(self._connect, server)
        return self._providers[server.name]

    async def aclose(self) -> None:
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            with contextlib.suppress(Exception):
                await provider.aclose()


def option_id(model: str, server: str | None) -> str:
    """The picker's id for `model` on `server` (None: the thread's own server)."""
    return model if server is None else f"{model}{SEP}{server}"


def parse_option(option: str) -> tuple[str, str | None]:
    model, sep, server = option.partition(SEP)
    return model, (server if sep else None)
