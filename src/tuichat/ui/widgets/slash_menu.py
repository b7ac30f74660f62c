"""The slash-command menu: as soon as "/" is typed, the commands that match what follows,
each with its one-line description, right above the composer."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tuichat.commands import CommandSpec, matching

MAX_ROWS = 8


def menu_text(text: str) -> str | None:
    """The command prefix the menu filters by, or None when `text` is not the start of
    a command name ("/mo" -> "mo"; "//x", "/model x" and multi-line text are not)."""
    if not text.startswith("/") or text.startswith("//") or " " in text or "\n" in text:
        return None
    return text[1:]


def completion_for(spec: CommandSpec) -> str:
    """What the composer holds once a command is picked: "/model " takes an argument,
    "/help" does not."""
    return f"/{spec.name}" + (" " if spec.arg != "none" else "")


class SlashMenu(OptionList):
    """Hidden until the composer holds "/" and the start of a command name. The screen
    routes Up/Down, Tab/Enter and Esc to it while it is shown; a click picks a command
    (posts `Picked`). Descriptions are plain text, cut with "…" by cell width."""

    DEFAULT_CSS = """
    SlashMenu {
        display: none;
        height: auto;
        max-height: 10;
        margin: 0 1;
        border: round $accent;
        border-title-color: $accent;
        background: $surface;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    @dataclass
    class Picked(Message):
        """A command was clicked: `text` is the composer text it completes to."""

        text: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "commands"
        self._specs: list[CommandSpec] = []

    def update_for(self, text: str) -> bool:
        """Show the commands matching `text`; hide for anything else. True if shown."""
        prefix = menu_text(text)
        if prefix is None:
            self.close()
            return False
        specs = matching(prefix)
        if specs == self._specs and self.display:
            return True
        self._specs = specs
        if specs:
            width = max(len(f"/{s.name} {s.usage}".rstrip()) for s in specs)
            options = []
            for spec in specs:
                line = Text(no_wrap=True, overflow="ellipsis")
                line.append(f"/{spec.name} {spec.usage}".rstrip().ljust(width), style="bold")
                line.append(f"  {spec.help}", style="dim")
                options.append(Option(line, id=spec.name))
            self.set_options(options)
            self.highlighted = 0
        else:
            self.set_options([Option(Text(f"no command starts with /{prefix}", style="italic"),
                                     disabled=True)])
        self.styles.max_height = min(MAX_ROWS, max(1, len(specs))) + 2
        self.display = True
        return True

    def move(self, delta: int) -> None:
        if self._specs:
            current = self.highlighted or 0
            self.highlighted = (current + delta) % len(self._specs)

    def completion(self) -> str | None:
        """The highlighted command as composer text, or None (nothing matches)."""
        if not self.display or not self._specs:
            return None
        index = self.highlighted if self.highlighted is not None else 0
        return completion_for(self._specs[index])

    def close(self) -> None:
        self.display = False
        self._specs = []

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            spec = next((s for s in self._specs if s.name == event.option.id), None)
            if spec is not None:
                self.post_message(self.Picked(completion_for(spec)))
