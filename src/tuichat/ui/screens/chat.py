"""The chat screen: thread list, transcript, composer. It owns the send lock (one
`generating` flag) and the one reply worker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerError, WorkerState

from tuichat.core.errors import BusyElsewhereError, ProviderError, TuichatError
from tuichat.session import titles
from tuichat.core.models import DONE, ERROR, STOPPED, SUPERSEDED, Message, Persona, SearchHit, Thread
from tuichat.core.text import clean_line, first_line, sanitize
from tuichat.store import Store
from tuichat.ui.screens.dialogs import ConfirmDialog, TextPromptDialog
from tuichat.ui.code_blocks import CodeBlock, code_blocks
from tuichat.ui.screens.code_picker import CodePicker
from tuichat.ui.screens.chat_commands import ChatCommands
from tuichat.ui.screens.persona_picker import PersonaPicker
from tuichat.ui.screens.search import SearchScreen
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.thread_list import ThreadList
from tuichat.ui.widgets.thread_panel import ThreadPanel
from tuichat.ui.widgets.transcript import LENGTH, OLDER_PAGE, Shown, Transcript

# How often the screen asks whether another process changed the database (one cheap
# PRAGMA on the database thread; nothing else is read unless it changed).
POLL_SECONDS = 0.5

def shown_status(message: Message) -> tuple[str, str | None]:
    """The status and note the transcript shows under a reply that did not simply finish."""
    if message.status == ERROR:
        return ERROR, message.error or "the request failed"
    if message.status == DONE and message.finish_reason == "length":
        return LENGTH, None
    if message.status == DONE and message.finish_reason == "content_filter":
        return ERROR, "the server's content filter cut the reply off"
    return message.status, None


def shown_messages(messages: list[Message]) -> list[Shown]:
    """Stored messages as the transcript shows them (system prompts are not shown)."""
    shown = []
    for message in messages:
        if message.role != "system":
            status, note = shown_status(message)
            shown.append(Shown(message.role, message.content, status, message.reasoning,
                               message.model, note))
    return shown


class TranscriptSink:
    """Streams provider text into the transcript (the session's ReplySink)."""

    def __init__(self, screen: ChatScreen, transcript: Transcript) -> None:
        self.screen = screen
        self.transcript = transcript

    def on_text(self, text: str) -> None:
        self.transcript.append_reply(text)

    def on_reasoning(self, text: str) -> None:
        self.transcript.append_reasoning(text)

    def on_storage_error(self, message: str) -> None:
        # Once per reply (the session says so once): the text goes on streaming.
        self.screen.notify(message, title="Not saved yet", severity="warning", timeout=10, markup=False)


def _read_tail(store: Store, thread_id: int) -> tuple[list[Message], int]:
    """The last page of a thread and how many user/assistant messages are older (run on
    the database thread: two reads that belong together)."""
    page = store.messages_before(thread_id, None, OLDER_PAGE)
    return page, (store.count_before(thread_id, page[0].id) if page else 0)


def _version_and_tail(store: Store, thread_id: int) -> tuple[int, tuple[list[Message], int]]:
    return store.data_version(), _read_tail(store, thread_id)


def _signature(page: list[Message]) -> tuple[tuple[object, ...], ...]:
    """What the transcript shows of a page: equal signatures mean nothing to redraw."""
    return tuple((m.id, m.status, len(m.content), len(m.reasoning), m.error) for m in page)


class ChatScreen(ChatCommands, Screen[None]):
    """One conversation at a time, with the history beside it."""

    BINDINGS = [
        # Priority so Escape reaches us from inside the composer; check_action disables it
        # when nothing is generating, and then Escape falls through as usual.
        Binding("escape", "stop", "Stop", id="stop", priority=True),
        Binding("ctrl+r", "reset", "Reset", id="reset", priority=True),
        Binding("ctrl+n", "new_thread", "New", id="new_thread", priority=True),
        Binding("f5", "retry", "Retry", id="retry"),
        Binding("ctrl+t", "focus_threads", "Threads", id="focus_threads"),
        Binding("ctrl+l", "focus_composer", "Compose", id="focus_composer", show=False),
        # F-keys: TextArea and Input already use ctrl+d (delete right), F6 and F7. F8 is
        # not in the footer (it is full, and the list shows "del Delete" when focused).
        Binding("f2", "rename_thread", "Rename", id="rename_thread", show=False),
        Binding("f8", "delete_thread", "Delete", id="delete_thread", show=False),
        # Priority: an Input (the thread filter) would take ctrl+f as "delete word right".
        Binding("ctrl+f", "search", "Search", id="search", priority=True),
        # Not ctrl+y: that is redo in the composer.
        Binding("ctrl+o", "copy_reply", "Copy reply", id="copy_reply", show=False),
        # Regenerate, edit, model, completion: see chat_commands.py. Priority where the
        # composer (TextArea) would otherwise take the key first.
        Binding("ctrl+g", "regenerate", "Regenerate", id="regenerate", show=False, priority=True),
        Binding("f3", "edit_last", "Edit last", id="edit_last", show=False),
        Binding("up", "edit_last_if_empty", "Edit last", id="edit_last_up", show=False, priority=True),
        # Off the crowded footer: the status line shows the model; palette and /help list F4.
        Binding("f4", "pick_model", "Model", id="pick_model", show=False),
        Binding("tab", "complete", "Complete /command", id="complete", show=False, priority=True),
    ]

    DEFAULT_CSS = """
    ChatScreen #status {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    ChatScreen #main {
        height: 1fr;
    }
    ChatScreen #conversation {
        width: 1fr;
    }
    ChatScreen #transcript {
        height: 1fr;
    }
    /* Notices appear top right, under the status line: at the bottom (Textual's place
       for them) they would cover the composer and what the user is typing. */
    ChatScreen ToastRack {
        dock: top;
        align: right top;
        margin-top: 1;
        margin-bottom: 0;
    }
    """

    def __init__(self, *, persona: Persona, model: str, thread: Thread | None = None) -> None:
        super().__init__()
        self.persona: Persona | None = persona
        self.model = model
        self.thread: Thread | None = thread  # None until the first message of a new thread
        # The send lock: one owner (the reply worker), set before its first await so a
        # second Enter is refused, released in the worker's `finally` in every outcome.
        self.generating = False
        self.stopping = False  # Esc pressed: the reply is over on screen, its save under way
        self._worker: Worker[None] | None = None
        self._draft_dirty = False
        self._draft_saving = False
        self._draft_failed = False  # said once; said again only after a save succeeds
        # What the status line and the bindings show about the open thread, read off the
        # event loop (after each reply, thread switch and outside change): check_action
        # and update_status run on every refresh and must never wait for SQLite.
        self.thread_title = thread.title if thread is not None else ""
        self.can_retry = False
        self._showing = 0  # bumped by each show_thread: a slower, older one is dropped
        self._tail_sig: tuple[tuple[object, ...], ...] | None = None
        self._data_version: int | None = None
        self._polling = False
        self.ready = False  # the start-up reads (thread list, open thread, draft) are done

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="main"):
            yield ThreadPanel(id="thread-panel")
            with Vertical(id="conversation"):
                yield Transcript(id="transcript")
                yield Composer(id="composer")
        yield Footer()

    # Held from mount on: a reply's worker and the last draft save still reach them while
    # the screen is being closed, when they can no longer be queried.
    @property
    def transcript(self) -> Transcript:
        return self.__dict__.get("_transcript") or self.query_one(Transcript)

    @property
    def composer(self) -> Composer:
        return self.__dict__.get("_composer") or self.query_one(Composer)

    def on_mount(self) -> None:
        self._composer = self.query_one(Composer)
        self._transcript = self.query_one(Transcript)
        self._status = self.query_one("#status", Static)
        if self.thread is None:
            self.show_new_thread()
        else:
            self.update_status()
        self.composer.focus()
        self.run_worker(self._start(), name="start", group="start", exit_on_error=False)
        self.set_interval(1.0, self.save_draft)
        self.set_interval(POLL_SECONDS, self._poll)

    async def _start(self) -> None:
        """What the first screen reads: done off the event loop, so a database held by
        another program delays the history, never the composer."""
        db = self.app.db
        try:
            # Before anything is read: every outside change from now on is noticed.
            self._data_version = await db.data_version()
        except TuichatError:
            pass
        try:
            await self._refresh_threads()
            try:
                if self.thread is not None:
                    await self.show_thread(self.thread)
            finally:
                if not self.app.api_key:
                    self.transcript.add_notice(self.app.key_note)
            await self.restore_draft()
        finally:
            self.ready = True

    async def on_unmount(self) -> None:
        # A reply still streaming is stopped and its final write waited for (it may wait
        # busy_timeout for a lock), then the last draft is saved: nothing typed or
        # streamed is lost by quitting.
        await self.stop_reply()
        if self._draft_dirty:
            self._draft_dirty = False
            try:
                await self.app.db.save_draft(self._composer.text)
            except Exception:  # noqa: BLE001 - closing: nowhere left to say it
                pass

    # -- the draft: what is typed survives a quit or a crash ---------------------------------

    async def restore_draft(self) -> None:
        try:
            draft = await self.app.db.get_draft()
        except TuichatError as exc:
            self.report(exc)
            return
        if draft and not self.composer.text:  # typed meanwhile: the user's text wins
            self.composer.text = draft
            self.composer.move_cursor(self.composer.document.end)
            self._draft_dirty = False

    def on_text_area_changed(self, event: Composer.Changed) -> None:
        # Saved by the interval timer, not per keystroke.
        self._draft_dirty = True
        if event.text_area.text:
            self.app.warm_up()  # a message is coming: load the SDK while it is typed

    def save_draft(self) -> None:
        """Save the composer's text, if it changed, on the database thread (one save at a
        time; one that fails is tried again at the next tick)."""
        if self._draft_dirty and not self._draft_saving:
            self._draft_dirty = False
            self._draft_saving = True
            # By on_unmount the composer is no longer queryable, but still holds its text.
            self.run_worker(self._save_draft(self._composer.text), group="draft", exit_on_error=False)

    async def _save_draft(self, text: str) -> None:
        try:
            await self.app.db.save_draft(text)
        except Exception as exc:  # noqa: BLE001 - a draft that cannot be saved is not fatal
            # The text stays in the composer whatever happened; the message names the
            # problem, never the draft (it is not the database's to print).
            self._draft_dirty = True
            if not self._draft_failed:
                self._draft_failed = True
                why = exc.title if isinstance(exc, TuichatError) else "it could not be written"
                self.notify(f"Your draft could not be saved ({why}). It stays in the message box;"
                            " tuichat tries again.", title="Draft not saved", severity="warning",
                            timeout=8, markup=False)
        else:
            if self._draft_failed:
                self._draft_failed = False
                self.notify("Your draft is saved again.", timeout=3)
        finally:
            self._draft_saving = False

    # -- what is shown --------------------------------------------------------------------

    def refresh_threads(self, *, keep_highlight: bool = False) -> None:
        """Re-read the thread list (off the event loop; a newer refresh replaces one
        still reading)."""
        self.run_worker(self._refresh_threads(keep_highlight=keep_highlight), group="threads",
                        exclusive=True, exit_on_error=False)

    async def _refresh_threads(self, *, keep_highlight: bool = False) -> None:
        panel = self.query_one(ThreadPanel)
        db, text = self.app.db, panel.filter_text

        async def load(limit: int, offset: int) -> list[Thread]:
            return await db.filter_threads(text, limit=limit, offset=offset)

        # A page at a time (the list asks for the next as it is scrolled): cheap at
        # start-up and per keystroke of the filter, however long the history.
        await panel.show_threads(load, self.thread.id if self.thread else None,
                                 keep_highlight=keep_highlight)

    def on_thread_panel_filter_changed(self, event: ThreadPanel.FilterChanged) -> None:
        event.stop()
        self.refresh_threads()

    def refresh_thread_state(self) -> None:
        """Re-read what the status line and F5 show of the open thread, off the loop."""
        self.run_worker(self._refresh_thread_state(), group="thread-state", exclusive=True,
                        exit_on_error=False)

    async def _refresh_thread_state(self) -> None:
        thread = self.thread
        if thread is None:
            self.can_retry = False
        else:
            try:
                # The title is set by the first message, a rename, auto_title or another window.
                stored = await self.app.db.get_thread(thread.id)
                can_retry = await self.app.session.can_retry(thread)
                if self._tail_sig is None and not self.generating:
                    version, (page, _) = await self.app.db.call(_version_and_tail, self.app.db.store, thread.id)
                    if version == self._data_version and self.thread is thread and not self.generating:
                        # No other process wrote since the last poll: the stored tail is
                        # what this window shows (its own send and reply), so an outside
                        # change elsewhere does not redraw it.
                        self._tail_sig = _signature(page)
            except TuichatError:
                return  # the next change tries again; the old state stays meanwhile
            if self.thread is not thread:
                return
            if stored is not None:
                self.thread_title = stored.title
            self.can_retry = can_retry
        self.update_status()
        self.refresh_bindings()

    def update_status(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("tuichat", style="bold")
        line.append(f"  {clean_line(self.persona.name if self.persona else '(no persona)')}", style="bold cyan")
        line.append(f" · {clean_line(self.model)} · {clean_line(self.app.server_label)}", style="dim")
        if self.thread is not None:
            line.append(f" · #{self.thread.id}", style="dim")
            if self.thread_title:
                line.append(f" {clean_line(first_line(self.thread_title, 60))}")
        if self.generating and self.stopping:
            line.append("  stopping: saving the reply…", style="italic")
        elif self.generating:
            line.append("  generating… (Esc to stop)", style="italic")
        elif self.is_editing():
            line.append("  editing your last message (Esc cancels)", style="italic")
        self._status.update(line)
        self.composer.border_title = (
            "Editing your last message · Enter sends it in place of the old one · Esc cancels"
            if self.is_editing() else None
        )

    def show_new_thread(self) -> None:
        self._showing += 1  # a thread still being read must not replace this one
        self.transcript.clear()
        self._tail_sig = None
        self.thread_title = ""
        self.can_retry = False
        if self.persona is not None:
            if self.persona.greeting:
                self.transcript.add_notice(f"{self.persona.name}: {self.persona.greeting}")
            else:
                self.transcript.add_notice(f"New thread with {self.persona.name}: {self.persona.description}")
        self.query_one(ThreadList).mark_current(None)
        self.update_status()
        self.refresh_bindings()

    async def show_thread(self, thread: Thread) -> bool:
        """Read the thread's last page (off the event loop) and show it. False if a newer
        show_thread or show_new_thread came first, or reading failed (then said)."""
        self._showing += 1
        showing = self._showing
        try:
            page, older = await self.app.db.call(_read_tail, self.app.db.store, thread.id)
        except TuichatError as exc:
            self.report(exc)
            return False
        if showing != self._showing:
            return False
        self.thread = thread
        self.model = thread.model
        self.persona = self.app.personas.get(thread.persona)
        self.thread_title = thread.title
        self._display(thread, page, older)
        self.query_one(ThreadList).mark_current(thread.id)
        self.update_status()
        self.refresh_thread_state()
        return True

    def _display(self, thread: Thread, page: list[Message], older: int) -> None:
        transcript = self.transcript
        transcript.clear()
        self._tail_sig = _signature(page)
        # The last page only: a thread of thousands of messages opens as fast as a short
        # one, and the transcript asks for older pages as the user scrolls up.
        for role, content, status, reasoning, model, note in shown_messages(page):
            transcript.add_message(role, content, status=status, reasoning=reasoning,
                                   model=model, note=note)
        if page:
            db, oldest = self.app.db, page[0].id

            async def load_older(at_least: int) -> tuple[list[Shown], int]:
                nonlocal oldest
                rows = await db.messages_before(thread.id, oldest, at_least)
                if not rows:
                    return [], 0
                oldest = rows[0].id
                return shown_messages(rows), await db.count_before(thread.id, oldest)

            transcript.show_older(load_older, older)
        if self.persona is None:
            transcript.add_notice(
                f"Persona {thread.persona!r} is no longer installed; continuing without its system prompt."
            )

    # -- other windows: what they write shows up here within a second -----------------------

    def _poll(self) -> None:
        if not self._polling and self.ready:
            self._polling = True
            self.run_worker(self._check_changes(), group="poll", exit_on_error=False)

    async def _check_changes(self) -> None:
        """PRAGMA data_version changes only when another connection commits: unchanged,
        nothing else is read."""
        try:
            version = await self.app.db.data_version()
            if self._data_version is None or version == self._data_version:
                # None: the first read at start-up failed (a lock); this is the baseline.
                self._data_version = version
                return
            self._data_version = version
            await self._refresh_threads(keep_highlight=True)
            thread = self.thread
            if thread is not None and not self.generating:
                await self._reload_if_changed(thread)
        except TuichatError:
            pass  # locked or unreadable now: the next poll tries again
        finally:
            self._polling = False

    async def _reload_if_changed(self, thread: Thread) -> None:
        showing = self._showing
        page, older = await self.app.db.call(_read_tail, self.app.db.store, thread.id)
        # Not while this window streams into it (its own reply is the newest text), nor
        # if the user moved to another thread meanwhile.
        if showing != self._showing or self.thread is not thread or self.generating:
            return
        if not page and await self.app.db.get_thread(thread.id) is None:
            if showing == self._showing and not self.generating:
                self._open_thread_gone(thread)
            return
        if _signature(page) != self._tail_sig:
            transcript = self.transcript
            following, y = transcript.following, transcript.scroll_y
            self._display(thread, page, older)
            if not following:  # the user is reading further up: stay there
                transcript.call_after_refresh(transcript.scroll_to, y=y, animate=False)
        self.refresh_thread_state()

    def _open_thread_gone(self, thread: Thread) -> None:
        """The open thread was deleted (in another window): a new thread takes its place,
        so the next Enter sends instead of being refused for a thread that is gone."""
        if self.thread is not thread:
            return
        self.thread = None
        self.show_new_thread()
        # The thread list is refreshed by the caller's path (the poll, or the reply
        # worker's release).
        self.say("This thread was deleted in another window; what you send now starts a new thread.")

    # -- sending --------------------------------------------------------------------------

    async def on_composer_submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        await self.submit_text(event.text)  # a slash command, or self.send

    def send(self, text: str, typed: str | None = None) -> None:
        """Send `text`, unless a reply is generating (then refuse and keep the draft).
        The text (`typed`, as it is in the composer, if it differs: `//x` sends `/x`)
        leaves the composer only once it is stored."""
        if self.refuse_busy():
            return
        editing = self.editing if self.is_editing() else None
        self.editing = None

        async def prepare() -> bool:
            try:
                if editing is None or not await self._commit_edit(editing, text, typed or text):
                    await self._save_prompt(text, typed or text)
            except TuichatError as exc:  # locked, read-only, busy elsewhere: not sent
                self.report(exc, kept=True)
                return False
            return True

        self.begin_reply(prepare)

    async def _save_prompt(self, text: str, typed: str) -> None:
        """Store `text` as the next prompt, then (only then) clear it from the composer."""
        if self.thread is None:
            self.thread = await self.app.db.create_thread(
                self.persona.name if self.persona else "", self.model
            )
        thread = self.thread
        save = asyncio.ensure_future(self.app.session.save_prompt(thread, text))
        try:
            await asyncio.shield(save)
        except asyncio.CancelledError:
            # Esc while the save waited for a lock: the write still ends (either way) on
            # the database thread. Show what became of it, so the text is neither lost
            # nor sent twice.
            with contextlib.suppress(Exception):
                await save
                self._sent(thread, text, typed)
            raise
        self._sent(thread, text, typed)

    def _sent(self, thread: Thread, text: str, typed: str) -> None:
        self.clear_sent(typed)
        if self.thread is thread:
            self.transcript.add_message("user", text)
            self._tail_sig = None  # the transcript no longer matches a stored page
            if not self.thread_title:
                self.thread_title = first_line(text)
        self.refresh_threads()

    def clear_sent(self, text: str) -> None:
        """Take the sent `text` out of the composer, keeping what was typed after it
        while it was being stored."""
        current = self.composer.text
        if current.rstrip("\n") == text:
            self.composer.clear()
        elif current.startswith(text):
            self.composer.text = current[len(text):].lstrip("\n")
            self.composer.move_cursor(self.composer.document.end)

    def begin_reply(self, prepare: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Take the send lock and start the reply worker: `prepare` (store the prompt,
        supersede the old reply...) then the reply. Everything that waits for the
        database happens in the worker, after the lock is taken."""
        self.generating = True
        self.stopping = False
        self.update_status()
        self.refresh_bindings()
        self._worker = self._reply(prepare)

    @work(name="reply", exclusive=True, exit_on_error=False, group="reply")
    async def _reply(self, prepare: Callable[[], Awaitable[bool]] | None) -> None:
        try:
            try:
                if prepare is not None and not await prepare():
                    return
            except LookupError:
                gone = self.thread
                try:
                    deleted = gone is not None and await self.app.db.get_thread(gone.id) is None
                except TuichatError:
                    deleted = False
                if deleted:
                    self._open_thread_gone(gone)  # the text stays in the box: Enter sends it there
                else:
                    self.notify("That thread no longer exists.", severity="warning")
                return
            except TuichatError as exc:
                self.report(exc)
                return
            thread, persona = self.thread, self.persona
            if thread is None:
                return
            transcript = self.transcript
            transcript.begin_reply(self.model)
            self._tail_sig = None
            try:
                message = await self.app.session.reply(thread, persona, TranscriptSink(self, transcript))
                transcript.end_reply(*shown_status(message))
                self._maybe_auto_title(thread, message)
            except asyncio.CancelledError:
                transcript.end_reply(STOPPED)
                raise
            except ProviderError as exc:
                # F5 works at once: the read that confirms it (after the release) would
                # leave the key dead for a moment, and the error says "F5 retries".
                self.can_retry = True
                self.show_error(exc)
            except TuichatError as exc:  # nothing was streamed: the database refused
                self.can_retry = True  # the prompt is stored, its reply is not
                transcript.end_reply(ERROR, f"{exc.title}. {exc.detail}")
                self.report(exc)
        finally:
            self._release()

    def show_error(self, exc: ProviderError) -> None:
        detail = exc.detail
        if exc.kind == "auth" and self.app.key_note:
            detail = f"{detail} {self.app.key_note}".strip()
        self.transcript.end_reply(ERROR, f"{exc.title}. {detail}  (F5 retries)")
        # Server error bodies are untrusted: inert in the toast as in the transcript.
        self.notify(f"{sanitize(detail)}\nPress F5 to retry.", title=clean_line(exc.title), severity="error",
                    timeout=10, markup=False)

    def report(self, exc: TuichatError, *, kept: bool = False) -> None:
        """A database or session refusal in plain words (never a traceback)."""
        detail = exc.detail
        if kept:
            detail = f"{detail} Your message stays in the box.".strip()
        severity = "warning" if isinstance(exc, BusyElsewhereError) else "error"
        self.notify(sanitize(detail) or clean_line(exc.title), title=clean_line(exc.title),
                    severity=severity, timeout=8, markup=False)

    def run_db(self, work: Awaitable[object], *, group: str = "db") -> None:
        """Run a coroutine that uses the database in a worker, its refusals reported."""
        self.run_worker(self._reporting(work), group=group, exit_on_error=False)

    async def _reporting(self, work: Awaitable[object]) -> None:
        try:
            await work
        except TuichatError as exc:
            self.report(exc)
        except LookupError:
            self.notify("That thread no longer exists.", severity="warning")
            self.refresh_threads()

    def _release(self) -> None:
        """Clear the send lock. Called from the worker's `finally`; also from the worker
        state handler, for a worker cancelled before its first step."""
        if not self.generating:
            return
        self.generating = False
        self.stopping = False
        if not self.is_attached:
            return  # the screen is closing: nothing left to show
        self.update_status()
        self.refresh_bindings()
        self.refresh_threads()
        self.refresh_thread_state()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._worker and event.state in (
            WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED
        ):
            self._release()

    async def stop_reply(self) -> None:
        """Stop the reply (if any) and wait until its partial text is saved."""
        worker = self._worker
        if worker is None or not self.generating:
            return
        self.action_stop()
        try:
            await worker.wait()
        except WorkerError:
            pass

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return (self.generating and not self.stopping) or self.is_editing()
        if action == "retry":
            # Shown only when there is something to retry (a prompt without a finished
            # reply): the footer has room for the keys that apply now, not for all of them.
            return not self.generating and self.thread is not None and self.can_retry
        return True

    def action_stop(self) -> None:
        """Stop the reply being generated (its text is kept), or cancel an edit."""
        if self._worker is not None and self.generating:
            self._worker.cancel()
            if not self.stopping:
                # Over on screen now; the final write may still wait for a lock.
                self.stopping = True
                self.transcript.end_reply(STOPPED)
                self.update_status()
                self.refresh_bindings()
        elif self.is_editing():
            self.cancel_edit(key=True)

    async def action_reset(self) -> None:
        """A fresh thread with the same persona and model; the old one stays in history."""
        await self.stop_reply()
        self.thread = None
        self.show_new_thread()
        self.notify("Started a fresh thread.", timeout=2)
        self.composer.focus()

    async def action_new_thread(self) -> None:
        """A new thread, with a persona you choose."""
        await self.stop_reply()
        current = self.persona.name if self.persona else None
        self.app.push_screen(PersonaPicker(self.app.personas, current), self._picked_persona)

    def _picked_persona(self, name: str | None) -> None:
        if name is None:
            return
        self.persona = self.app.personas[name]
        self.model = self.app.model_for(self.persona)
        self.thread = None
        self.show_new_thread()
        self.composer.focus()

    def action_retry(self) -> None:
        """Retry the last message after an error."""
        if self.generating or self.thread is None:
            return
        if not self.can_retry:
            self.notify("Nothing to retry: the last message already has a reply.", timeout=3)
            return
        thread = self.thread

        async def prepare() -> bool:
            # Asked again: another window may have answered it meanwhile.
            if self.thread is not thread or not await self.app.session.can_retry(thread):
                self.notify("Nothing to retry: the last message already has a reply.", timeout=3)
                return False
            return True

        self.begin_reply(prepare)

    def action_focus_threads(self) -> None:
        """Move to the thread list."""
        self.query_one(ThreadList).focus()

    def action_focus_composer(self) -> None:
        """Move to the message box."""
        self.composer.focus()

    def on_thread_list_chosen(self, event: ThreadList.Chosen) -> None:
        event.stop()
        if self.thread is not None and self.thread.id == event.thread_id:
            self.composer.focus()
            return
        self.run_db(self.open_thread(event.thread_id), group="open")

    # -- search, jump to a message, copy ---------------------------------------------------

    def action_search(self) -> None:
        self.app.push_screen(SearchScreen(self.app.store, db=self.app.db), self._picked_hit)

    def _picked_hit(self, picked: tuple[SearchHit, str] | None) -> None:
        if picked is None:
            return
        hit, query = picked
        # The longest word is the likeliest to survive Markdown rendering intact.
        terms = query.split()
        self.run_db(self.open_thread(hit.thread_id, hit.message_id,
                                     find=max(terms, key=len) if terms else None), group="open")

    async def open_thread(self, thread_id: int, message_id: int | None = None, *, find: str | None = None) -> bool:
        """Show a thread; with `message_id`, scrolled to that message, which is highlighted
        and focused (c copies it). `find`: text to bring into view within the message.
        Returns False if the thread no longer exists."""
        same = self.thread is not None and self.thread.id == thread_id
        if not (same and self.generating):  # a reply streaming in it: just scroll there
            await self.stop_reply()
            thread = await self.app.db.get_thread(thread_id)
            if thread is None:
                self.notify("That thread no longer exists.", severity="warning")
                self.refresh_threads()
                return False
            if not await self.show_thread(thread):
                return False
        if message_id is None:
            self.composer.focus()
            return True
        try:
            position = await self.app.db.message_position(thread_id, message_id)
        except LookupError:
            self.notify("That message no longer exists.", severity="warning")
            self.composer.focus()
            return True
        await self.transcript.load_through(position)
        self.transcript.scroll_to_message(position, find=find)
        self.transcript.focus()
        return True

    def copy_text(self, text: str) -> None:
        """Put `text` on the clipboard (OSC 52), control characters made visible."""
        text = sanitize(text)
        if not text.strip():
            self.notify("Nothing to copy: the message is empty.", timeout=3)
            return
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {len(text)} characters", markup=False, timeout=2)

    def action_copy_reply(self) -> None:
        text = self.transcript.last_reply_content
        if text is None:
            self.notify("No reply to copy yet.", timeout=3)
            return
        self.copy_text(text)

    def on_transcript_copy_requested(self, event: Transcript.CopyRequested) -> None:
        event.stop()
        self.copy_text(event.text)

    def on_transcript_code_requested(self, event: Transcript.CodeRequested) -> None:
        event.stop()
        blocks = code_blocks(event.text)
        if not blocks:
            self.notify("No code blocks in this message.", timeout=3)
            return
        self.app.push_screen(CodePicker(blocks), self._picked_code)

    def _picked_code(self, block: CodeBlock | None) -> None:
        if block is not None:
            self.copy_text(block.code)

    # -- thread management: rename, delete, automatic titles ---------------------------------

    async def _target_thread(self) -> Thread | None:
        """The highlighted thread while the list has focus, else the open one (fresh from
        the store, so its title is current)."""
        threads = self.query_one(ThreadList)
        target = threads.highlighted_thread_id if threads.has_focus else None
        if target is None and self.thread is not None:
            target = self.thread.id
        return await self.app.db.get_thread(target) if target is not None else None

    def action_rename_thread(self) -> None:
        self.run_db(self._rename(), group="dialog")

    async def _rename(self) -> None:
        thread = await self._target_thread()
        if thread is None:
            self.notify("Nothing to rename yet: send a message first.", timeout=3)
            return

        async def renamed(title: str | None) -> None:
            if title is None:
                return
            try:
                await self.app.db.set_title(thread.id, title)
            except LookupError:
                self.notify("That thread no longer exists.", severity="warning")
            except TuichatError as exc:
                self.report(exc)
                return
            if self.thread is not None and self.thread.id == thread.id:
                self.thread_title = title
            self.refresh_threads()
            self.update_status()

        self.app.push_screen(
            TextPromptDialog("Rename thread", thread.title, placeholder="Title", max_length=200,
                             empty_message="The title cannot be empty."),
            renamed,
        )

    def action_delete_thread(self) -> None:
        async def delete() -> None:
            thread = await self._target_thread()
            if thread is None:
                self.notify("Nothing to delete: this thread has no messages yet.", timeout=3)
                return
            await self._confirm_delete(thread)

        self.run_db(delete(), group="dialog")

    def on_thread_list_delete_requested(self, event: ThreadList.DeleteRequested) -> None:
        event.stop()

        async def delete() -> None:
            thread = await self.app.db.get_thread(event.thread_id)
            if thread is not None:
                await self._confirm_delete(thread)

        self.run_db(delete(), group="dialog")

    async def _confirm_delete(self, thread: Thread) -> None:
        count = await self.app.db.message_count(thread.id)
        name = first_line(thread.title, 60) or "(untitled)"
        what = "" if count == 0 else " and its 1 message" if count == 1 else f" and its {count} messages"
        question = f"Delete \u201c{name}\u201d{what}? This cannot be undone."

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.run_db(self.delete_thread(thread.id), group="dialog")

        self.app.push_screen(
            ConfirmDialog("Delete thread", question, confirm_label="Delete", destructive=True),
            answered,
        )

    async def delete_thread(self, thread_id: int) -> None:
        """Delete a thread for good. The open one is replaced by a fresh thread with the
        same persona; the composer's draft is left alone."""
        if self.thread is not None and self.thread.id == thread_id:
            await self.stop_reply()  # its partial reply is saved first, then deleted with it
        threads = self.query_one(ThreadList)
        index = threads.highlighted
        await self.app.db.delete_thread(thread_id)
        if self.thread is not None and self.thread.id == thread_id:
            self.thread = None
            self.show_new_thread()
        await self._refresh_threads()
        if threads.has_focus and threads.highlighted is None and threads.option_count:
            # Keep the cursor where it was, on the thread that moved up.
            threads.highlighted = min(index or 0, threads.option_count - 1)
        self.notify("Thread deleted.", timeout=2)

    def _maybe_auto_title(self, thread: Thread, reply: Message) -> None:
        """After the first finished reply, ask for a title (auto_title = true in config)."""
        if not self.app.settings.auto_title or reply.status != DONE or not reply.content.strip():
            return
        self._auto_title(thread, reply.content)

    @work(name="auto-title", group="titles", exit_on_error=False)
    async def _auto_title(self, thread: Thread, reply: str) -> None:
        # Runs beside the chat, outside the send lock; any failure just means no new title.
        db = self.app.db
        try:
            prompts = [m for m in await db.messages(thread.id) if m.role == "user" and m.status != SUPERSEDED]
            stored = await db.get_thread(thread.id)
            # Only a thread still named after its first message: a hand-made title stays.
            if len(prompts) != 1 or stored is None or stored.title != first_line(prompts[0].content):
                return
            title = await titles.suggest_title(self.app.session.provider, thread.model,
                                               prompts[0].content, reply)
            now = await db.get_thread(thread.id)
            # Nothing usable, renamed by hand meanwhile, or deleted (SQLite may reuse the id
            # for a newer thread, hence created_at).
            if not title or now is None or (now.title, now.created_at) != (stored.title, stored.created_at):
                return
            await db.set_title(thread.id, title)
        except Exception:  # noqa: BLE001
            return
        if self.thread is not None and self.thread.id == thread.id:
            self.thread_title = title
        self.refresh_threads()
        self.update_status()
