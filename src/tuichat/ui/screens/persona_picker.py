"""Pick a persona for a new thread (Ctrl+N)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tuichat.core.models import Persona
from tuichat.core.text import clean_line
from tuichat.ui.screens.picker import PickerScreen


class PersonaPicker(PickerScreen[str]):
    """A list of personas; dismisses with the chosen name, or None on Escape."""

    def __init__(self, personas: dict[str, Persona], current: str | None = None) -> None:
        super().__init__()
        self.personas = personas
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for name, persona in sorted(self.personas.items()):
            label = Text()
            label.append(clean_line(name), style="bold")
            label.append("  ")
            label.append(clean_line(persona.description), style="dim")
            options.append(Option(label, id=name))
        with Vertical():
            yield Label("New thread with persona:")
            yield OptionList(*options, id="persona-options")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        if self.current in self.personas:
            options.highlighted = options.get_option_index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
