"""The frame the pickers share (persona, model, code block): a centred bordered box over
the current screen, Escape to close with None."""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen

Choice = TypeVar("Choice")


class PickerScreen(ModalScreen[Choice | None]):
    """A modal box; subclasses compose a `Vertical` with their list and dismiss with the
    choice. Textual's type selectors match base classes, so this CSS frames them all."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]

    DEFAULT_CSS = """
    PickerScreen {
        align: center middle;
    }
    PickerScreen > Vertical {
        width: 72;
        max-width: 90%;
        height: auto;
        max-height: 80%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    PickerScreen OptionList {
        height: auto;
        max-height: 20;
    }
    """

    def action_cancel(self) -> None:
        self.dismiss(None)
