"""The conversation layer: no UI. `send` runs one reply; `conversation` holds a thread's
state and every action on it; `titles` names threads; `history` is what the history
commands and the UI share."""

from tuichat.session.send import ChatSession, ReplySink, request_params

__all__ = ["ChatSession", "ReplySink", "request_params"]
