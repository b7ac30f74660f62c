"""The chat screen: thread list, transcript, composer, and the keys that reach them.

The screen composes and lays out; its parts do the work, each in its own module:
`ThreadView` (what the transcript shows, other windows' changes), `Sender` (send, retry,
regenerate, edit, and how a reply ends), `SlashCommands` (the command table's handlers,
pickers, export), `ThreadActions` (open, rename, delete, search, copy) and `DraftKeeper`.
The thread's state and actions live in the conversation layer (`self.conv`); the screen
never calls the store.
"""

from __future__ import annotations

from textual import events
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from tuichat.core.budget import Balance
from tuichat.core.models import Persona, Thread
from tuichat.session.conversation import Conversation
from tuichat.session.workspace import Workspace
from tuichat.ui.compositor import CroppingCompositor
from tuichat.ui.screens.chat_commands import SlashCommands
from tuichat.ui.screens.chat_drafts import DraftKeeper
from tuichat.ui.screens.chat_keys import CHAT_BINDINGS, escape, escape_target
from tuichat.ui.screens.chat_layout import GENERATING, IDLE, STOPPING, WIDE, ScreenLayout
from tuichat.ui.screens.chat_send import Sender
from tuichat.ui.screens.chat_threads import ThreadActions
from tuichat.ui.screens.chat_view import ThreadView
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.key_bar import KeyBar
from tuichat.ui.widgets.slash_menu import SlashMenu
from tuichat.ui.widgets.thread_list import ThreadList
from tuichat.ui.widgets.thread_panel import ThreadPanel
from tuichat.ui.widgets.transcript import Transcript

__all__ = ["ChatScreen", "WIDE"]


