"""tuichat's commands in the command palette (Ctrl+P).

The list is built from the bindings of the screen the palette was opened on and of the
app, when the palette opens, so a binding added anywhere later shows up here with its help
text and its current key (after [keymap] remapping). A few actions have no key of their
own (export, help, persona) and are listed in EXTRA_COMMANDS.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

from textual.app import App
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen

# (name, action, help) for actions reachable without a key of their own. An entry is
# offered only on a screen that has the action.
EXTRA_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Persona…", "pick_persona", "Start a new thread with a persona you choose"),
    ("Export as Markdown", "export('md')", "Write this thread to a .md file"),
    ("Export as JSON", "export('json')", "Write this thread to a .json file"),
    ("Search", "search", "Search every thread"),
    ("Help", "help", "List the slash commands and keys"),
)

# Already offered by Textual's own palette commands under the same name.
_SYSTEM_ACTIONS = {"quit"}


@dataclass(frozen=True)
class PaletteCommand:
    """One palette entry: what it is called, what it does, its keys, and the action run
    on `target` when it is chosen."""

    name: str
    help: str
    keys: str  # as displayed, e.g. "^g / ↑"; "" when it has no key
    action: str
    target: DOMNode


def _own_bindings(node: DOMNode, stop: type) -> Iterator[Binding]:
    """The BINDINGS declared by `node`'s classes below `stop` (Textual's own base class),
    in declaration order, subclasses first."""
    for cls in type(node).__mro__:
        if cls is stop:
            break
        for item in cls.__dict__.get("BINDINGS", ()):
            yield item if isinstance(item, Binding) else Binding(*item)


def _help(target: DOMNode, action: str, fallback: str) -> str:
    method = getattr(target, f"action_{action.split('(')[0]}", None)
    doc = (getattr(method, "__doc__", None) or "").strip()
    # The docstring's first paragraph says what the action does, for the user.
    first = " ".join(doc.split("\n\n")[0].split())
    return first.rstrip(".") if first else fallback


def _key_display(app: App[object], binding: Binding) -> str:
    keymap = getattr(getattr(app, "settings", None), "keymap", {}) or {}
    keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
    shown = []
    for key in keys.split(","):
        key = key.strip()
        if key:
            shown.append(app.get_key_display(Binding(key, binding.action)))
    return " / ".join(shown)


def _allowed(target: DOMNode, action: str) -> bool:
    try:
        return bool(target.check_action(action, ()))
    except Exception:  # a check that needs state the palette does not have: offer it
        return True


def screen_commands(screen: Screen[object], *, only_available: bool = True) -> list[PaletteCommand]:
    """The commands of `screen` and the app: one per binding description (several keys
    for the same thing are shown together), then EXTRA_COMMANDS the screen has."""
    app = screen.app
    found: dict[str, PaletteCommand] = {}
    sources = ((screen, Screen), (app, App))
    for target, stop in sources:
        for binding in _own_bindings(target, stop):
            if binding.system or binding.action in _SYSTEM_ACTIONS:
                continue
            if only_available and not _allowed(target, binding.action):
                continue
            name = binding.description or binding.action.replace("_", " ").capitalize()
            keys = _key_display(app, binding)
            if name in found:
                previous = found[name]
                found[name] = PaletteCommand(
                    name, previous.help, f"{previous.keys} / {keys}".strip(" /"),
                    previous.action, previous.target,
                )
                continue
            found[name] = PaletteCommand(
                name, _help(target, binding.action, name), keys, binding.action, target
            )
    actions = {command.action for command in found.values()}
    for name, action, help_text in EXTRA_COMMANDS:
        if action in actions or not hasattr(screen, f"action_{action.split('(')[0]}"):
            continue
        found.setdefault(name, PaletteCommand(name, help_text, "", action, screen))
    return list(found.values())


class TuichatCommands(Provider):
    """Every tuichat action, with its help text and key, for the command palette."""

    def _commands(self) -> list[PaletteCommand]:
        return screen_commands(self.screen)

    @staticmethod
    def _help(command: PaletteCommand) -> str:
        return f"{command.help} · {command.keys}" if command.keys else command.help

    @staticmethod
    def _run(command: PaletteCommand) -> partial[object]:
        return partial(command.target.run_action, command.action)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.name, self._run(command), help=self._help(command))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.name)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(command.name), self._run(command),
                    text=command.name, help=self._help(command),
                )


def key_rows(app: App[object]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The help screen's sections: the chat's keys (as remapped), the keys of the message
    box and the conversation, and the slash commands, all from their own tables."""
    from tuichat.commands import COMMANDS
    from tuichat.ui.screens.chat import ChatScreen
    from tuichat.ui.widgets.composer import Composer
    from tuichat.ui.widgets.thread_list import ThreadList
    from tuichat.ui.widgets.thread_panel import ThreadFilter
    from tuichat.ui.widgets.transcript import Transcript

    chat = next((s for s in app.screen_stack if isinstance(s, ChatScreen)), None)
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    if chat is not None:
        rows = [(c.keys or "—", c.help) for c in screen_commands(chat, only_available=False)]
        sections.append(("Everywhere in the chat", rows))
    for title, widget in (("In the message box", Composer), ("In the conversation", Transcript),
                          ("In the thread list and its filter", (ThreadList, ThreadFilter))):
        classes = widget if isinstance(widget, tuple) else (widget,)
        rows = []
        for cls in classes:
            for item in cls.__dict__.get("BINDINGS", ()):
                binding = item if isinstance(item, Binding) else Binding(*item)
                rows.append((_key_display(app, binding), binding.description or binding.action))
        sections.append((title, rows))
    sections.append(("Slash commands (type / in the message box)",
                     [(f"/{c.name} {c.usage}".rstrip(), c.help) for c in COMMANDS]))
    return sections
