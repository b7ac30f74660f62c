"""The chat screen's commands beyond sending: regenerate, edit-and-resend, model and
persona switching, slash commands, export and help.

A mixin for ChatScreen (kept apart so chat.py stays about the send lifecycle). It relies
on ChatScreen's attributes: app, thread, persona, model, generating, composer, transcript,
send(), show_thread(), update_status(), stop_reply(), begin_reply(), run_db(), report(),
_picked_persona(). Whatever reads or writes the database is awaited in a worker (the
store answers on its own thread), never called on the event loop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.actions import SkipAction

from tuichat import paths
from tuichat.commands import (
    Command,
    CommandError,
    SendText,
    command_list,
    complete,
    export_filename,
    parse,
)
from tuichat.core.errors import TuichatError
from tuichat.core.models import Message, Thread
from tuichat.core.text import clean_line, first_line, sanitize
from tuichat.ui.screens.model_picker import ModelPicker, model_choices
from tuichat.ui.screens.persona_picker import PersonaPicker

if TYPE_CHECKING:
    _Base = Any  # the ChatScreen this is mixed into
else:
    _Base = object


class ChatCommands(_Base):
    """Regenerate, edit, pickers and slash commands for the chat screen."""

    # The prompt being edited (its text is in the composer), or None. Enter then replaces
    # that prompt instead of adding a message.
    editing: Message | None = None

    # -- the send lock, as the send path applies it ------------------------------------------

    def refuse_busy(self) -> bool:
        """Ring and explain when a reply is generating (the send lock). True if refused."""
        if self.generating and self.stopping:
            # Stopped, but its final write waits for the database (another program holds it).
            self.app.bell()
            self.notify("The stopped reply is still being saved (the database is busy). Your draft is kept.",
                        title="Still saving", severity="warning", timeout=4)
            return True
        if self.generating:
            self.app.bell()
            self.notify("A reply is still generating. Press Esc to stop it; your draft is kept.",
                        title="Still generating", severity="warning", timeout=3)
            return True
        if not self.app.api_key:
            self.notify(self.app.key_note or "No API key is configured.", title="No API key",
                        severity="error", timeout=8, markup=False)
            return True
        return False

    def say(self, text: str) -> None:
        """A notice in the log (never markup: it may quote what the user typed)."""
        self.transcript.add_notice(text)

    # -- regenerate ----------------------------------------------------------------------------

    def action_regenerate(self) -> None:
        """Regenerate the last reply; the old one is kept, marked superseded."""
        if self.refuse_busy():
            return
        if self.thread is None:
            self.notify("Nothing to regenerate yet.", timeout=3)
            return
        self.editing = None
        thread = self.thread

        async def prepare() -> bool:
            # Refused (BusyElsewhereError, reported by the reply worker) while another
            # window is still writing a reply here.
            if await self.app.session.regenerate_prepare(thread) is None:
                self.notify("Nothing to regenerate yet.", timeout=3)
                return False
            return await self.show_thread(thread)  # the old reply now shows as superseded

        self.begin_reply(prepare)

    # -- edit the last prompt and send it again ----------------------------------------------

    def action_edit_last(self) -> None:
        """Edit your last message and send it again; the old one and its reply are kept,
        marked superseded."""
        self.start_edit()

    def action_edit_last_if_empty(self) -> None:
        """Up in an empty composer: edit the last message, as many chat clients do."""
        if self.focused is not self.composer or self.composer.text or self.thread is None:
            raise SkipAction()  # Up does what it always does
        self.start_edit()

    def start_edit(self) -> None:
        if self.refuse_busy():
            return
        if self.thread is None:
            self.notify("Nothing to edit yet: no message has been sent in this thread.", timeout=3)
            return
        self.run_db(self._start_edit(self.thread), group="edit")

    async def _start_edit(self, thread: Thread) -> None:
        prompt = await self.app.session.edit_prepare(thread)
        if self.thread is not thread or self.generating:
            return  # the user moved on while the prompt was read
        if prompt is None:
            self.notify("Nothing to edit yet: no message has been sent in this thread.", timeout=3)
            return
        if self.composer.text.strip():
            # Never overwrite a draft: the user clears or sends it first.
            self.app.bell()
            self.notify("The composer holds a draft. Send or clear it first, then edit.",
                        title="Draft kept", severity="warning", timeout=4)
            return
        self.editing = prompt
        # The text may be imported or pasted: the box shows its controls as symbols (␛)
        # and bidi overrides as marks, never raw; that shown text is what gets edited.
        self.composer.text = sanitize(prompt.content)
        self.composer.move_cursor(self.composer.document.end)
        self.composer.focus()
        self.update_status()  # says so on the composer's border, where the user is looking

    def cancel_edit(self, *, key: bool = False) -> None:
        """Leave edit mode. From a key (Esc), only while in the composer: elsewhere Esc
        keeps its own meaning (clearing the thread filter, say)."""
        if key and self.focused is not self.composer:
            raise SkipAction()
        prompt, self.editing = self.editing, None
        if prompt is not None and self.composer.text == sanitize(prompt.content):
            self.composer.clear()  # untouched: nothing of the user's is lost
        else:
            self.notify("Edit cancelled; your text stays in the composer.", timeout=3)
        self.update_status()

    def is_editing(self) -> bool:
        return (
            self.editing is not None and self.thread is not None
            and self.editing.thread_id == self.thread.id
        )

    async def _commit_edit(self, prompt: Message, text: str, typed: str) -> bool:
        """Store `text` in place of the prompt being edited (in the reply worker, before
        the reply). False when that prompt is no longer part of the thread (then the
        caller sends the text as a new message)."""
        thread = self.thread
        if thread is None or prompt.thread_id != thread.id:
            return False
        try:
            await self.app.session.edit_commit(thread, prompt.id, text)
        except LookupError:
            return False
        self.clear_sent(typed)  # stored above, so it may leave the screen
        await self.show_thread(thread)  # the old prompt and reply show as superseded
        self.refresh_threads()
        return True

    # -- models --------------------------------------------------------------------------------

    def known_models(self) -> list[tuple[str, str]]:
        settings = self.app.settings
        return model_choices(
            self.model,
            [settings.model, *getattr(settings, "models", [])],
            self.persona.model if self.persona else None,
            self.app.server_models,
        )

    def action_pick_model(self) -> None:
        """Choose the model for this thread, from the next message on."""
        asking = self.app.request_server_models()
        self.app.push_screen(ModelPicker(self.known_models(), self.model, asking_server=asking),
                             self._picked_model)

    def _picked_model(self, name: str | None) -> None:
        if name:
            self.apply_model(name)
        self.composer.focus()

    def apply_model(self, name: str) -> None:
        """Use `name` for this thread (stored with it) from the next message on."""
        name = name.strip()
        if not name:
            return
        self.model = name
        if self.thread is not None:
            self.thread.model = name
            self.run_db(self.app.db.set_model(self.thread.id, name))
        self.update_status()
        self.notify(f"Model: {clean_line(name)} (from the next message on)", timeout=3, markup=False)

    # -- personas ------------------------------------------------------------------------------

    async def action_pick_persona(self) -> None:
        """Start a new thread with a persona you choose."""
        await self.stop_reply()
        current = self.persona.name if self.persona else None
        self.app.push_screen(PersonaPicker(self.app.personas, current), self._picked_persona)

    async def start_with_persona(self, name: str) -> bool:
        if name not in self.app.personas:
            names = ", ".join(sorted(self.app.personas))
            self.say(f"No persona named {name!r}. Installed: {names}")
            return False
        await self.stop_reply()
        self._picked_persona(name)
        return True

    # -- export, search, help ----------------------------------------------------------------

    def action_export(self, fmt: str = "md") -> None:
        """Write this thread to a file (Markdown or JSON) and say where."""
        if self.thread is None:
            self.notify("Nothing to export yet: send a message first.", timeout=3)
            return
        self.run_db(self._export(self.thread, fmt), group="export")

    async def _export(self, open_thread: Thread, fmt: str) -> None:
        from tuichat.transfer.export import dumps, thread_to_json, thread_to_markdown

        thread = await self.app.db.get_thread(open_thread.id) or open_thread
        messages = await self.app.db.messages(thread.id)
        if fmt == "json":
            text = dumps(thread_to_json(thread, messages))
        else:
            fmt, text = "md", thread_to_markdown(thread, messages)
        try:
            path = _write_new(export_dir(), export_filename(thread.title, thread.id, fmt), text)
        except OSError as exc:
            self.notify(f"Could not write the export: {exc.strerror or exc}", title="Export failed",
                        severity="error", timeout=8, markup=False)
            return
        self.say(f"Exported this thread to {path}")
        self.notify(f"Exported to {path}", timeout=5, markup=False)

    def search_for(self, query: str) -> None:
        """Open the search screen (ChatScreen.action_search) with `query` typed in."""
        from tuichat.ui.screens.search import SearchScreen

        self.app.push_screen(SearchScreen(self.app.store, query, db=self.app.db), self._picked_hit)

    def action_help(self) -> None:
        """List the slash commands and keys in the log."""
        from tuichat.ui.palette import key_help

        self.say(f"Commands (type them in the message box):\n{command_list()}\n\n"
                 f"Keys (all also in the command palette, Ctrl+P):\n{key_help(self)}")

    # -- slash commands ------------------------------------------------------------------------

    async def submit_text(self, text: str) -> None:
        """What Enter does: run a slash command, or send the text."""
        parsed = parse(text)
        if isinstance(parsed, SendText):
            self.send(parsed.text, typed=text)
        elif isinstance(parsed, CommandError):
            # Never sent, and the text stays in the composer to be fixed.
            self.app.bell()
            self.say(parsed.message)
        elif await self.run_command(parsed):
            self.editing = None  # the composer no longer holds the edited text
            self.composer.clear()
            self.update_status()

    async def run_command(self, command: Command) -> bool:
        """Carry out a parsed command. False when it could not be done (the command text
        then stays in the composer)."""
        name, arg = command.name, command.arg
        if name in ("new", "persona"):
            if not arg:
                await self.action_pick_persona()
                return True
            return await self.start_with_persona(arg)
        if name == "reset":
            await self.action_reset()
        elif name == "model":
            if arg:
                self.apply_model(arg)
            else:
                self.action_pick_model()
        elif name == "title":
            if self.thread is None:
                self.say("Nothing to title yet: send a message first.")
                return False
            arg = arg[:200]  # as the rename dialog allows
            try:
                await self.app.db.set_title(self.thread.id, arg)
            except TuichatError as exc:
                self.report(exc, kept=True)
                return False
            except LookupError:  # deleted in another window meanwhile
                self.say("This thread no longer exists (deleted in another window).")
                return False
            self.thread.title = self.thread_title = arg
            self.refresh_threads()
            self.update_status()
            self.notify(f"Renamed to {clean_line(first_line(arg, 60))}", timeout=3, markup=False)
        elif name == "export":
            if self.thread is None:
                self.say("Nothing to export yet: send a message first.")
                return False
            self.action_export(arg or "md")
        elif name == "search":
            self.search_for(arg)
        elif name == "help":
            self.action_help()
        return True

    def action_complete(self) -> None:
        """Tab after "/" completes a command name, or a persona or model name."""
        composer = self.composer
        if self.focused is not composer or not composer.text.startswith("/"):
            # Binding Tab here replaces Screen's own Tab binding (Textual merges bindings
            # per key), so do what that one did: move the focus.
            self.app.action_focus_next()
            return
        # Someone completing commands may want /model next: start fetching the server's
        # names now (once per app), so they are there by the time they are asked for.
        self.app.request_server_models()
        models = [name for name, _ in self.known_models()]
        result = complete(composer.text, personas=self.app.personas, models=models)
        if result is None:
            self.app.action_focus_next()
            return
        # A completed model id comes from the server: the box shows it inert, as the
        # edit box does (a raw ESC in a TextArea reaches the terminal as it is).
        completed = sanitize(result.text) if result.text is not None else None
        if completed is not None and completed != composer.text:
            composer.text = completed
            composer.move_cursor(composer.document.end)
        if len(result.candidates) > 1:
            # Model names come from the server: inert, like everywhere else.
            self.notify("  ".join(map(clean_line, result.candidates)), title="Completions", timeout=4,
                        markup=False)
        elif not result.candidates:
            self.app.bell()


def export_dir() -> Path:
    """Where /export writes: the current directory, or the data dir if that is read-only."""
    cwd = Path.cwd()
    if os.access(cwd, os.W_OK):
        return cwd
    folder = paths.data_dir() / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_new(folder: Path, name: str, text: str) -> Path:
    """Write `text` to folder/name, or name-2, name-3, ... : never over an existing file."""
    stem, dot, ext = name.rpartition(".")
    for n in range(1, 1000):
        path = folder / (name if n == 1 else f"{stem}-{n}{dot}{ext}")
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"too many exports named {name} in {folder}")
