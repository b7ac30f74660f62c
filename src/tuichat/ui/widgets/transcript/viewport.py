"""What is rendered and where the view is: entries near the view are rendered (the
rest keep an estimated height), the view follows the end or stays on what it shows,
a streamed frame is drawn at most once per frame, and old strips are dropped."""

from __future__ import annotations

from bisect import bisect_right
from time import perf_counter

from textual.geometry import Size
from textual.scroll_view import ScrollView


from tuichat.ui.widgets.transcript.base import TranscriptBase
from tuichat.ui.widgets.transcript.entries import Reply

# At most one tail render per frame, 12 a second: smooth enough for text that streams in,
# and a streamed frame often repaints the whole view (it scrolls), which costs Textual a
# few ms each time. At 30 fps a reply at 200 tokens/s took 30% of a core, at 15 fps 18-20%
# and at 12 fps 16-17% (bench/stream.py; the box varies). The first token is drawn the
# moment it arrives and the last when the reply ends, so neither waits for a frame.
_FRAME = 1 / 12
# Rendered lines kept for messages away from the view; beyond this the least recently
# seen are dropped (their measured height is kept, so nothing moves when re-rendered).
_CACHE_LINES = 20_000


class Viewport(TranscriptBase):
    """Scheduling, rendering around the view, following, and the virtual size."""

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width > 0:
            width = max(width, 8)  # bars and indents need a few cells; the rest is cropped
        if width != self._width:
            anchor: tuple[int, int] | None = None
            if self._entries and self._width > 0 and not self._at_end:
                # Keep the message at the top of the view there: remember it before
                # every height changes.
                self._sync()
                top = self.scroll_offset.y
                index = max(0, bisect_right(self._offsets, top) - 1)
                inner = (top - self._offsets[index]) * self._width // width
                anchor = (index, inner)
            self._width = width
            for entry in self._entries:
                if entry.width != width:
                    entry.drop()
                if entry.measured != width:
                    entry.height = entry.estimate(width)
            self._valid = 0
            self._cached.clear()
            self._cached_lines = 0
            if anchor is not None:
                self._sync()
                index, inner = anchor
                inner = min(inner, max(0, self._entries[index].height - 1))
                self._set_virtual_size(Size(width, self._total()))
                self._realizing = True  # the flush below renders around the new spot
                try:
                    self.scroll_to(y=self._offsets[index] + inner, animate=False)
                finally:
                    self._realizing = False
        self._flush()


    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._at_end = new_value >= self.max_scroll_y
        if self._at_end and self._new_below:
            self._set_new_below(False)
        if not self._realizing and self._width > 0 and self._needs_render(int(new_value)):
            self._realize(follow=False)
        if self._older is not None and not self._realizing:
            # Not now: this runs inside a scroll, and loading moves the scroll offset.
            self.call_later(self._load_if_near_top)

    # ------------------------------------------------------------ scheduling

    def _schedule(self) -> None:
        """Ask for one flush, no sooner than the frame budget allows."""
        if self._flush_pending or not self.is_mounted:
            return
        self._flush_pending = True
        delay = self._next_flush - perf_counter()
        if delay > 0:
            self.set_timer(delay, self._flush, name="transcript-flush")
        else:
            self.call_later(self._flush)

    def _flush(self) -> None:
        """Draw everything that arrived since the last frame."""
        self._flush_pending = False
        if self._width <= 0:
            return
        if self._styles_changed:
            self._check_styles()
        if self._jump is not None:
            index, find = self._jump
            self._jump = None
            self._show_entry(index, find=find)
        start = perf_counter()
        reply = self._reply
        if reply is not None and reply.waiting:
            # Nothing streamed yet (begin_reply's flush): the first token must not wait
            # for a frame slot; it is drawn the moment it arrives.
            self._update(reply)
            self._next_flush = 0.0
            return
        self._update(reply)
        # Re-rendering the unfinished tail is the only work repeated every frame. A huge
        # tail (a long code fence) makes frames wait three times its render time, so it
        # costs at most about a third of the CPU instead of all of it.
        tail_cost = reply.answer.tail_cost + reply.thinking.tail_cost if reply else 0.0
        self._next_flush = start + max(_FRAME, 3 * tail_cost)

    def _update(self, reply: Reply | None, finish: bool = False) -> None:
        """Render the reply's news (if any) and what came into view; follow; repaint."""
        follow = self._at_end
        changed: int | None = None
        if reply is not None:
            index = self._index_of(reply)
            local = reply.update(self, self._width, finish)
            if local is not None:
                self._valid = min(self._valid, index + 1)
                self._sync()
                changed = self._offsets[index] + local
        self._layout(follow, changed)

    def _spin(self) -> None:
        reply = self._reply
        if reply is None or not reply.waiting:
            self._stop_spinner()
            return
        reply.frame += 1
        if reply.width == self._width > 0:
            reply.set_footer(self, self._width)
            self._sync()
            self.refresh_lines(self._offsets[self._index_of(reply)] + reply.footer_at())

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    # ---------------------------------------------------------------- layout

    def _layout(self, follow: bool, changed_from: int | None = None) -> None:
        """Render what is in view, update the virtual size, follow, repaint changes."""
        self._realize(follow)
        if changed_from is not None:
            top = self.scroll_offset.y
            bottom = top + self.scrollable_content_region.height
            start = max(changed_from, top)
            if start < bottom:
                self.refresh_lines(start, bottom - start)

    def _needs_render(self, top: int) -> bool:
        self._sync()
        entries, offsets, width = self._entries, self._offsets, self._width
        height = self.scrollable_content_region.height
        index = max(0, bisect_right(offsets, top - height) - 1)
        while index < len(entries) and offsets[index] < top + 2 * height:
            if entries[index].width != width:
                return True
            index += 1
        return False

    def _realize(self, follow: bool) -> None:
        """Render the entries in and around the view; keep the view where it was.

        Following, the bottom screens are rendered and the view sticks to the end.
        Otherwise the entry at the top of the view is the anchor: entries above it may
        change height as they are rendered, and the view moves with the anchor.
        """
        entries, width = self._entries, self._width
        height = max(1, self.scrollable_content_region.height)
        self._realizing = True
        try:
            self._sync()
            if not entries:
                self._set_virtual_size(Size(width, 0))
                return
            offsets = self._offsets
            lowest: int | None = None
            if follow:
                first = len(entries)
                covered = 0
                while first > 0 and covered < 2 * height:
                    first -= 1
                    entry = entries[first]
                    if entry.width != width:
                        entry.render(self, width)
                        lowest = first
                    covered += entry.height
                last = len(entries)
                anchor = inner = 0
            else:
                top = self.scroll_offset.y
                anchor = max(0, bisect_right(offsets, top) - 1)
                inner = top - offsets[anchor]
                last = anchor
                covered = 0
                while last < len(entries) and covered < inner + 2 * height:
                    entry = entries[last]
                    if entry.width != width:
                        entry.render(self, width)
                        lowest = last if lowest is None else lowest
                    covered += entry.height
                    last += 1
                first = anchor
                covered = 0
                while first > 0 and covered < height:
                    first -= 1
                    entry = entries[first]
                    if entry.width != width:
                        entry.render(self, width)
                        lowest = first
                    covered += entry.height
            if lowest is not None:
                self._valid = min(self._valid, lowest + 1)
                self._sync()
                self.refresh()
            self._touch(first, last)
            self._set_virtual_size(Size(width, self._total()))
            if follow:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
                self._at_end = True
            else:
                target = offsets[anchor] + min(inner, max(0, entries[anchor].height - 1))
                if target != self.scroll_offset.y:
                    self.scroll_to(y=target, animate=False, immediate=True)
        finally:
            self._realizing = False

    def _set_virtual_size(self, size: Size) -> None:
        """Set virtual_size without asking the screen for a layout pass.

        Assigning `virtual_size` (a layout reactive) makes the screen re-arrange and
        repaint everything on every streamed frame; our own size never depends on it, so
        only the scrollbars need to hear about it (as Textual itself does in
        `Widget._size_updated(layout=False)`). Showing or hiding a scrollbar still asks
        for a layout, through its own reactive. `_scroll_update` is private to Textual (no
        public call does this without a layout): tests/test_transcript_layout.py pins what
        it must do, so a Textual upgrade that changes it fails there, not on screen.
        """
        if size != self.virtual_size:
            self.set_reactive(ScrollView.virtual_size, size)
            self._scroll_update(size)

    def _touch(self, first: int, last: int) -> None:
        """Mark entries[first:last] as recently seen; drop old strips over the budget."""
        cached = self._cached
        for entry in self._entries[first:last]:
            key = id(entry)
            old = cached.pop(key, None)
            if old is not None:
                self._cached_lines -= old[1]
            cached[key] = (entry, entry.height)
            self._cached_lines += entry.height
        keep = last - first
        while self._cached_lines > _CACHE_LINES and len(cached) > keep:
            key = next(iter(cached))
            entry, lines = cached.pop(key)
            self._cached_lines -= lines
            entry.drop()

