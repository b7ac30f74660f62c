"""The chat screen's slash commands, the menu that offers them, and the pickers.

The command table is `tuichat.commands.COMMANDS`: each entry names its handler, a
`slash_<name>` method here, so the menu, Tab completion and /help all read one table.
Whatever touches the database goes through the conversation layer, in a worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuichat.commands import BY_NAME, Command, CommandError, SendText, complete, parse
from tuichat.core.errors import TuichatError
from tuichat.core.text import clean_line, first_line, sanitize
from tuichat.core.tokens import money

if TYPE_CHECKING:
    from tuichat.ui.screens.chat import ChatScreen


class SlashCommands:
    """Runs what Enter submits: a slash command, or a message to send."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen

    def say(self, text: str) -> None:
        self.screen.say(text)

    # -- Enter ----------------------------------------------------------------------------------

    async def submit_text(self, text: str) -> None:
        """What Enter does: run a slash command, or send the text."""
        screen = self.screen
        parsed = parse(text)
        if isinstance(parsed, SendText):
            screen.sender.send(parsed.text, typed=text)
        elif isinstance(parsed, CommandError):
            # Never sent, and the text stays in the composer to be fixed.
            screen.app.bell()
            self.say(parsed.message)
        elif await self.run(parsed):
            screen.conv.editing = None  # the composer no longer holds the edited text
            screen.composer.clear()
            screen.update_status()

    async def run(self, command: Command) -> bool:
        """Carry out a parsed command. False when it could not be done (the command text
        then stays in the composer)."""
        handler = getattr(self, BY_NAME[command.name].handler)
        return bool(await handler(command.arg))

    # -- the handlers (one per entry of the command table) ------------------------------------

    async def slash_new(self, arg: str) -> bool:
        if not arg:
            self.pick_persona()
            return True
        return self.start_with_persona(arg)

    slash_persona = slash_new

    async def slash_reset(self, arg: str) -> bool:
        self.screen.action_reset()
        return True

    async def slash_model(self, arg: str) -> bool:
        if arg:
            await self.apply_model(arg)
        else:
            self.pick_model()
        return True

    async def slash_title(self, arg: str) -> bool:
        conv = self.screen.conv
        if conv.thread is None:
            self.say("Nothing to title yet: send a message first.")
            return False
        arg = arg[:200]  # as the rename dialog allows
        try:
            await conv.rename(arg)
        except TuichatError as exc:
            self.screen.report(exc, kept=True)
            return False
        except LookupError:  # deleted in another window meanwhile
            self.say("This thread no longer exists (deleted in another window).")
            return False
        self.screen.view.refresh_threads()
        self.screen.update_status()
        self.screen.notify(f"Renamed to {clean_line(first_line(arg, 60))}", timeout=3, markup=False)
        return True

    async def slash_export(self, arg: str) -> bool:
        if self.screen.conv.thread is None:
            self.say("Nothing to export yet: send a message first.")
            return False
        self.export(arg or "md")
        return True

    async def slash_search(self, arg: str) -> bool:
        self.screen.threads.search(arg)
        return True

    async def slash_help(self, arg: str) -> bool:
        self.open_help()
        return True

    async def slash_compact(self, arg: str) -> bool:
        """Summarise the earlier part of the thread (sent in its place), or undo that."""
        screen = self.screen
        if arg == "undo":
            try:
                undone = await screen.conv.uncompact()
            except TuichatError as exc:
                screen.report(exc, kept=True)
                return False
            if not undone:
                self.say("No summary is in force in this thread: nothing to undo.")
                return True
            await screen.view.show(screen.conv, keep_position=True)
            self.say("The summary is no longer sent: the messages it stood for are sent again (it stays in the "
                     "thread, marked undone).")
            return True
        return await screen.sender.compact()

    async def slash_balance(self, arg: str) -> bool:
        """This month's spending against the budget in config.toml."""
        try:
            balance = await self.screen.ws.balance()
        except TuichatError as exc:
            self.screen.report(exc, kept=True)
            return False
        if balance is None:
            self.say("No budget is set. Add one to config.toml, e.g.\n[budget]\ndollars = 20    # a month\n"
                     "tokens = 2000000")
            return True
        self.screen.layout_part.set_balance(balance)
        self.say(balance.long())
        return True

    async def slash_usage(self, arg: str) -> bool:
        """What this thread's replies used: tokens in and out, and their speed."""
        try:
            used = await self.screen.conv.usage()
        except TuichatError as exc:
            self.screen.report(exc, kept=True)
            return False
        if not used.replies:
            self.say("No replies in this thread have been counted yet.")
            return True
        replies = "1 reply" if used.replies == 1 else f"{used.replies:,} replies"
        line = f"This thread: {replies} · {used.prompt_tokens:,} tokens in · {used.completion_tokens:,} out"
        if used.cost is not None:
            line += f" · {money(used.cost)}"
        if used.speed is not None:
            line += f" · {used.speed:,.0f} tok/s on average"
        if used.estimated:
            line += f"\n≈ {used.estimated:,} of them estimated from the text: the server did not count them."
        self.say(line)
        return True

    async def slash_system(self, arg: str) -> bool:
        """No text: show the thread's system prompt. Text: use it for this thread (the
        persona file is untouched). "-" goes back to the persona's."""
        conv = self.screen.conv
        if not arg:
            prompt = conv.system_prompt
            whose = "this thread's own" if conv.has_own_system_prompt else (
                f"from persona {conv.persona.name}" if conv.persona else "none")
            self.say(f"System prompt ({whose}):\n{prompt or '(empty)'}\n\n"
                     "/system TEXT sets this thread's own; /system - goes back to the persona's.")
            return True
        text = None if arg.strip() == "-" else arg
        try:
            await conv.set_system_prompt(text)
        except TuichatError as exc:
            self.screen.report(exc, kept=True)
            return False
        except LookupError:
            self.say("This thread no longer exists (deleted in another window).")
            return False
        self.screen.view.refresh_threads()
        self.screen.update_status()
        self.say("This thread now uses the persona's system prompt again." if text is None else
                 "System prompt set for this thread (from the next message on; the persona is unchanged).")
        return True

    # -- models and personas -----------------------------------------------------------------------

    def known_models(self) -> list[tuple[str, str]]:
        """(option id, source) for the model picker: the thread's own server's models
        first, then every other named server's, whose ids name their server."""
        screen = self.screen
        app = screen.app
        settings = app.settings
        pool = screen.ws.servers
        from tuichat.session.servers import option_id
        from tuichat.ui.screens.model_picker import model_choices  # pickers load when first used

        def configured(name: str | None) -> list[str]:
            if pool is None or pool.owns(name):
                return [settings.model, *getattr(settings, "models", [])]
            return list(pool.server(name).models)

        def fetched(name: str | None) -> list[str]:
            if pool is None or pool.owns(name):
                return app.server_models or []
            return app.other_models.get(pool.server(name).name, [])

        current = screen.conv.server
        choices = model_choices(screen.model, configured(current),
                                screen.persona.model if screen.persona else None, fetched(current))
        if pool is not None:
            own = pool.server(current).name
            for name in pool.names:
                if name != own:
                    for model in dict.fromkeys([*configured(name), *fetched(name)]):
                        choices.append((option_id(model, name), name))
        return choices

    def pick_model(self) -> None:
        screen = self.screen
        asking = screen.app.request_server_models()
        from tuichat.ui.screens.model_picker import ModelPicker

        screen.app.push_screen(ModelPicker(self.known_models(), screen.model, asking_server=asking),
                               self._picked_model)

    def _picked_model(self, name: str | None) -> None:
        if name:
            self.screen.run_worker(self.apply_model(name), group="model", exit_on_error=False)
        self.screen.composer.focus()

    async def apply_model(self, name: str) -> None:
        """Use `name` for this thread (stored with it) from the next message on. A name
        picked from another server's list moves the thread to that server."""
        from tuichat.session.servers import parse_option

        model, server = parse_option(name.strip())
        model = model.strip()
        if not model:
            return
        screen = self.screen
        try:
            await screen.conv.set_model(model, server)
        except TuichatError as exc:
            screen.report(exc)
        except LookupError:
            pass  # the thread went away; the model still applies to the next one
        screen.update_status()
        where = f" on {clean_line(server)}" if server else ""
        screen.notify(f"Model: {clean_line(model)}{where} (from the next message on)", timeout=3, markup=False)

    def pick_persona(self) -> None:
        screen = self.screen
        current = screen.persona.name if screen.persona else None
        from tuichat.ui.screens.persona_picker import PersonaPicker

        screen.app.push_screen(PersonaPicker(screen.app.personas, current), self.picked_persona)

    def picked_persona(self, name: str | None) -> None:
        if name is None:
            return
        screen = self.screen
        persona = screen.app.personas[name]
        screen.view.switch(screen.ws.conversation(persona, screen.app.model_for(persona)))
        screen.composer.focus()

    def start_with_persona(self, name: str) -> bool:
        if name not in self.screen.app.personas:
            names = ", ".join(sorted(self.screen.app.personas))
            self.say(f"No persona named {name!r}. Installed: {names}")
            return False
        self.picked_persona(name)
        return True

    # -- export, help ------------------------------------------------------------------------------

    def export(self, fmt: str = "md") -> None:
        screen = self.screen
        if screen.conv.thread is None:
            screen.notify("Nothing to export yet: send a message first.", timeout=3)
            return
        screen.run_worker(self._export(fmt), group="export", exit_on_error=False)

    async def _export(self, fmt: str) -> None:
        screen = self.screen
        try:
            path = await screen.conv.export(fmt)
        except TuichatError as exc:
            screen.report(exc)
            return
        except LookupError:
            screen.notify("That thread no longer exists.", severity="warning")
            return
        except OSError as exc:
            screen.notify(f"Could not write the export: {exc.strerror or exc}", title="Export failed",
                          severity="error", timeout=8, markup=False)
            return
        self.say(f"Exported this thread to {path}")
        screen.notify(f"Exported to {path}", timeout=5, markup=False)

    def open_help(self) -> None:
        from tuichat.ui.palette import key_rows
        from tuichat.ui.screens.help import HelpScreen

        self.screen.app.push_screen(HelpScreen(key_rows(self.screen.app)))

    # -- the slash menu and Tab ----------------------------------------------------------------------

    def text_changed(self, text: str) -> None:
        """The menu follows what is typed: open on "/" + a command's start, closed otherwise."""
        menu = self.screen.slash_menu
        if text.startswith("/") or menu.display:
            menu.update_for(text)

    def accept_menu(self) -> bool:
        """Enter or Tab on the open menu: complete the highlighted command. False when
        the text is already that command (then Enter runs it)."""
        menu = self.screen.slash_menu
        completion = menu.completion()
        composer = self.screen.composer
        if completion is None or completion.rstrip() == composer.text.rstrip():
            menu.close()
            return False
        self.apply_completion(completion)
        return True

    def apply_completion(self, text: str) -> None:
        composer = self.screen.composer
        composer.text = text
        composer.move_cursor(composer.document.end)
        composer.focus()
        spec = BY_NAME.get(text.strip().lstrip("/"))
        if spec is not None and spec.arg == "none":
            self.screen.slash_menu.close()

    def complete(self) -> None:
        """Tab after "/" completes a command name, or a persona or model name."""
        screen = self.screen
        composer = screen.composer
        if screen.focused is not composer or not composer.text.startswith("/"):
            # Binding Tab here replaces Screen's own Tab binding (Textual merges bindings
            # per key), so do what that one did: move the focus.
            screen.app.action_focus_next()
            return
        # Someone completing commands may want /model next: start fetching the server's
        # names now (once per app), so they are there by the time they are asked for.
        screen.app.request_server_models()
        if screen.slash_menu.display and self.accept_menu():
            return
        models = [name for name, _ in self.known_models()]
        result = complete(composer.text, personas=screen.app.personas, models=models)
        if result is None:
            screen.app.action_focus_next()
            return
        # A completed model id comes from the server: the box shows it inert.
        completed = sanitize(result.text) if result.text is not None else None
        if completed is not None and completed != composer.text:
            composer.text = completed
            composer.move_cursor(composer.document.end)
        if len(result.candidates) > 1:
            screen.notify("  ".join(map(clean_line, result.candidates)), title="Completions", timeout=4,
                          markup=False)
        elif not result.candidates:
            screen.app.bell()

