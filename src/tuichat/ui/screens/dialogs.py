"""Small reusable modal dialogs: a yes/no confirmation and a one-line text prompt.

Both show their texts as plain text (rich Text, never markup): they often name a thread,
and a thread title is user or model text that may contain square brackets.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tuichat.core.text import clean_line, sanitize

DIALOG_CSS = """
{cls} {{
    align: center middle;
}}
{cls} > Vertical {{
    width: 64;
    max-width: 90%;
    height: auto;
    border: round $accent;
    background: $surface;
    padding: 1 2;
}}
{cls} .dialog-title {{
    text-style: bold;
    margin-bottom: 1;
}}
{cls} .dialog-buttons {{
    height: auto;
    align-horizontal: right;
    margin-top: 1;
}}
{cls} .dialog-buttons Button {{
    margin-left: 2;
}}
"""


def plain(text: str) -> Text:
    """Untrusted text for a Label: no markup; control, bidi and zero-width characters
    shown as visible marks (it often names a thread), line by line."""
    return Text("\n".join(clean_line(line) for line in sanitize(text).split("\n")))


class ConfirmDialog(ModalScreen[bool]):
    """Asks one question; dismisses with True (confirm) or False (cancel or Escape).

    Focus starts on Cancel, so an Enter typed out of habit never confirms something
    destructive.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    DEFAULT_CSS = DIALOG_CSS.format(cls="ConfirmDialog")

    def __init__(
        self, title: str, message: str, *, confirm_label: str = "OK", cancel_label: str = "Cancel",
        destructive: bool = False,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label
        self.destructive = destructive

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(self.title_text), classes="dialog-title")
            yield Static(plain(self.message), id="dialog-message")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.confirm_label, id="confirm",
                             variant="error" if self.destructive else "primary")
                yield Button(self.cancel_label, id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)


class TextPromptDialog(ModalScreen[str | None]):
    """One line of text. Enter dismisses with the stripped text, Escape with None.

    An empty answer is refused in place (the dialog stays open and says why), unless
    `allow_empty` is set. The initial `value` (a thread title: untrusted) is shown
    cleaned, with its controls, bidi and zero-width characters as visible marks; Enter on
    it unchanged gives back the original value, so looking at a name never rewrites it.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    DEFAULT_CSS = DIALOG_CSS.format(cls="TextPromptDialog") + """
    TextPromptDialog #prompt-error {
        color: $error;
        height: auto;
    }
    TextPromptDialog #prompt-error.-empty {
        display: none;
    }
    """

    def __init__(
        self, title: str, value: str = "", *, placeholder: str = "", max_length: int = 0,
        allow_empty: bool = False, empty_message: str = "Please enter some text.",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.max_length = max_length
        self.allow_empty = allow_empty
        self.empty_message = empty_message
        self.shown_value = clean_line(value)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(plain(self.title_text), classes="dialog-title")
            yield Input(self.shown_value, placeholder=self.placeholder, max_length=self.max_length,
                        id="prompt-input")
            yield Label("", id="prompt-error", classes="-empty")
            yield Label(Text("Enter saves · Esc cancels", style="dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = (self.value if event.value == self.shown_value else event.value).strip()
        if not text and not self.allow_empty:
            error = self.query_one("#prompt-error", Label)
            error.update(self.empty_message)
            error.remove_class("-empty")
            self.app.bell()
            return
        self.dismiss(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#prompt-error", Label).add_class("-empty")

    def action_cancel(self) -> None:
        self.dismiss(None)
