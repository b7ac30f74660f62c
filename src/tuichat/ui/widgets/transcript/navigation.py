"""The message cursor and jumps: k/j highlight a message, c and y ask for it (or a code
block of it) to be copied, a click highlights, and `scroll_to_message` brings a search
hit into view."""

from __future__ import annotations

from bisect import bisect_right

from textual import events
from textual.geometry import Size


from tuichat.ui.widgets.transcript.base import TranscriptBase
from tuichat.ui.widgets.transcript.entries import find_line, is_message, source_of


class Navigation(TranscriptBase):
    """Cursor, jumps and the copy requests."""

    # CopyRequested and CodeRequested are Transcript's messages (widget.py): Textual
    # names a handler after the class that defines the message (on_transcript_...).

    @property
    def cursor_message_id(self) -> int | None:
        """The row id of the highlighted message (None: none, or a notice)."""
        if self._cursor is None:
            return None
        return self._entries[self._cursor].message_id

    @property
    def last_reply_message_id(self) -> int | None:
        """The row id of the last assistant message shown (None if it has none yet)."""
        for entry in reversed(self._entries):
            if entry.role == "assistant":
                return entry.message_id
        return None


    # ------------------------------------------------- messages, cursor and jumps

    @property
    def message_count(self) -> int:
        """How many messages (user and assistant, not notices) the thread has: those
        shown and the older ones not read yet."""
        return self._unloaded + sum(1 for entry in self._entries if is_message(entry))

    @property
    def cursor(self) -> int | None:
        """The position of the highlighted message among the messages, or None."""
        if self._cursor is None:
            return None
        return self._unloaded + sum(1 for entry in self._entries[: self._cursor] if is_message(entry))

    @property
    def highlighted_text(self) -> str | None:
        """The source text of the highlighted message, or None when none is."""
        if self._cursor is None:
            return None
        return source_of(self._entries[self._cursor])

    @property
    def last_reply_content(self) -> str | None:
        """The source text of the last assistant message (so far, if it is streaming)."""
        for entry in reversed(self._entries):
            if entry.role == "assistant":
                return source_of(entry)
        return None


    def scroll_to_message(self, position: int, *, find: str | None = None, highlight: bool = True) -> None:
        """Show message number `position` (0 = the first user or assistant message, as
        Store.message_position counts) at the top of the view, and stop following the end.

        Only the message and a screenful around it are rendered, whatever the thread's
        length. A message not read yet (older than the loaded pages) needs
        `await load_through(position)` first; without it nothing happens. With `find`, the first line of the message containing it (ignoring case)
        is brought into view too, for a long message matched far down. With `highlight`,
        the message also gets the cursor.
        """
        index = self._entry_index(position)
        if index is None:
            return
        if highlight:
            self._cursor = index
        self._at_end = False
        if self._width <= 0 or not self.is_mounted:
            self._jump = (index, find)  # done by the first flush that knows the width
            return
        self._jump = None
        self._show_entry(index, find=find)

    def _entry_index(self, position: int) -> int | None:
        if position < 0:
            return None
        position -= self._unloaded
        if position < 0:
            return None
        for index, entry in enumerate(self._entries):
            if is_message(entry):
                if position == 0:
                    return index
                position -= 1
        return None

    def _render_above(self, index: int, lines: int) -> None:
        """Render entries[index] and those above it covering `lines`, so that the offsets
        between them are exact; the view then lands where it is asked to."""
        entries, width = self._entries, self._width
        lowest: int | None = None
        first, covered = index + 1, 0
        while first > 0 and (first > index or covered < lines):
            first -= 1
            entry = entries[first]
            if entry.width != width:
                entry.render(self, width)
                lowest = first
            if first < index:
                covered += entry.height
        if lowest is not None:
            self._valid = min(self._valid, lowest + 1)
        self._sync()
        self._set_virtual_size(Size(width, self._total()))

    def _show_entry(self, index: int, *, find: str | None = None, nearest: bool = False) -> None:
        """Scroll so entries[index] is in view: at the top, or (nearest) by the least move."""
        height = max(1, self.scrollable_content_region.height)
        self._sync()
        self._render_above(index, height)
        entry = self._entries[index]
        start = self._offsets[index]
        top = self.scroll_offset.y
        if nearest:
            if start >= top and start + min(entry.height, height) <= top + height:
                self.refresh()
                return  # already in view
            y = start if start < top or entry.height > height else start + entry.height - height
        else:
            y = start
            line = find_line(entry, find) if find else None
            if line is not None and line >= height - 2:
                y = start + line - height // 3  # the match a third of the way down
        self._at_end = False
        self.scroll_to(y=y, animate=False, immediate=True)
        self._realize(follow=self._at_end)
        self.refresh()

    async def _move_cursor(self, step: int) -> None:
        entries = self._entries
        index = self._cursor
        if index is None:
            # Start from what is on screen: the last message in view going up, the first
            # going down.
            self._sync()
            top = self.scroll_offset.y
            bottom = top + self.scrollable_content_region.height
            candidates = []
            index = max(0, bisect_right(self._offsets, top) - 1)
            while index < len(entries) and self._offsets[index] < bottom:
                if is_message(entries[index]):
                    candidates.append(index)
                index += 1
            if not candidates:
                last = self._entry_index(self.message_count - 1)
                if last is None:
                    return
                candidates = [last]
            index = candidates[-1] if step < 0 else candidates[0]
        else:
            if step < 0 and self._older is not None and not any(map(is_message, entries[:index])):
                index += await self.load_older()  # the message above is not read yet
                entries = self._entries
            index += step
            while 0 <= index < len(entries) and not is_message(entries[index]):
                index += step
            if not 0 <= index < len(entries):
                return  # already at the first or last message
        self._cursor = index
        self._show_entry(index, nearest=True)

    async def action_previous_message(self) -> None:
        await self._move_cursor(-1)

    async def action_next_message(self) -> None:
        await self._move_cursor(+1)

    def action_copy_message(self) -> None:
        text = self.highlighted_text
        if text is None:
            text = self.last_reply_content
        if text is not None:
            self.post_message(self.CopyRequested(text))

    def action_copy_code(self) -> None:
        text = self.highlighted_text
        if text is None:
            text = self.last_reply_content
        if text is not None:
            self.post_message(self.CodeRequested(text))

    def on_click(self, event: events.Click) -> None:
        """A click on a message highlights it."""
        offset = event.get_content_offset(self)
        if offset is None or not self._entries or self._width <= 0:
            return
        self._sync()
        line_y = self.scroll_offset.y + offset.y
        if line_y >= self._total():
            return
        index = bisect_right(self._offsets, line_y) - 1
        if is_message(self._entries[index]):
            self._cursor = index
            self.refresh()