class ChatScreen(Screen[None]):
    """One conversation at a time, with the history beside it."""

    BINDINGS = CHAT_BINDINGS
    # The composer has the focus from the first frame on. (Textual's default focuses the
    # first focusable widget, the thread filter, and moving the focus on costs a restyle
    # and a redraw before the first screen is complete.)
    AUTO_FOCUS = "#composer"

    send_lock: reactive[str] = reactive(IDLE, init=False)
    """The open thread's send lock, as the screen shows it: idle, generating or stopping
    (stopped, its final write under way). Owned by the conversation layer; `sync_lock`
    copies it here and `watch_send_lock`, the one watcher, updates keys, footer and status."""

    def __init__(self, ws: Workspace, *, persona: Persona | None, model: str, thread: Thread | None = None) -> None:
        super().__init__()
        # While a reply streams, only the transcript's changed lines are drawn (see
        # ui/compositor.py), not every line of every widget beside it.
        self._compositor = CroppingCompositor()
        self.ws = ws
        self.conv: Conversation = ws.conversation(persona, model, thread)
        self.view = ThreadView(self)
        self.sender = Sender(self)
        self.commands = SlashCommands(self)
        self.threads = ThreadActions(self)
        self.drafts = DraftKeeper(self)
        self.layout_part = ScreenLayout(self)
        self.ready = False  # the start-up reads (thread list, open thread, draft) are done
        self.balance: Balance | None = None  # this month's spending, when a budget is set
        self.over_budget_ok = False  # sending while over budget was confirmed once

    # -- what the palette, the parts and tests read ------------------------------------------

    @property
    def thread(self) -> Thread | None:
        return self.conv.thread

    @property
    def persona(self) -> Persona | None:
        return self.conv.persona

    @property
    def model(self) -> str:
        return self.conv.model

    @property
    def generating(self) -> bool:
        return self.send_lock != IDLE

    @property
    def stopping(self) -> bool:
        return self.send_lock == STOPPING

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="status"):
            yield Static(id="status-left")
            yield Static(id="status-right")
        with Horizontal(id="main"):
            yield ThreadPanel(id="thread-panel")
            with Vertical(id="conversation"):
                yield Transcript(id="transcript")
                yield SlashMenu(id="slash-menu")
                yield Composer(id="composer")
        yield KeyBar()

    # Held from mount on: a reply and the last draft save still reach them while the
    # screen is being closed, when they can no longer be queried.
    @property
    def transcript(self) -> Transcript:
        return self.__dict__.get("_transcript") or self.query_one(Transcript)

    @property
    def composer(self) -> Composer:
        return self.__dict__.get("_composer") or self.query_one(Composer)

    @property
    def slash_menu(self) -> SlashMenu:
        return self.__dict__.get("_menu") or self.query_one(SlashMenu)

    @property
    def thread_list(self) -> ThreadList:
        return self.query_one(ThreadList)

    def on_mount(self) -> None:
        self._composer = self.query_one(Composer)
        self._transcript = self.query_one(Transcript)
        self._menu = self.query_one(SlashMenu)
        ws = self.ws
        ws.on_change = self.sync_lock
        ws.on_title = self._titled
        ws.replies.listener = self.sender
        self.layout_part.apply(self.size.width)
        if self.thread is None:
            self.view.show_new()
        else:
            self.update_status()
        self.composer.focus()
        self.run_worker(self._start(), name="start", group="start", exit_on_error=False)
        self.drafts.start()
        self.view.start_polling()

    async def _start(self) -> None:
        """What the first screen reads: done off the event loop, so a database held by
        another program delays the history, never the composer."""
        conv, opened = self.conv, self.thread  # what was asked for at start-up
        try:
            await self.view.baseline()
            await self.layout_part.restore()
            await self.view.refresh_threads_now()
            try:
                # Not a thread the user started (or moved to) meanwhile: that one is shown.
                if opened is not None and self.conv is conv:
                    await self.view.show(conv)
            finally:
                if not self.app.api_key:
                    self.transcript.add_notice(self.app.key_note)
                servers = self.ws.servers
                if servers is not None and (warning := servers.start.usage_warning()):
                    self.transcript.add_notice(warning)  # an Azure API version too old to count tokens
            await self.drafts.restore()
            await self.layout_part.refresh_balance()
        finally:
            self.ready = True

    async def on_unmount(self) -> None:
        # Every reply still streaming is stopped and its final write waited for (it may
        # wait busy_timeout for a lock), then the last draft is saved: nothing typed or
        # streamed is lost by quitting.
        ws = self.ws
        for live in list(ws.replies._live.values()):
            live.viewer = None
        ws.on_change = None
        await ws.stop_all()
        await self.drafts.flush()

    # -- any terminal size (the layout part does the work) ---------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.layout_part.apply(event.size.width)

    def update_status(self) -> None:
        self.layout_part.update_status()

    def close_narrow_panel(self) -> None:
        self.layout_part.close_narrow()

    def action_toggle_threads(self) -> None:
        """Show or hide the thread list (remembered; on a narrow terminal it lies over
        the chat until a thread is chosen)."""
        self.layout_part.toggle()

    # -- the lock and what shows it ---------------------------------------------------------

    def sync_lock(self) -> None:
        """Copy the open thread's lock from the conversation layer (called by it whenever
        a lock may have changed); the thread list's live marks follow too."""
        conv = self.conv
        self.send_lock = STOPPING if conv.stopping else GENERATING if conv.busy else IDLE
        if self.is_mounted:
            self.thread_list.set_live(self.ws.replies.thread_ids)

    def watch_send_lock(self, lock: str) -> None:
        self.composer.locked = lock != IDLE
        self.update_status()
        self.refresh_bindings()

    def on_transcript_new_below(self, event: Transcript.NewBelow) -> None:
        event.stop()
        self.update_status()

    def _titled(self, thread_id: int, title: str) -> None:
        if self.thread is not None and self.thread.id == thread_id:
            self.conv.title = self.thread.title = title
            self.update_status()
        self.view.refresh_threads()

    # -- keys -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            # Enabled (and in the footer) only when Esc has something of ours to do; the
            # thread filter clears itself with its own Esc binding.
            if "_menu" not in self.__dict__:
                return True
            return self._escape_target() not in (None, "filter")
        if action == "retry":
            return self.send_lock == IDLE and self.thread is not None and self.conv.can_retry
        if action == "continue_reply":
            return self.send_lock == IDLE and self.conv.can_continue
        return True

    def _escape_target(self) -> str | None:
        return escape_target(self)

    def action_stop(self) -> None:
        """Stop the reply being generated (its text is kept), or first close what has
        the focus: the slash menu, the thread filter, an edit."""
        escape(self)

    def action_reset(self) -> None:
        """A fresh thread with the same persona and model; the old one stays in history
        (a reply still generating there goes on in the background)."""
        self.view.switch(self.ws.conversation(self.persona, self.model, server=self.conv.server))
        self.notify("Started a fresh thread.", timeout=2)
        self.composer.focus()

    def action_new_thread(self) -> None:
        """A new thread, with a persona you choose."""
        self.commands.pick_persona()

    def action_retry(self) -> None:
        """Retry the last message after an error."""
        self.sender.retry()

    def action_continue_reply(self) -> None:
        """Continue a reply the token limit cut off (in the same reply)."""
        self.sender.continue_reply()

    def action_regenerate(self) -> None:
        """Regenerate the last reply; the old one stays as an earlier version."""
        self.sender.regenerate()

    def action_edit_last(self) -> None:
        """Edit your last message and send it again; the old one stays as a version."""
        self.sender.start_edit()

    def action_edit_last_if_empty(self) -> None:
        """Up in an empty composer: edit the last message, as many chat clients do."""
        if self.slash_menu.display and self.focused is self.composer:
            self.slash_menu.move(-1)
            return
        if self.focused is not self.composer or self.composer.text or self.thread is None:
            raise SkipAction()  # Up does what it always does
        self.sender.start_edit()

    def action_menu_down(self) -> None:
        """Down in the slash menu (anywhere else, Down does what it always does)."""
        if not (self.slash_menu.display and self.focused is self.composer):
            raise SkipAction()
        self.slash_menu.move(1)

    def action_focus_threads(self) -> None:
        """Move to the thread list (showing it if it is collapsed)."""
        self.layout_part.open_threads()
        self.thread_list.focus()

    def action_focus_composer(self) -> None:
        """Move to the message box."""
        self.close_narrow_panel()
        self.composer.focus()

    def action_focus_transcript(self) -> None:
        """Move to the conversation (k/j pick a message, c copies it)."""
        self.transcript.focus()

    def _scroll_target(self) -> Transcript:
        if self.query_one(ThreadPanel).has_focus_within:
            raise SkipAction()  # the list scrolls itself
        return self.transcript

    def action_page_up(self) -> None:
        """Scroll the conversation up a page."""
        self._scroll_target().page_up()

    def action_page_down(self) -> None:
        """Scroll the conversation down a page."""
        self._scroll_target().page_down()

    async def action_transcript_top(self) -> None:
        """Go to the start of the conversation."""
        await self.transcript.action_scroll_home()

    def action_transcript_bottom(self) -> None:
        """Go to the end of the conversation (the newest text)."""
        self.transcript.action_scroll_end()

    def action_previous_version(self) -> None:
        """Show the previous version of the highlighted (or last) reply."""
        self.sender.flip_version(-1)

    def action_next_version(self) -> None:
        """Show the next version of the highlighted (or last) reply."""
        self.sender.flip_version(+1)

    def action_help(self) -> None:
        """Every key (as remapped) and slash command."""
        self.commands.open_help()

    def action_pick_model(self) -> None:
        """Choose the model for this thread, from the next message on."""
        self.commands.pick_model()

    def action_pick_persona(self) -> None:
        """Start a new thread with a persona you choose."""
        self.commands.pick_persona()

    def action_export(self, fmt: str = "md") -> None:
        """Write this thread to a file (Markdown or JSON) and say where."""
        self.commands.export(fmt)

    def action_complete(self) -> None:
        """Tab after "/" completes a command name, or a persona or model name."""
        self.commands.complete()

    def action_search(self) -> None:
        """Search every thread."""
        self.threads.search()

    def action_rename_thread(self) -> None:
        """Rename the open (or highlighted) thread."""
        self.threads.rename()

    def action_delete_thread(self) -> None:
        """Delete the open (or highlighted) thread."""
        self.threads.delete()

    def action_copy_reply(self) -> None:
        """Copy the last reply."""
        self.threads.copy_reply()

    # -- messages from the widgets -------------------------------------------------------------

    async def on_composer_submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        if self.slash_menu.display and self.commands.accept_menu():
            return  # Enter on the menu completes the command
        await self.commands.submit_text(event.text)

    def on_text_area_changed(self, event: Composer.Changed) -> None:
        self.drafts.changed(event.text_area.text)
        self.commands.text_changed(event.text_area.text)

    def on_slash_menu_picked(self, event: SlashMenu.Picked) -> None:
        event.stop()
        self.commands.apply_completion(event.text)

    def on_thread_panel_filter_changed(self, event: ThreadPanel.FilterChanged) -> None:
        event.stop()
        self.view.refresh_threads()

    def on_thread_list_chosen(self, event: ThreadList.Chosen) -> None:
        event.stop()
        self.close_narrow_panel()
        self.threads.open(event.thread_id)

    def on_thread_list_delete_requested(self, event: ThreadList.DeleteRequested) -> None:
        event.stop()
        self.threads.delete(event.thread_id)

    def on_transcript_copy_requested(self, event: Transcript.CopyRequested) -> None:
        event.stop()
        self.threads.copy_text(event.text)

    def on_transcript_code_requested(self, event: Transcript.CodeRequested) -> None:
        event.stop()
        self.threads.copy_code(event.text)

    # -- for the parts ----------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A notice in the log (never markup: it may quote what the user typed)."""
        self.transcript.add_notice(text)

    def report(self, exc, *, kept: bool = False) -> None:  # noqa: ANN001
        self.sender.report(exc, kept=kept)

    def status_text(self) -> str:
        """The status line as plain text (both its parts)."""
        return " ".join(str(self.query_one(f"#status-{part}", Static).render()) for part in ("left", "right"))

    async def open_thread(self, thread_id: int, message_id: int | None = None, *, find: str | None = None) -> bool:
        """Show a thread; with `message_id`, scrolled to that message (see ThreadActions)."""
        return await self.threads.open_now(thread_id, message_id, find=find)
