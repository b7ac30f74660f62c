"""Errors the user sees: each has a short title and a plain-words detail."""

from __future__ import annotations


class TuichatError(Exception):
    """Base of every error meant for the user. `title` is short; `detail` says what to do."""

    def __init__(self, title: str, detail: str = "") -> None:
        super().__init__(f"{title}: {detail}" if detail else title)
        self.title = title
        self.detail = detail


class UsageError(TuichatError):
    """Bad command-line arguments or bad configuration: the CLI exits with code 2."""


class ConfigError(UsageError):
    """config.toml is unreadable or invalid. The detail names the file and line."""


class PersonaError(UsageError):
    """A persona file is invalid, or an unknown persona was asked for."""


class ProviderError(TuichatError):
    """A request to the model server failed.

    `kind` is one of: "auth", "permission", "not_found", "bad_request", "rate_limit",
    "server", "connection", "timeout", "disconnected", "config".
    """

    def __init__(self, kind: str, title: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(title, detail)
        self.kind = kind
        self.status = status


class StorageError(TuichatError):
    """A database read or write failed (locked past the timeout, disk full, I/O error,
    read-only, corrupt). The title says it in plain words; nothing typed or streamed is
    dropped because of it: callers keep the text and try again later."""


class BusyElsewhereError(TuichatError):
    """A reply in this thread is still being written by another tuichat (another window,
    a pipe run): it cannot be regenerated, edited or replaced until it ends."""


class DatabaseRefusedError(UsageError):
    """--db names a file tuichat must not use as its history: another program's SQLite
    database, one made by a newer tuichat, or not a database at all. It is left untouched."""
