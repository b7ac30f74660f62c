"""The Textual app: wiring only. Screen logic lives in ui/screens."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable

from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from tuichat.config import Settings
from tuichat.core.models import Persona, Thread
from tuichat.providers.base import Provider
from tuichat.servers import default_server
from tuichat.session import ChatSession
from tuichat.session.pricing import Pricing
from tuichat.session.servers import ServerPool
from tuichat.session.workspace import Workspace
from tuichat.store import Store
from tuichat.store.async_store import AsyncStore
from tuichat.ui.screens.chat import ChatScreen


# How long a SIGTERM/SIGHUP waits for the reply's final write before exiting anyway.
TERMINATE_SAVE_SECONDS = 5.0


def _palette_commands() -> type:
    # Imported when the palette first opens: textual.command is not needed to start.
    from tuichat.ui.palette import TuichatCommands

    return TuichatCommands


class TuichatApp(App[None]):
    """tuichat's application object: holds the store, the settings, the personas and the
    session; the chat screen does the rest."""

    TITLE = "tuichat"
    CSS_PATH = "tuichat.tcss"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {_palette_commands}
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        personas: dict[str, Persona],
        persona: Persona,
        provider_factory: Callable[[], Provider],
        api_key: str,
        key_note: str = "",
        model_override: str | None = None,
        thread: Thread | None = None,
        servers: ServerPool | None = None,
    ) -> None:
        super().__init__()
        # The sync store is for code that runs before the app or in threads; everything on
        # the event loop goes through `db`, whose one thread runs the SQLite calls, so a
        # lock held by another process never freezes typing, scrolling or Esc.
        self.store = store
        self.db = AsyncStore(store)
        self.settings = settings
        self.personas = personas
        self.start_persona = persona
        self.api_key = api_key
        self.key_note = key_note
        self.model_override = model_override
        self.start_thread = thread
        self._provider_factory = provider_factory
        # The conversation layer: replies in flight (they outlive a thread switch), the
        # session that sends, and every read and write the screens need. The price table
        # applies as the start server's host says (--server may name another than config's).
        start = servers.start if servers is not None else default_server(settings)
        self.ws = Workspace(self.db, provider_factory, auto_title=lambda: self.settings.auto_title,
                            pricing=Pricing(settings.prices, start.base_url), budget=settings.budget,
                            context_window=settings.context_window, servers=servers)
        self._terminating = 0  # the signal being handled, once one arrives
        self._warm_up_worker: Worker[None] | None = None
        # The server's model list (GET /models), fetched once when first needed; None
        # until it arrives. [] when the server has none or the request failed.
        self.server_models: list[str] | None = None
        # The same for the other named servers ([servers.NAME]), by name, as they arrive.
        self.other_models: dict[str, list[str]] = {}
        self._models_worker: Worker[None] | None = None
        self._bad_theme = bool(settings.theme) and settings.theme not in self.available_themes
        # The theme last picked in the app (Ctrl+P, "Change theme") wins over config.toml's.
        # Read here, before the app runs (never on its event loop), so the first frame
        # already has it.
        kept = _kept_theme(store)
        if kept and kept in self.available_themes:
            self.theme = kept
        elif settings.theme and not self._bad_theme:
            self.theme = settings.theme
        if settings.keymap:
            self.set_keymap(settings.keymap)

    @property
    def session(self) -> ChatSession:
        return self.ws.session

    @property
    def _session(self) -> ChatSession | None:
        return self.ws.session if self.ws.has_session else None

    @property
    def server_label(self) -> str:
        """host[:port] of the start server (never the password of a user:password@ URL)."""
        return self.ws.server_label(None) or default_server(self.settings).label

    def model_for(self, persona: Persona | None) -> str:
        """--model wins, then the persona's model, then config.toml's."""
        return self.model_override or (persona.model if persona else None) or self.settings.model

    def get_default_screen(self) -> ChatScreen:
        # The chat screen is the bottom of the stack, not pushed over an empty default
        # screen: that one would be composed, laid out and drawn first, for nothing.
        thread = self.start_thread
        persona = self.personas.get(thread.persona) if thread is not None else self.start_persona
        return ChatScreen(self.ws, persona=persona, model=self.model_for(persona), thread=thread)

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        # Everything alive after the first frame lives as long as the app: keep it out
        # of the garbage collector's full passes, which otherwise stall streaming.
        self.call_after_refresh(gc.freeze)
        self._handle_termination()
        if self._bad_theme:
            themes = ", ".join(sorted(self.available_themes))
            self.notify(f"Unknown theme {self.settings.theme!r} in config.toml; available: {themes}",
                        title="config.toml", severity="warning", timeout=10, markup=False)

    def _theme_changed(self, theme: object) -> None:
        name = self.theme
        self.run_worker(self.ws.set_pref("theme", name), group="prefs", exit_on_error=False)

    async def action_quit(self) -> None:
        """Quit; while replies are generating, ask first (they are saved as stopped)."""
        count = len(self.ws.replies)
        if not count:
            self.exit()
            return
        from tuichat.ui.screens.dialogs import ConfirmDialog

        what = "A reply is" if count == 1 else f"{count} replies are"

        async def answered(confirmed: bool | None) -> None:
            if confirmed:
                await self.ws.stop_all()
                self.exit()

        await self.push_screen(ConfirmDialog(
            "Quit tuichat?", f"{what} still generating. Quit and keep them as stopped replies?",
            confirm_label="Quit", destructive=True), answered)

    def _handle_termination(self) -> None:
        """SIGTERM (kill, a logout) and SIGHUP (the terminal closed) end the app the way
        Ctrl+Q does: the reply is saved, as "interrupted", and Textual puts the terminal
        back (normal screen, mouse off, cursor on). Python's default for both is to die on
        the spot, leaving the terminal in the alternate screen with the mouse on."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(signum, self._terminate, signum)
            except (NotImplementedError, RuntimeError, ValueError):
                return  # not the main thread (tests), or no signals here (Windows)

    def _terminate(self, signum: int) -> None:
        if self._terminating:
            return  # a second signal while saving: the first one is already on its way out
        self._terminating = signum
        if self._session is not None:
            self._session.interrupt()
        self.run_worker(self._save_and_exit(), name="terminate", exit_on_error=False)

    async def _save_and_exit(self) -> None:
        try:
            # Bounded: a database locked elsewhere must not keep a killed app alive.
            await asyncio.wait_for(self.ws.stop_all(), TERMINATE_SAVE_SECONDS)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - exiting regardless
            pass
        finally:
            self.exit(return_code=128 + self._terminating)

    def warm_up(self) -> None:
        """Load what the first send and the first reply need, in a worker thread, once:
        the SDK and its client (~0.4 s of imports, ~30 MB) and the Markdown renderer.
        Started when the user starts typing (or a draft comes back), so the first send
        does not wait for the import; never at start-up, so the first screen is not
        slowed and an app only browsing history never pays the SDK's memory. The thread
        takes the interpreter lock in 5 ms slices, so typing stays responsive meanwhile
        (bench/startup.py measures the event loop's worst stall)."""
        if self._warm_up_worker is None:
            provider = self.session.provider  # the session is made here, on the loop
            pricing = self.ws.pricing

            def warm_up() -> None:
                provider.warm_up()
                from tuichat.ui.markdown_doc import warm_up as markdown

                markdown()
                if pricing is not None:
                    pricing.warm_up()

            self._warm_up_worker = self.run_worker(warm_up, thread=True, name="warm-up", exit_on_error=False)
            # The model's context window, asked of the server now, so the first send
            # need not wait for it (the send waits for the same answer, if still due).
            self.run_worker(self._detect_window(), name="context-window", exit_on_error=False)

    async def _detect_window(self) -> None:
        screen = self.screen_stack[0] if self.screen_stack else None
        conv = getattr(screen, "conv", None)
        if conv is None:
            return
        provider = await self.ws.provider_for(conv.server)
        detect = getattr(provider, "context_window", None)
        if detect is not None:
            await detect(conv.model)

    def request_server_models(self) -> bool:
        """Start fetching the server's model list, once. True while it is on its way."""
        if self.server_models is not None:
            return False
        if not self.api_key:
            self.server_models = []  # nothing may be sent without a key
            return False
        if self._models_worker is None:
            self._models_worker = self.run_worker(
                self._fetch_models(), name="models", group="models", exit_on_error=False
            )
        return True

    async def _fetch_models(self) -> None:
        pool = self.ws.servers
        if pool is not None:
            for name in pool.names:
                if not pool.owns(name):
                    self.run_worker(self._fetch_other_models(name), group="models", exit_on_error=False)
        list_models = getattr(self.session.provider, "list_models", None)
        names: list[str] = []
        try:
            if list_models is not None:
                names = list(await list_models())
        finally:
            # Even a failed fetch settles the list: the pickers stop waiting for it.
            self.server_models = names
            from tuichat.ui.screens.model_picker import ModelPicker

            for screen in self.screen_stack:
                if isinstance(screen, ModelPicker):
                    screen.add_models(names)

    async def _fetch_other_models(self, server: str) -> None:
        """Another named server's model list, for the picker (with that server's key)."""
        from tuichat.session.servers import option_id
        from tuichat.ui.screens.model_picker import ModelPicker

        names: list[str] = []
        try:
            provider = await self.ws.provider_for(server)
            list_models = getattr(provider, "list_models", None)
            names = list(await list_models()) if list_models is not None else []
        finally:
            self.other_models[server] = names
            for screen in self.screen_stack:
                if isinstance(screen, ModelPicker):
                    screen.add_models([option_id(name, server) for name in names], source=server)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._warm_up_worker and event.state in (
            WorkerState.SUCCESS, WorkerState.ERROR
        ):
            # Textual, the SDK and pydantic leave a few hundred thousand long-lived objects
            # behind. Freezing them keeps them out of every later collection: a full
            # collection while streaming otherwise stops the UI for ~100 ms.
            gc.freeze()

    async def on_unmount(self) -> None:
        # The chat screen has stopped its reply and queued its last draft save by now
        # (screens unmount first): let the database thread finish them, off the loop
        # (each waits at most busy_timeout), then stop it. The store itself belongs to
        # whoever opened it (the CLI closes it after the app).
        await self.ws.stop_all()
        await asyncio.to_thread(self.db.detach)
        if self._session is not None:
            await self._session.provider.aclose()
        if self.ws.servers is not None:
            await self.ws.servers.aclose()

    def _fatal_error(self) -> None:
        # Textual's crash report prints every frame's locals, which may hold the user's
        # draft or a reply; tuichat's shows the traceback only.
        from rich.segment import Segments
        from rich.traceback import Traceback

        self.bell()
        traceback = Traceback(show_locals=False, width=None)
        self._exit_renderables.append(Segments(self.console.render(traceback, self.console.options)))
        self._close_messages_no_wait()


def _kept_theme(store: Store) -> str | None:
    try:
        return store.get_pref("theme")
    except Exception:  # noqa: BLE001 - a preference is never worth failing to start
        return None
