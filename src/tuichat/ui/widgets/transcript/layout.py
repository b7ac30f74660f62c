"""Where each entry of the transcript starts, in lines: pure bookkeeping, no Textual.

Heights change as entries are rendered (an estimate becomes exact) and as a reply grows,
always from some entry on; offsets are recomputed lazily from the first entry whose
predecessors changed, so a streamed frame recomputes one offset, not thousands.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Protocol


class HasHeight(Protocol):
    height: int


class LineIndex:
    """The first line of each entry. `offsets[:valid]` are right; `sync` fixes the rest."""

    def __init__(self) -> None:
        self.offsets: list[int] = []
        self.valid = 0

    def clear(self) -> None:
        self.offsets.clear()
        self.valid = 0

    def invalidate(self, index: int) -> None:
        """Entry `index` and everything after it may have moved."""
        self.valid = min(self.valid, max(0, index))

    def sync(self, entries: Sequence[HasHeight]) -> None:
        """Recompute the offsets of entries whose predecessors changed height."""
        offsets, valid = self.offsets, self.valid
        if valid >= len(entries):
            del offsets[len(entries):]  # entries were removed from the end
            self.valid = len(entries)
            return
        del offsets[valid:]
        y = offsets[-1] + entries[valid - 1].height if valid else 0
        for entry in entries[valid:]:
            offsets.append(y)
            y += entry.height
        self.valid = len(entries)

    def total(self, entries: Sequence[HasHeight]) -> int:
        """Lines in all (synced) entries."""
        return self.offsets[-1] + entries[-1].height if entries else 0

    def entry_at(self, line: int) -> int:
        """The index of the entry that holds `line` (synced; 0 above the first)."""
        return max(0, bisect_right(self.offsets, line) - 1)
