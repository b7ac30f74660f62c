"""Conversation history in SQLite."""

from tuichat.store.threads import Store

__all__ = ["Store"]
