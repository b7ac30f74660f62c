"""F1 and /help: every key, as the user remapped it, and every slash command."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Rows = list[tuple[str, list[tuple[str, str]]]]


class HelpScreen(ModalScreen[None]):
    """Sections of (keys, what they do); Esc, F1 or q closes it."""

    BINDINGS = [Binding("escape,f1,q", "close", "Close", id="help.close")]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen .help-section { text-style: bold; margin-top: 1; color: $text-accent; }
    """

    def __init__(self, sections: Rows) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys and commands · Esc closes"
            for title, rows in self.sections:
                yield Static(Text(title), classes="help-section")
                width = min(24, max((len(keys) for keys, _ in rows), default=0))
                body = Text()
                for keys, what in rows:
                    body.append(keys.ljust(width), style="bold")
                    body.append(f"  {what}\n")
                body.rstrip()
                yield Static(body)

    def action_close(self) -> None:
        self.dismiss(None)
