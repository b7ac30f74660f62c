"""The multi-line message box at the bottom of the chat screen."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class Composer(TextArea):
    """Where the user writes. Enter sends; Shift+Enter and Ctrl+J insert a newline
    (many terminals cannot tell Shift+Enter from Enter, Ctrl+J works everywhere).

    The composer never clears itself: the screen clears it once the message is safely
    stored, so a refused or failed send keeps the draft.
    """

    BINDINGS = [
        # Priority: TextArea would otherwise consume Enter as a newline before any
        # ordinary binding sees it.
        Binding("enter", "submit", "Send", id="send", priority=True),
        Binding("shift+enter,ctrl+j", "newline", "Newline", id="newline", show=False, priority=True),
    ]

    DEFAULT_CSS = """
    Composer {
        height: auto;
        min-height: 3;
        max-height: 12;
    }
    """

    @dataclass
    class Submitted(Message):
        """The user asked to send `text` (the composer's whole content)."""

        composer: Composer
        text: str

        @property
        def control(self) -> Composer:
            return self.composer

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            highlight_cursor_line=False,
            placeholder="Message  (Enter send · Shift+Enter / Ctrl+J newline)",
        )

    # Priority bindings run in the app's message loop, while the letters typed before the
    # key are still queued for this widget: a terminal read of "thanks\r" would otherwise
    # send "" and leave "thanks" behind. Deferring with call_later runs the action after
    # everything already queued here.

    def action_submit(self) -> None:
        self.call_later(self._submit)

    def action_newline(self) -> None:
        self.call_later(self._newline)

    def _submit(self) -> None:
        # Trailing newlines are never meant (a paste that ends in one, a stray Ctrl+J).
        text = self.text.rstrip("\n")
        if text.strip():
            self.post_message(self.Submitted(self, text))

    def _newline(self) -> None:
        start, end = self.selection
        self.replace("\n", start, end, maintain_selection_offset=False)
