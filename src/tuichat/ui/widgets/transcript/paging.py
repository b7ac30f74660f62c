"""Reading a long thread a page at a time: older messages are loaded as the view comes
near the top, a jump needs them, or Home is pressed, and inserted without moving what
the user is looking at."""

from __future__ import annotations


from textual.geometry import Size

from tuichat.core.text import sanitize

from tuichat.ui.widgets.transcript.base import TranscriptBase
from tuichat.ui.widgets.transcript.entries import OLDER_PAGE, Entry, OlderLoader, Shown


class Paging(TranscriptBase):
    """Older pages above the first entry."""

    def show_older(self, loader: OlderLoader | None, unloaded: int) -> None:
        """The thread has `unloaded` user/assistant messages above the first one shown;
        `loader` reads them, a page at a time, when they are needed."""
        self._older = loader if unloaded > 0 else None
        self._unloaded = max(0, unloaded) if loader is not None else 0


    @property
    def unloaded(self) -> int:
        """How many older messages of the thread are not read yet."""
        return self._unloaded

    async def load_older(self, at_least: int = OLDER_PAGE) -> int:
        """Read older messages (at least `at_least` of them, if the thread has that many)
        and insert them above, keeping the view on what it shows. Returns how many
        entries were added."""
        async with self._older_lock:
            loader = self._older
            if loader is None:
                return 0
            try:
                shown, remaining = await loader(max(at_least, OLDER_PAGE))
            except Exception as error:  # noqa: BLE001 - a locked or damaged database
                self.notify(f"Could not read older messages: {sanitize(str(error))}",
                            severity="error", markup=False)
                return 0
            if self._older is not loader:
                return 0  # cleared (another thread opened) while the page was read
            return self._insert_older(shown, remaining)

    def _insert_older(self, shown: list[Shown], remaining: int) -> int:
        self._unloaded = max(0, remaining)
        if not shown or remaining <= 0:
            self._older = None
            self._unloaded = 0
        if not shown:
            return 0
        width = self._width or 80
        new: list[Entry] = []
        for message in shown:
            entry = Entry(*message)
            entry.cut_above = self._cut_text(entry.message_id)
            entry.height = entry.estimate(width)
            new.append(entry)
        added = sum(entry.height for entry in new)
        self._entries[0:0] = new
        if self._cursor is not None:
            self._cursor += len(new)
        if self._jump is not None:
            self._jump = (self._jump[0] + len(new), self._jump[1])
        self._valid = 0
        self._sync()
        if self._width > 0 and self.is_mounted:
            # The same lines stay in view: they are `added` lines further down now.
            self._realizing = True
            try:
                self._set_virtual_size(Size(self._width, self._total()))
                if not self._at_end:
                    self.scroll_to(y=self.scroll_offset.y + added, animate=False, immediate=True)
            finally:
                self._realizing = False
            self._realize(follow=self._at_end)
            self.refresh()
        return len(new)

    def _load_if_near_top(self) -> None:
        """Read an older page when the view is within a screen of the top."""
        if self._older is not None and self._width > 0 and not self._realizing:
            if self._older_lock.locked():
                return  # a page is on its way
            if self.scroll_offset.y < 2 * max(1, self.scrollable_content_region.height):
                self.run_worker(self.load_older(), group="older", exit_on_error=False)


    async def load_through(self, position: int) -> None:
        """Read older pages down to message number `position` (see scroll_to_message),
        so that scroll_to_message can show it."""
        if 0 <= position < self._unloaded:
            await self.load_older(self._unloaded - position)

