"""The state every part of the transcript shares (the widget's `__init__` sets it), so
each part (render, viewport, paging, navigation) is a typed piece of one widget."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.style import Style
from textual.scroll_view import ScrollView
from textual.timer import Timer

from tuichat.ui.widgets.transcript.layout import LineIndex

if TYPE_CHECKING:
    from tuichat.ui.widgets.transcript.entries import Entry, OlderLoader, Reply


class TranscriptBase(ScrollView):
    """Shared state; the offsets of entries live in a pure LineIndex."""

    code_theme: str
    _entries: list[Entry]
    _lines: LineIndex
    _reply: Reply | None
    _last_reply: Reply | None
    _width: int
    _at_end: bool
    _flush_pending: bool
    _next_flush: float
    _spinner: Timer | None
    _realizing: bool
    _cached: dict[int, tuple[Entry, int]]
    _cached_lines: int
    _style_key: tuple[Style, ...] | None
    _base_style: Style | None
    _styles_changed: bool
    _cursor: int | None
    _jump: tuple[int, str | None] | None
    _older: OlderLoader | None
    _unloaded: int
    _cut: tuple[int, str] | None
    _older_lock: asyncio.Lock
    _new_below: bool

    def _cut_text(self, message_id: int | None) -> str | None:
        """The marker to draw above the message `message_id` (Transcript.mark_cut), if any."""
        if self._cut is None or message_id is None or message_id != self._cut[0]:
            return None
        return self._cut[1]

    @property
    def _offsets(self) -> list[int]:
        return self._lines.offsets

    @property
    def _valid(self) -> int:
        return self._lines.valid

    @_valid.setter
    def _valid(self, value: int) -> None:
        self._lines.valid = value

    def _sync(self) -> None:
        """Recompute line offsets of entries whose predecessors changed height."""
        self._lines.sync(self._entries)

    def _total(self) -> int:
        return self._lines.total(self._entries)

    def _index_of(self, entry: Entry) -> int:
        entries = self._entries
        # The reply is the last entry, or close to it (a notice added while streaming).
        return next(i for i in range(len(entries) - 1, -1, -1) if entries[i] is entry)
