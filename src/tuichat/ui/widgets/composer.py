"""The multi-line message box at the bottom of the chat screen."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
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

    locked = False
    """Set by the screen while this thread's reply generates: the footer then offers
    Stop instead of Send. Enter still submits (a slash command works; a message is
    refused visibly, its text kept), it is only not advertised."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            highlight_cursor_line=False,
            placeholder=self.PLACEHOLDER,
        )

    PLACEHOLDER = "Message  (Enter send · Shift+Enter / Ctrl+J newline)"
    SHORT_PLACEHOLDER = "Message  (Enter sends)"

    def on_resize(self, event: events.Resize) -> None:
        # A narrow box says the one thing that matters rather than half of everything.
        short = event.size.width < len(self.PLACEHOLDER) + 2
        self.placeholder = self.SHORT_PLACEHOLDER if short else self.PLACEHOLDER

    # Priority bindings run in the app's message loop, while the letters typed before the
    # key are still queued for this widget: a terminal read of "thanks\r" would otherwise
    # send "" and leave "thanks" behind. Deferring with call_later runs the action after
    # everything already queued here.

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "submit" and self.locked:
            return False  # hidden from the footer; _on_key still submits
        return super().check_action(action, parameters)

    async def _on_key(self, event: events.Key) -> None:
        if self.locked and event.key in self._send_keys():
            # The send binding is disabled while locked (so the footer shows Stop), and
            # TextArea would take the key as a newline: submit, so the screen refuses it
            # visibly, or runs the slash command.
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        await super()._on_key(event)

    def _send_keys(self) -> set[str]:
        # The keys of the "send" binding as remapped by [keymap].
        return {key for key, binding in self._bindings if binding.id == "send"} or {"enter"}

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
