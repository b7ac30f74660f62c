"""Plain data shared by every layer. No I/O, no UI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["system", "user", "assistant"]

# Message status values. A reply is "streaming" while it is being written; it ends as
# "done", "stopped" (the user pressed Escape) or "error" (the request failed), and in
# every case keeps whatever text had arrived.
DONE = "done"
STREAMING = "streaming"
STOPPED = "stopped"
ERROR = "error"
# A reply or prompt replaced by regenerate/edit, kept for history: shown and searchable,
# never sent to the model again (core/prompt.py skips it).
SUPERSEDED = "superseded"
# Left streaming by a process that died (its lease went stale) and recovered by another:
# not "stopped", which is the user pressing Esc.
INTERRUPTED = "interrupted"
STATUSES = (DONE, STREAMING, STOPPED, ERROR, SUPERSEDED, INTERRUPTED)


@dataclass
class Persona:
    """A system prompt plus the defaults a new thread starts with."""

    name: str
    description: str
    system_prompt: str
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    greeting: str | None = None
    source: str = ""  # the file it came from, for messages about it


@dataclass
class Thread:
    """One conversation. Timestamps are Unix seconds (UTC)."""

    id: int
    title: str
    persona: str
    model: str  # '' for an imported thread: the configured model is asked
    created_at: float
    updated_at: float
    system_prompt: str | None = None  # the thread's own (/system); None: the persona's
    server: str | None = None  # the named server it talks to; None: the one tuichat started with


@dataclass
class Usage:
    """Token counts reported by the server (the final SSE chunk, when asked for)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated: bool = False  # the server sent none: counted from the text (shown with "≈")


@dataclass
class Message:
    """One message of a thread, as stored."""

    id: int
    thread_id: int
    role: Role
    content: str
    status: str = DONE
    reasoning: str = ""
    model: str | None = None
    finish_reason: str | None = None
    error: str | None = None
    created_at: float = 0.0
    usage: Usage | None = field(default=None)
    version_of: int | None = None  # an edited prompt: the first prompt of its turn
    # A reply's timing: from sending the request to its first token, and to its end.
    first_token_ms: int | None = None
    duration_ms: int | None = None
    cost: float | None = None  # US dollars, when the model has a price (estimated if usage is)
    # A /compact summary: the id of the last message it stands for (None: not a summary).
    summary_of: int | None = None
    # Not stored: about how many prompt tokens were sent when the server's count shows it
    # cut the prompt (core.tokens.truncated_prompt), for the front end to warn at once.
    prompt_cut: int | None = None
    # Not stored: how many of the oldest messages were left out to fit the context window,
    # the first message sent after them (where the transcript marks the cut), and the
    # context window the request was fitted to (None: not known).
    left_out: int = 0
    cut_before: int | None = None
    window: int | None = None

    @property
    def cut_off(self) -> bool:
        """A finished reply the token limit cut short: shown as cut off, can be continued."""
        return self.role == "assistant" and self.status == DONE and self.finish_reason == "length"


@dataclass
class SearchHit:
    """One message that matched a history search, with what the UI needs to list it.

    `snippet` is one line of plain text around the first match ("…" where cut); never
    markup. `spans` are (start, end) offsets into `snippet` of every match, so the UI can
    highlight them without parsing anything.
    """

    thread_id: int
    message_id: int
    thread_title: str
    persona: str
    role: str
    snippet: str
    spans: list[tuple[int, int]]
    created_at: float


@dataclass
class SearchPage:
    """One page of a history search that may have stopped before the oldest message.

    `hits` are newest first, by message date. `next_before` is None when every message
    older than the page has been searched too; otherwise pass it back as `before` to go on
    with older messages (the page was full, or the search ran out of its time budget): it
    is the (created_at, id) the search stopped at. When it is set, `oldest_scanned_at` is
    the time of the oldest message searched so far, for a "searched back to <date>" line;
    otherwise it is None.
    """

    hits: list[SearchHit]
    next_before: tuple[float, int] | None
    oldest_scanned_at: float | None
