"""What a provider yields while a reply streams. Plain values, no SDK types."""

from __future__ import annotations

from dataclasses import dataclass

from tuichat.core.models import Usage


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's reasoning (`reasoning_content`); shown apart, never sent back."""

    text: str


@dataclass(frozen=True)
class UsageReport:
    """Token usage, usually from the last chunk (choices empty)."""

    usage: Usage


@dataclass(frozen=True)
class Finished:
    """The server said the choice is over: reason is "stop", "length", "content_filter", ..."""

    reason: str | None


Event = TextDelta | ReasoningDelta | UsageReport | Finished
