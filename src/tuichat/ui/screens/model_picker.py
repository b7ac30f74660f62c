"""Pick the model for the current thread (F4, /model, the palette).

It opens at once with the models tuichat knows from its own settings; the server's list
(GET /models, fetched once in the background by the app) is added when it arrives. Typing
filters the list; Enter on a name no list has uses the typed name as it is, since many
servers serve models they do not list.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tuichat.core.text import clean_line
from tuichat.session.servers import parse_option
from tuichat.ui.screens.picker import PickerScreen


def model_choices(
    current: str,
    configured: Iterable[str | None] = (),
    persona: str | None = None,
    server: Iterable[str] | None = None,
) -> list[tuple[str, str]]:
    """(model, where it comes from) without duplicates: the current one first, then
    config.toml's, the persona's, and the server's list."""
    seen: dict[str, str] = {}
    sources: list[tuple[Iterable[str | None], str]] = [
        ([current], "current"),
        (configured, "config"),
        ([persona], "persona"),
        (server or (), "server"),
    ]
    for names, source in sources:
        for name in names:
            if name and name not in seen:
                seen[name] = source
    return list(seen.items())


class ModelPicker(PickerScreen[str]):
    """A filterable list of models; dismisses with the chosen name, or None on Escape."""

    DEFAULT_CSS = """
    ModelPicker OptionList {
        max-height: 16;
    }
    ModelPicker #model-note {
        color: $text-muted;
    }
    """

    def __init__(self, choices: list[tuple[str, str]], current: str, *, asking_server: bool = False) -> None:
        super().__init__()
        self.choices = list(choices)
        self.current = current
        self.asking_server = asking_server

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Model for this thread, from the next message on:")
            yield Input(placeholder="type to filter, or a model name", id="model-filter")
            yield OptionList(id="model-options")
            yield Static("", id="model-note")

    def on_mount(self) -> None:
        self._fill()
        self.query_one(Input).focus()

    @property
    def shown(self) -> list[str]:
        """The model names listed right now (after the filter)."""
        options = self.query_one(OptionList)
        return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]

    def add_models(self, names: Iterable[str], source: str = "server") -> None:
        """Add names (the server's list, when it arrives); the filter and the highlighted
        name are kept."""
        known = {name for name, _ in self.choices}
        self.choices += [(name, source) for name in names if name and name not in known]
        self.asking_server = False
        if self.is_mounted:
            self._fill()

    def _fill(self) -> None:
        options = self.query_one(OptionList)
        previous = options.highlighted_option.id if options.highlighted_option else self.current
        typed = self.query_one(Input).value.strip().casefold()
        options.clear_options()
        for name, source in self.choices:
            if typed and typed not in name.casefold():
                continue
            label = Text(no_wrap=True, overflow="ellipsis")
            model, server = parse_option(name)  # another named server's model names it
            # Model ids come from the server's /models: shown inert, bidi and zero-width
            # characters as marks, so two names that look alike can be told apart.
            label.append(clean_line(model), style="bold" if name == self.current else "")
            label.append(f"  {clean_line(source) if server is None else 'on ' + clean_line(server)}", style="dim")
            options.add_option(Option(label, id=name))
        if options.option_count:
            ids = self.shown
            options.highlighted = ids.index(previous) if previous in ids else 0
        self._note(typed)

    def _note(self, typed: str) -> None:
        parts = []
        if not self.query_one(OptionList).option_count:
            parts.append("No listed model matches; Enter uses the typed name." if typed else "No models known.")
        if self.asking_server:
            parts.append("Asking the server for its models…")
        self.query_one("#model-note", Static).update(" ".join(parts))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._fill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one(OptionList)
        if options.highlighted_option is not None:
            self.dismiss(str(options.highlighted_option.id))
        elif event.value.strip():
            self.dismiss(event.value.strip())

    def on_key(self, event: events.Key) -> None:
        # Up and Down move through the list while the filter box keeps the focus.
        if event.key in ("up", "down") and self.query_one(Input).has_focus:
            event.stop()
            options = self.query_one(OptionList)
            if event.key == "up":
                options.action_cursor_up()
            else:
                options.action_cursor_down()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(str(event.option.id))
