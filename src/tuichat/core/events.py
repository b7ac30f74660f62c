"""What a provider yields while a reply streams. Plain values, no SDK types."""

from __future__ import annotations

from dataclasses import dataclass

from tuichat.core.models import Usage
from tuichat.core.text import encodable


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer."""

    text: str

    def __post_init__(self) -> None:
        # A server's JSON may carry a lone surrogate ("\ud800"), which UTF-8 (the DB,
        # stdout) cannot hold: it becomes U+FFFD here, once, for every consumer.
        object.__setattr__(self, "text", encodable(self.text))


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's reasoning (`reasoning_content`); shown apart, never sent back."""

    text: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", encodable(self.text))  # as TextDelta


@dataclass(frozen=True)
class UsageReport:
    """Token usage, usually from the last chunk (choices empty)."""

    usage: Usage


@dataclass(frozen=True)
class Finished:
    """The server said the choice is over: reason is "stop", "length", "content_filter", ..."""

    reason: str | None


Event = TextDelta | ReasoningDelta | UsageReport | Finished
