"""Slash commands typed in the composer: parsing and completion. Pure: no UI, no I/O.

The chat screen asks `parse` what the composer text means before sending anything, so a
mistyped command is answered instead of being sent to the model. A message that really
starts with "/" is written with two ("//etc is a folder" sends "/etc is a folder").
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CommandSpec:
    """One slash command: its name, how to call it and what it does."""

    name: str
    usage: str  # the argument part, e.g. "NAME" or "[persona]"; "" for none
    help: str
    arg: str  # "none", "optional" or "required"
    single_word: bool = False  # the argument is one name (a persona, a model, a format)
    choices: tuple[str, ...] = ()  # the only accepted arguments, when fixed
    keep_lines: bool = False  # the argument keeps its newlines (a system prompt)

    @property
    def handler(self) -> str:
        """The chat screen's method that carries it out (ui/screens/chat_commands.py)."""
        return f"slash_{self.name}"


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("new", "[persona]", "start a new thread (with that persona, or pick one)", "optional", True),
    CommandSpec("reset", "", "a fresh thread with the same persona and model", "none"),
    CommandSpec("persona", "NAME", "a new thread with persona NAME (no name: pick one)", "optional", True),
    CommandSpec("model", "NAME", "use model NAME in this thread from the next message on", "optional", True),
    CommandSpec("title", "TEXT", "rename this thread", "required"),
    CommandSpec("export", "md|json", "write this thread to a file (Markdown by default)", "optional", True,
                ("md", "json")),
    CommandSpec("search", "TEXT", "search every thread", "optional"),
    CommandSpec("system", "[TEXT]", "show this thread's system prompt, or set it for this thread", "optional",
                keep_lines=True),
    CommandSpec("usage", "", "tokens and speed of this thread's replies, in total", "none"),
    CommandSpec("compact", "[undo]", "summarise the earlier part of this thread into one message, sent in its "
                "place (undo: send the original messages again)", "optional", True, ("undo",)),
    CommandSpec("balance", "", "what this month's budget has left ([budget] in config.toml)", "none"),
    CommandSpec("help", "", "every key and command", "none"),
)

BY_NAME = {spec.name: spec for spec in COMMANDS}
# Commands whose argument Tab completes, and the kind of name it completes to.
ARG_COMPLETION = {"new": "persona", "persona": "persona", "model": "model", "export": "format"}


@dataclass(frozen=True)
class SendText:
    """Not a command: send `text` to the model (with a leading "//" already unescaped)."""

    text: str


@dataclass(frozen=True)
class Command:
    """A well-formed command. `arg` is "" when none was given."""

    name: str
    arg: str = ""


@dataclass(frozen=True)
class CommandError:
    """What was typed looks like a command but is not a valid one. `message` says why,
    in one or two plain lines; the text must stay in the composer."""

    message: str


Parsed = SendText | Command | CommandError


def command_list() -> str:
    """Every command with its usage, one per line (for /help and unknown commands)."""
    rows = [(f"/{spec.name} {spec.usage}".rstrip(), spec.help) for spec in COMMANDS]
    width = max(len(usage) for usage, _ in rows)
    lines = [f"{usage.ljust(width)}  {help_}" for usage, help_ in rows]
    lines.append(f"{'//text'.ljust(width)}  send a message that starts with /")
    return "\n".join(lines)


def matching(prefix: str) -> list[CommandSpec]:
    """The commands whose name starts with `prefix` (case-insensitive), in table order."""
    lowered = prefix.lower()
    return [spec for spec in COMMANDS if spec.name.startswith(lowered)]


def parse(text: str) -> Parsed:
    """What the composer text means: a message to send, a command, or a mistake."""
    if text.startswith("//"):
        return SendText(text[1:])
    if not text.startswith("/"):
        return SendText(text)
    head, _, rest = text[1:].partition("\n")
    name, _, arg = head.partition(" ")
    spec = BY_NAME.get(name.lower())
    # Everything after the name is the argument, including further lines (folded into
    # one line, except for a system prompt).
    if spec is not None and spec.keep_lines:
        arg = f"{arg}\n{rest}".strip() if rest else arg.strip()
    else:
        arg = " ".join(f"{arg}\n{rest}".split())
    if spec is None:
        return CommandError(
            f"Unknown command /{name}. Nothing was sent. Commands:\n{command_list()}"
        )
    usage = f"/{spec.name} {spec.usage}".rstrip()
    if spec.arg == "none" and arg:
        return CommandError(f"/{spec.name} takes no argument. Usage: {usage}")
    if spec.arg == "required" and not arg:
        return CommandError(f"/{spec.name} needs an argument. Usage: {usage}")
    if spec.single_word and len(arg.split()) > 1:
        return CommandError(f"/{spec.name} takes one name, not several words. Usage: {usage}")
    if spec.choices and arg and arg.lower() not in spec.choices:
        return CommandError(f"/{spec.name}: unknown choice {arg!r}. Usage: {usage}")
    if spec.choices:
        arg = arg.lower()
    return Command(spec.name, arg)


@dataclass(frozen=True)
class Completion:
    """The result of Tab: the new composer text (None: leave it) and the candidates
    (more than one: show them, so the user knows what to type next)."""

    text: str | None
    candidates: list[str] = field(default_factory=list)


def complete(text: str, personas: Iterable[str] = (), models: Iterable[str] = ()) -> Completion | None:
    """Complete a command name ("/mo" -> "/model ") or its argument ("/persona oj" ->
    "/persona ojousama"). None when `text` is not something Tab completes."""
    if not text.startswith("/") or text.startswith("//") or "\n" in text:
        return None
    if " " not in text:
        names = [spec.name for spec in COMMANDS]
        found = _complete_word(text[1:], names)
        if found is None:
            return Completion(None, [])
        word, candidates = found
        if len(candidates) == 1:
            spec = BY_NAME[word]
            return Completion("/" + word + (" " if spec.arg != "none" else ""), candidates)
        return Completion("/" + word, candidates)
    name, _, arg = text[1:].partition(" ")
    kind = ARG_COMPLETION.get(name.lower())
    if kind is None or " " in arg.strip() or arg != arg.lstrip():
        return None
    pool = {"persona": personas, "model": models, "format": BY_NAME["export"].choices}[kind]
    found = _complete_word(arg, list(dict.fromkeys(pool)))
    if found is None:
        return Completion(None, [])
    word, candidates = found
    return Completion(f"/{name} {word}", candidates)


def _complete_word(prefix: str, words: list[str]) -> tuple[str, list[str]] | None:
    """The longest common extension of `prefix` among `words` (case-insensitive), and the
    words that match; None when nothing matches."""
    lowered = prefix.lower()
    matches = sorted(w for w in words if w.lower().startswith(lowered))
    if not matches:
        return None
    if len(matches) == 1:
        return matches[0], matches
    common = os.path.commonprefix(matches)
    if len(common) < len(prefix):
        # Matches differ in case only after the typed part: keep what was typed.
        common = prefix
    return common, matches


def export_filename(title: str, thread_id: int, fmt: str) -> str:
    """A file name for an exported thread, from its title: letters of any script, digits,
    "-" and "_" kept, everything else folded into "-" (no path separators, no dot files)."""
    slug = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in title)
    slug = "-".join(part for part in slug.split("-") if part)[:60].strip("-_")
    return f"{slug or f'thread-{thread_id}'}.{fmt}"
