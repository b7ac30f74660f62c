"""The left panel: a filter box above the thread list.

The panel does not read the store: it posts `ThreadPanel.FilterChanged` and the screen,
which owns the store, answers by calling `show_threads` with a coroutine function that
reads a page of the matching threads off the event loop; the list asks it for more as the user scrolls down.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input

from tuichat.ui.widgets.thread_list import PageLoader, ThreadList


class ThreadFilter(Input):
    """The filter-as-you-type box. Escape clears it; Down moves into the list; typing in
    the list comes here."""

    BINDINGS = [
        Binding("escape", "clear_filter", "Clear", id="threads.clear_filter", show=False),
        Binding("down", "into_list", "List", id="threads.into_list", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="Filter threads", compact=True, select_on_focus=False, id=id)

    def action_clear_filter(self) -> None:
        self.value = ""

    def action_into_list(self) -> None:
        threads = self.screen.query_one(ThreadList)
        if threads.option_count == 0:
            return
        if threads.highlighted is None:
            threads.highlighted = 0
        threads.focus()


class ThreadPanel(Vertical):
    """The filter box and the thread list, one column."""

    DEFAULT_CSS = """
    ThreadPanel {
        width: 32;
        height: 1fr;
        border-right: vkey $foreground 15%;
    }
    ThreadPanel:focus-within {
        border-right: vkey $accent;
    }
    ThreadPanel ThreadFilter {
        padding: 0 1;
        background: $boost;
    }
    ThreadPanel ThreadFilter:focus {
        background: $boost;
        background-tint: $accent 15%;
    }
    """

    @dataclass
    class FilterChanged(Message):
        """The filter text is now `text` ("" shows every thread)."""

        text: str

    def compose(self) -> ComposeResult:
        yield ThreadFilter(id="thread-filter")
        yield ThreadList(id="threads")

    @property
    def filter_text(self) -> str:
        """The filter as typed, trimmed; "" when the box is empty."""
        return self.query_one(ThreadFilter).value.strip()

    @property
    def thread_list(self) -> ThreadList:
        return self.query_one(ThreadList)

    async def show_threads(
        self, load: PageLoader, current_id: int | None = None, *, keep_highlight: bool = False
    ) -> None:
        """List what `await load(limit, offset)` reads, for the filter as it is now."""
        await self.thread_list.show_threads(
            load, current_id, source=self.filter_text, keep_highlight=keep_highlight
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.FilterChanged(event.value.strip()))

    def on_key(self, event: events.Key) -> None:
        # Typing while the list has the focus filters it: the key goes to the box (at its
        # end) instead of being dropped. Keys the list binds never get here.
        if event.is_printable and event.character and self.thread_list.has_focus:
            event.stop()
            event.prevent_default()
            box = self.query_one(ThreadFilter)
            box.focus()
            box.cursor_position = len(box.value)
            box.insert_text_at_cursor(event.character)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Enter in the box opens the best (most recent) match; Down then Enter picks another.
        event.stop()
        threads = self.thread_list
        if threads.option_count:
            threads.highlighted = 0
            thread_id = threads.highlighted_thread_id
            if thread_id is not None:
                self.post_message(ThreadList.Chosen(thread_id))
