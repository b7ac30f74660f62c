"""The thread list on the left: newest first, title and persona."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
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


def thread_label(thread: Thread, now: float | None = None) -> Text:
    """Two lines: the title, then persona and age (dim). Built from Text, never markup:
    titles are user text and may contain square brackets."""
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(sanitize(thread.title) or "(untitled)", style="bold")
    label.append("\n")
    label.append(f"{sanitize(thread.persona)} · {relative_time(thread.updated_at, now)}", style="dim")
    return label


class ThreadList(OptionList):
    """Threads, newest first. Posts `ThreadList.Chosen` when one is selected."""

    DEFAULT_CSS = """
    ThreadList {
        width: 32;
        height: 1fr;
        border: none;
        border-right: vkey $foreground 15%;
        padding: 0;
    }
    ThreadList:focus {
        border: none;
        border-right: vkey $accent;
    }
    """

    @dataclass
    class Chosen(Message):
        """The user picked thread `thread_id`."""

        thread_id: int

    def show_threads(self, threads: list[Thread], current_id: int | None = None) -> None:
        """Replace the list; keep the current thread highlighted."""
        now = time.time()
        self.set_options(Option(thread_label(t, now), id=str(t.id)) for t in threads)
        self.mark_current(current_id)

    def mark_current(self, thread_id: int | None) -> None:
        if thread_id is None:
            self.highlighted = None
            return
        try:
            self.highlighted = self.get_option_index(str(thread_id))
        except OptionDoesNotExist:  # older than the listed threads
            self.highlighted = None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(int(event.option.id)))
