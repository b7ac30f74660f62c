"""The thread list on the left: newest first, title, persona and age."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.css.styles import RulesMap
from textual.message import Message
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from tuichat.core.models import Thread
from tuichat.core.text import clean_line, sanitize
from tuichat.core.timestamps import local_date, safe_timestamp


def relative_time(then: float, now: float | None = None) -> str:
    """'just now', '5m', '3h', '2d', or a date for anything older than a week."""
    # Any stored value is shown (an old import may hold NaN or year 10^300): never raise.
    then = safe_timestamp(then)
    now = now if now is not None else time.time()
    if then - now > 86400:  # a clock or an import from the future: say when
        return local_date(then)
    seconds = max(0, int(now - then))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 7 * 86400:
        return f"{seconds // 86400}d"
    return local_date(then)


# Every entry is two lines (see ThreadLabel), so an index is a line offset / 2.
ENTRY_HEIGHT = 2
# Threads loaded at once: a tall screen's worth and a margin. More are loaded as the
# highlight or the scroll position comes near the end of what is loaded.
PAGE_SIZE = 60
# Load the next page while this many entries beyond a screenful are still ahead, so
# Down, PageDown and the wheel never run into the end of a partial list.
LOAD_MARGIN = 5
# End loads everything that is left, in pages this big.
END_PAGE_SIZE = 2000

# `await load(limit, offset)` -> up to `limit` threads from `offset`, most recent first.
# A coroutine: the store is read on its own thread, never on the event loop.
PageLoader = Callable[[int, int], Awaitable[list[Thread]]]


class ThreadLabel(Visual):
    """A thread's entry: the title on one line, then persona and age (dim).

    Its height is known without measuring: OptionList asks every entry's height when
    entries are added and again after each resize, and for Content that means wrapping
    the text, most of what building the list cost. The text is prepared when the entry
    is first drawn, so entries loaded but off-screen (End loads thousands) cost little.
    """

    def __init__(self, thread: Thread, now: float, live: bool = False) -> None:
        self.thread = thread
        self.now = now  # the ages are as of when the list was loaded
        self.live = live  # a reply is being generated in it (by this window)

    @cached_property
    def title(self) -> str:
        title = one_line(self.thread.title) or "(untitled)"
        return f"● {title}" if self.live else title

    @cached_property
    def meta(self) -> str:
        age = "generating…" if self.live else relative_time(self.thread.updated_at, self.now)
        return f"{one_line(self.thread.persona)} · {age}"

    @cached_property
    def content(self) -> Content:
        # Assembled from plain strings, never markup: titles are user text and may
        # contain square brackets.
        return Content.assemble((self.title, "bold"), "\n", (self.meta, "dim"))

    def __str__(self) -> str:
        return f"{self.title}\n{self.meta}"

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        return self.content.render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.content.get_optimal_width(rules, container_width)

    def get_minimal_width(self, rules: RulesMap) -> int:
        return self.content.get_minimal_width(rules)

    def get_height(self, rules: RulesMap, width: int) -> int:
        # Both lines are single lines (whitespace collapsed, and the list does not wrap).
        return ENTRY_HEIGHT


def one_line(text: str) -> str:
    # Titles and persona names are untrusted: controls, bidi overrides and zero-width
    # characters are shown as marks, so `invoice<RLO>fdp.exe` cannot pose as a PDF.
    return " ".join(clean_line(text).split())


def thread_label(thread: Thread, now: float | None = None, live: bool = False) -> ThreadLabel:
    """Two lines: the title, then persona and age ("● title" while a reply is live)."""
    return ThreadLabel(thread, time.time() if now is None else now, live)


def listed_as(thread: Thread) -> tuple[object, ...]:
    """What an entry shows of a thread: the same for two lists means no rebuild."""
    return (thread.id, thread.title, thread.persona, thread.updated_at)


class ThreadList(OptionList):
    """Threads, newest first. Posts `ThreadList.Chosen` when one is selected and
    `ThreadList.DeleteRequested` when Delete is pressed on one."""

    BINDINGS = [Binding("delete", "delete_thread", "Delete", id="threads.delete")]

    DEFAULT_CSS = """
    ThreadList {
        width: 1fr;
        height: 1fr;
        border: none;
        border-top: hkey $foreground 15%;
        padding: 0;
        /* One row per line, cut with an ellipsis: long titles never wrap. */
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ThreadList:focus {
        border: none;
        border-top: hkey $accent;
    }
    """

    @dataclass
    class Chosen(Message):
        """The user picked thread `thread_id`."""

        thread_id: int

    @dataclass
    class DeleteRequested(Message):
        """The user asked to delete thread `thread_id` (the screen confirms first)."""

        thread_id: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._load: PageLoader | None = None
        self._source: object = None  # what is listed (the filter text), see show_threads
        self._offset = 0  # threads fetched so far: where the next page starts
        self._complete = True  # the last page came back short: nothing more to load
        self._busy = False  # (re)building or reading a page: nothing else loads meanwhile
        self._generation = 0  # bumped by each listing: a page of an older one is dropped
        # What is on show, so an unchanged result (a keystroke that matches the same
        # threads) costs no rebuild. The minute is part of it to keep ages fresh.
        self._minute = -1
        self._listed: list[tuple[object, ...]] = []
        self._listed_ids: set[int] = set()
        self._threads: dict[int, Thread] = {}
        self._live: set[int] = set()  # threads with a reply being generated here

    @property
    def complete(self) -> bool:
        """Every thread of the listing is loaded (none is left for scrolling to load)."""
        return self._complete

    async def show_threads(
        self, load: PageLoader, current_id: int | None = None, *, source: object = None,
        keep_highlight: bool = False,
    ) -> None:
        """List the threads `await load(limit, offset)` returns, a page at a time, and keep
        the current thread highlighted. `source` says what is listed (the filter text): for
        the same source again (a refresh after a send, a rename, a delete) as many
        threads as are loaded now are reloaded, so the user keeps their place.
        `keep_highlight`: keep the highlighted thread rather than the current one (a
        refresh because another window changed the database, not because of the user)."""
        same_source = self._load is not None and source == self._source
        count = self._page_size()
        if same_source:
            count = max(count, self._offset)
        self._generation += 1
        generation = self._generation
        self._load, self._source = load, source
        threads = await self._fetch(count, 0)
        if threads is None or generation != self._generation:
            return  # failed, or a newer listing was asked for while this one was read
        highlighted = self.highlighted_thread_id if keep_highlight else None
        self._offset = len(threads)
        self._complete = len(threads) < count
        now = time.time()
        listed = [listed_as(t) for t in threads]
        if (int(now // 60), listed) != (self._minute, self._listed):
            self._minute, self._listed = int(now // 60), listed
            self._listed_ids = {t.id for t in threads}
            scroll_y = self.scroll_y if same_source else 0
            self._busy = True
            try:
                self._threads = {t.id: t for t in threads}
                self.set_options(Option(thread_label(t, now, t.id in self._live), id=str(t.id))
                                 for t in threads)
                if scroll_y:
                    self.scroll_to(y=scroll_y, animate=False, immediate=True)
            finally:
                self._busy = False
        if keep_highlight and highlighted is not None and self.has_focus:
            self.mark_current(highlighted)
        else:
            self.mark_current(current_id)
        self._load_if_near_end()

    def set_live(self, thread_ids: set[int]) -> None:
        """Mark the threads with a reply being generated (a reply keeps going in the
        background when the user moves to another thread)."""
        changed, self._live = self._live ^ thread_ids, set(thread_ids)
        now = time.time()
        for thread_id in changed:
            thread = self._threads.get(thread_id)
            if thread is not None:
                with contextlib.suppress(OptionDoesNotExist):
                    self.replace_option_prompt(str(thread_id), thread_label(thread, now, thread_id in self._live))

    @property
    def live(self) -> set[int]:
        return set(self._live)

    def mark_current(self, thread_id: int | None) -> None:
        if thread_id is None:
            self.highlighted = None
            return
        try:
            self.highlighted = self.get_option_index(str(thread_id))
        except OptionDoesNotExist:  # older than the loaded threads, or filtered out
            self.highlighted = None

    # --- loading more as the user moves down ------------------------------------------

    def _visible_entries(self) -> int:
        return max(1, self.scrollable_content_region.height // ENTRY_HEIGHT)

    def _page_size(self) -> int:
        return max(PAGE_SIZE, 2 * self._visible_entries())

    async def _fetch(self, limit: int, offset: int) -> list[Thread] | None:
        """A page from the store, or None (and a short message) if reading failed."""
        assert self._load is not None
        try:
            return await self._load(limit, offset)
        except Exception as error:  # noqa: BLE001 - the app keeps running, with what it has
            self._complete = True  # no retry per scroll step; the next refresh tries again
            self.notify(f"Could not load threads: {sanitize(str(error))}", severity="error", markup=False)
            return None

    async def load_more(self, limit: int | None = None) -> bool:
        """Append the next page; False when there is nothing more (or reading failed)."""
        if self._complete or self._load is None or self._busy:
            return False
        limit = limit or self._page_size()
        generation = self._generation
        self._busy = True
        try:
            threads = await self._fetch(limit, self._offset)
            if threads is None or generation != self._generation:
                return False  # a new listing replaced the one this page belonged to
            self._offset += len(threads)
            self._complete = len(threads) < limit
            # Offsets shift if a thread moved up since the last page (each change in the
            # app refreshes the list, but be safe): skip what is listed already.
            fresh = [t for t in threads if t.id not in self._listed_ids]
            now = time.time()
            self._listed.extend(listed_as(t) for t in fresh)
            self._listed_ids.update(t.id for t in fresh)
            self._threads.update((t.id, t) for t in fresh)
            self.add_options(Option(thread_label(t, now, t.id in self._live), id=str(t.id)) for t in fresh)
            return bool(fresh) or not self._complete
        finally:
            self._busy = False

    def _load_if_near_end(self) -> None:
        """Keep a screenful and a margin loaded below the highlight and the view, so
        Down never reaches the last loaded entry (it would wrap to the top) and
        PageDown never stops short, while more threads are left."""
        if self._complete or self._busy:
            return
        visible = self._visible_entries()
        last_seen = max(self.highlighted or 0, int(self.scroll_y) // ENTRY_HEIGHT + visible)
        if self.option_count - 1 - last_seen < visible + LOAD_MARGIN:
            # Read off the event loop (the store answers on its own thread); `_busy`
            # keeps it to one page at a time.
            self.run_worker(self.load_more(), group="thread-pages", exit_on_error=False)

    def watch_highlighted(self, highlighted: int | None) -> None:
        super().watch_highlighted(highlighted)
        self._load_if_near_end()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._load_if_near_end()  # the wheel or the scrollbar, highlight or not

    def on_resize(self, event: events.Resize) -> None:
        self._load_if_near_end()  # a taller list shows more

    async def action_last(self) -> None:
        """End: the real end, the oldest thread, loading whatever is left."""
        while self._busy:  # a page already on its way: it is part of what End must show
            await asyncio.sleep(0.01)
        while await self.load_more(END_PAGE_SIZE):
            pass
        super().action_last()

    @property
    def highlighted_thread_id(self) -> int | None:
        """The id of the highlighted thread, if any."""
        if self.highlighted is None or not 0 <= self.highlighted < self.option_count:
            return None
        option_id = self.get_option_at_index(self.highlighted).id
        return int(option_id) if option_id is not None else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(int(event.option.id)))

    def action_delete_thread(self) -> None:
        thread_id = self.highlighted_thread_id
        if thread_id is not None:
            self.post_message(self.DeleteRequested(thread_id))
