"""The thread list on the left: newest first, title, persona and age."""

from __future__ import annotations

import time
from dataclasses import dataclass

from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from tuichat.core.models import Thread
from tuichat.core.text import sanitize


def relative_time(then: float, now: float | None = None) -> str:
    """'just now', '5m', '3h', '2d', or a date for anything older than a week."""
    seconds = max(0, int((now if now is not None else time.time()) - then))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 7 * 86400:
        return f"{seconds // 86400}d"
    return time.strftime("%Y-%m-%d", time.localtime(then))


def thread_label(thread: Thread, now: float | None = None) -> Content:
    """Two lines: the title, then persona and age (dim). Assembled from plain strings,
    never markup: titles are user text and may contain square brackets. Content rather
    than rich Text: the list converts Text to Content anyway, and with 200 rows per
    filter keystroke that conversion is a good part of the cost."""
    title = " ".join(sanitize(thread.title).split()) or "(untitled)"  # one line, always
    meta = f"{sanitize(thread.persona)} · {relative_time(thread.updated_at, now)}"
    return Content.assemble((title, "bold"), "\n", (meta, "dim"))


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
        # What is on show, so an unchanged result (a keystroke that matches the same
        # threads) costs no rebuild. The minute is part of it to keep ages fresh.
        self._shown: tuple[object, ...] | None = None

    def show_threads(self, threads: list[Thread], current_id: int | None = None) -> None:
        """Replace the list; keep the current thread highlighted."""
        now = time.time()
        shown = (int(now // 60), *((t.id, t.title, t.persona, t.updated_at) for t in threads))
        if shown != self._shown:
            self._shown = shown
            self.set_options(Option(thread_label(t, now), id=str(t.id)) for t in threads)
        self.mark_current(current_id)

    def mark_current(self, thread_id: int | None) -> None:
        if thread_id is None:
            self.highlighted = None
            return
        try:
            self.highlighted = self.get_option_index(str(thread_id))
        except OptionDoesNotExist:  # older than the listed threads, or filtered out
            self.highlighted = None

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
