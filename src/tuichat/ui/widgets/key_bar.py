"""The footer: the keys that work right now, on one line, drawn by one widget.

It looks like Textual's `Footer`, but `Footer` mounts a widget per key and mounts them all
again whenever the bindings may have changed (focus moves, a reply starts or ends), one
frame after the change; at start-up that cost a fifth of the time to the first screen and
drew the keys a frame late. This bar draws the keys in the first frame, and redraws only
when what it shows changes.
"""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget


class Key(NamedTuple):
    key: str  # what simulate_key presses when the key is clicked
    display: str
    description: str
    enabled: bool


class KeyBar(Widget):
    """Every shown binding of the focused widget, its screen and the app, left to right;
    the command palette's key on the right. A click presses the key."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-bar--key", "key-bar--description", "key-bar--separator"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-bar--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-bar--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-bar--separator {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[tuple[Key, ...], Key | None] | None = None
        self._spans: list[tuple[int, int, Key]] = []  # cells each key covers, for clicks

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen and self.keys() != self._shown:
            self.refresh()

    def keys(self) -> tuple[tuple[Key, ...], Key | None]:
        """(the keys on the left, the command palette's key or None)."""
        app = self.app
        active = self.screen.active_bindings
        palette: Key | None = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            _node, binding, enabled, _tip = active[app.COMMAND_PALETTE_BINDING]
            palette = self._key(binding, enabled)
        seen: set[str] = set()
        left = []
        for _node, binding, enabled, _tip in active.values():
            # One entry per action, as Textual's Footer does (the first key bound to it).
            if not binding.show or binding.action in seen or binding.key == app.COMMAND_PALETTE_BINDING:
                continue
            seen.add(binding.action)
            left.append(self._key(binding, enabled))
        return tuple(left), palette

    def _key(self, binding: Binding, enabled: bool) -> Key:
        return Key(binding.key, self.app.get_key_display(binding), binding.description, enabled)

    def render(self) -> Text:
        self._shown = left, palette = self.keys()
        width = self.size.width
        key_style = self.get_component_rich_style("key-bar--key", partial=True)
        text_style = self.get_component_rich_style("key-bar--description", partial=True)
        line = Text(no_wrap=True, overflow="crop", end="")
        spans: list[tuple[int, int, Key]] = []
        tail = Text(no_wrap=True, end="")
        if palette is not None:
            tail.append("▏", self.get_component_rich_style("key-bar--separator"))
            tail.append(palette.display, key_style)
            tail.append(f" {palette.description} ", text_style)
        room = max(0, width - tail.cell_len)
        for key in left:
            start = line.cell_len
            if start >= room:
                break
            self._append(line, key, key_style, text_style)
            spans.append((start, min(line.cell_len, room), key))
        line.truncate(room, overflow="crop", pad=True)
        if palette is not None:
            spans.append((room + 1, width, palette))
            line.append_text(tail)
        self._spans = spans
        return line

    @staticmethod
    def _append(line: Text, key: Key, key_style, text_style) -> None:  # noqa: ANN001 - rich styles
        start = line.cell_len
        line.append(f" {key.display} ", key_style)
        if key.description:
            line.append(f"{key.description} ", text_style)
        if not key.enabled:
            line.stylize("dim", start)

    def key_at(self, x: int) -> Key | None:
        for start, end, key in self._spans:
            if start <= x < end:
                return key
        return None

    def on_click(self, event: events.Click) -> None:
        key = self.key_at(event.x)
        if key is None:
            return
        event.stop()
        if key.enabled:
            self.app.simulate_key(key.key)
        else:
            self.app.bell()
