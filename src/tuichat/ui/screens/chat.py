"""The chat screen: thread list, transcript, composer. It owns the send lock (one
`generating` flag) and the one reply worker."""

from __future__ import annotations

import asyncio

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from tuichat.core.errors import ProviderError
from tuichat import titles
from tuichat.core.models import DONE, ERROR, STOPPED, SUPERSEDED, Message, Persona, SearchHit, Thread
from tuichat.core.text import clean_line, first_line, sanitize
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

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript

    def on_text(self, text: str) -> None:
        self.transcript.append_reply(text)

    def on_reasoning(self, text: str) -> None:
        self.transcript.append_reasoning(text)


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
        self.generating = False
        self._worker: Worker[None] | None = None
        self._draft_dirty = False

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="main"):
            yield ThreadPanel(id="thread-panel")
            with Vertical(id="conversation"):
                yield Transcript(id="transcript")
                yield Composer(id="composer")
        yield Footer()

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    def on_mount(self) -> None:
        self.refresh_threads()
        if self.thread is not None:
            self.show_thread(self.thread)
        else:
            self.show_new_thread()
        if not self.app.api_key:
            self.transcript.add_notice(self.app.key_note)
        self._composer = self.composer
        self.restore_draft()
        self.composer.focus()
        self.set_interval(1.0, self.save_draft)

    def on_unmount(self) -> None:
        self.save_draft()

    # -- the draft: what is typed survives a quit or a crash ---------------------------------

    def restore_draft(self) -> None:
        draft = self.app.store.get_draft()
        if draft and not self.composer.text:
            self.composer.text = draft
            self.composer.move_cursor(self.composer.document.end)
        self._draft_dirty = False

    def on_text_area_changed(self, event: Composer.Changed) -> None:
        # Saved by the interval timer, not per keystroke.
        self._draft_dirty = True
        if event.text_area.text:
            self.app.warm_up()  # a message is coming: load the SDK while it is typed

    def save_draft(self) -> None:
        if self._draft_dirty:
            self._draft_dirty = False
            # By on_unmount the composer is no longer queryable, but still holds its text.
            self.app.store.save_draft(self._composer.text)

    # -- what is shown --------------------------------------------------------------------

    def refresh_threads(self) -> None:
        panel = self.query_one(ThreadPanel)
        store, text = self.app.store, panel.filter_text
        # A page at a time (the list asks for the next as it is scrolled): cheap at
        # start-up and per keystroke of the filter, however long the history.
        panel.show_threads(
            lambda limit, offset: store.filter_threads(text, limit=limit, offset=offset),
            self.thread.id if self.thread else None,
        )

    def on_thread_panel_filter_changed(self, event: ThreadPanel.FilterChanged) -> None:
        event.stop()
        self.refresh_threads()

    def update_status(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("tuichat", style="bold")
        line.append(f"  {clean_line(self.persona.name if self.persona else '(no persona)')}", style="bold cyan")
        line.append(f" · {clean_line(self.model)} · {clean_line(self.app.server_label)}", style="dim")
        if self.thread is not None:
            line.append(f" · #{self.thread.id}", style="dim")
            # From the store: the title is set by the first message, a rename or auto_title.
            stored = self.app.store.get_thread(self.thread.id)
            if stored is not None and stored.title:
                line.append(f" {clean_line(first_line(stored.title, 60))}")
        if self.generating:
            line.append("  generating… (Esc to stop)", style="italic")
        elif self.is_editing():
            line.append("  editing your last message (Esc cancels)", style="italic")
        self.query_one("#status", Static).update(line)
        self.composer.border_title = (
            "Editing your last message · Enter sends it in place of the old one · Esc cancels"
            if self.is_editing() else None
        )

    def show_new_thread(self) -> None:
        self.transcript.clear()
        if self.persona is not None:
            if self.persona.greeting:
                self.transcript.add_notice(f"{self.persona.name}: {self.persona.greeting}")
            else:
                self.transcript.add_notice(f"New thread with {self.persona.name}: {self.persona.description}")
        self.query_one(ThreadList).mark_current(None)
        self.update_status()

    def show_thread(self, thread: Thread) -> None:
        self.thread = thread
        self.model = thread.model
        self.persona = self.app.personas.get(thread.persona)
        transcript = self.transcript
        transcript.clear()
        # The last page only: a thread of thousands of messages opens as fast as a short
        # one, and the transcript asks for older pages as the user scrolls up.
        store = self.app.store
        page = store.messages_before(thread.id, None, OLDER_PAGE)
        for role, content, status, reasoning, model, note in shown_messages(page):
            transcript.add_message(role, content, status=status, reasoning=reasoning,
                                   model=model, note=note)
        if page:
            oldest = page[0].id

            def older(at_least: int) -> tuple[list[Shown], int]:
                nonlocal oldest
                rows = store.messages_before(thread.id, oldest, at_least)
                if not rows:
                    return [], 0
                oldest = rows[0].id
                return shown_messages(rows), store.count_before(thread.id, oldest)

            transcript.show_older(older, store.count_before(thread.id, oldest))
        if self.persona is None:
            transcript.add_notice(
                f"Persona {thread.persona!r} is no longer installed; continuing without its system prompt."
            )
        self.query_one(ThreadList).mark_current(thread.id)
        self.update_status()

    # -- sending --------------------------------------------------------------------------

    async def on_composer_submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        await self.submit_text(event.text)  # a slash command, or self.send

    def send(self, text: str) -> None:
        """Send `text`, unless a reply is generating (then refuse and keep the draft)."""
        if self.refuse_busy():
            return
        if self.editing is not None and self.send_edit(text):
            return  # sent in place of the prompt being edited
        self.generating = True
        try:
            if self.thread is None:
                self.thread = self.app.store.create_thread(
                    self.persona.name if self.persona else "", self.model
                )
            # Stored before the composer is cleared and before any request is made.
            self.app.session.save_prompt(self.thread, text)
            self.composer.clear()
            self.transcript.add_message("user", text)
            self._start_reply()
        except BaseException:
            self.generating = False
            raise
        self.refresh_threads()

    def _start_reply(self) -> None:
        self.transcript.begin_reply(self.model)
        self.update_status()
        self.refresh_bindings()
        self._worker = self._reply(self.thread, self.persona)

    @work(name="reply", exclusive=True, exit_on_error=False, group="reply")
    async def _reply(self, thread: Thread, persona: Persona | None) -> None:
        transcript = self.transcript
        try:
            message = await self.app.session.reply(thread, persona, TranscriptSink(transcript))
            transcript.end_reply(*shown_status(message))
            self._maybe_auto_title(thread, message)
        except asyncio.CancelledError:
            transcript.end_reply(STOPPED)
            raise
        except ProviderError as exc:
            self.show_error(exc)
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

    def _release(self) -> None:
        """Clear the send lock. Called from the worker's `finally`; also from the worker
        state handler, for a worker cancelled before its first step."""
        if not self.generating:
            return
        self.generating = False
        self.update_status()
        self.refresh_bindings()
        self.refresh_threads()

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
        worker.cancel()
        try:
            await worker.wait()
        except (WorkerCancelled, WorkerFailed):
            pass

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.generating or self.is_editing()
        if action == "retry":
            # Shown only when there is something to retry (a prompt without a finished
            # reply): the footer has room for the keys that apply now, not for all of them.
            return not self.generating and self.thread is not None and self.app.session.can_retry(self.thread)
        return True

    def action_stop(self) -> None:
        """Stop the reply being generated (its text is kept), or cancel an edit."""
        if self._worker is not None and self.generating:
            self._worker.cancel()
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
        if not self.app.session.can_retry(self.thread):
            self.notify("Nothing to retry: the last message already has a reply.", timeout=3)
            return
        self.generating = True
        try:
            self._start_reply()
        except BaseException:
            self.generating = False
            raise

    def action_focus_threads(self) -> None:
        """Move to the thread list."""
        self.query_one(ThreadList).focus()

    def action_focus_composer(self) -> None:
        """Move to the message box."""
        self.composer.focus()

    async def on_thread_list_chosen(self, event: ThreadList.Chosen) -> None:
        event.stop()
        if self.thread is not None and self.thread.id == event.thread_id:
            self.composer.focus()
            return
        await self.stop_reply()
        thread = self.app.store.get_thread(event.thread_id)
        if thread is None:
            self.notify("That thread no longer exists.", severity="warning")
            self.refresh_threads()
            return
        self.show_thread(thread)
        self.composer.focus()

    # -- search, jump to a message, copy ---------------------------------------------------

    def action_search(self) -> None:
        self.app.push_screen(SearchScreen(self.app.store), self._picked_hit)

    async def _picked_hit(self, picked: tuple[SearchHit, str] | None) -> None:
        if picked is None:
            return
        hit, query = picked
        # The longest word is the likeliest to survive Markdown rendering intact.
        terms = query.split()
        await self.open_thread(hit.thread_id, hit.message_id, find=max(terms, key=len) if terms else None)

    async def open_thread(self, thread_id: int, message_id: int | None = None, *, find: str | None = None) -> bool:
        """Show a thread; with `message_id`, scrolled to that message, which is highlighted
        and focused (c copies it). `find`: text to bring into view within the message.
        Returns False if the thread no longer exists."""
        same = self.thread is not None and self.thread.id == thread_id
        if not (same and self.generating):  # a reply streaming in it: just scroll there
            await self.stop_reply()
            thread = self.app.store.get_thread(thread_id)
            if thread is None:
                self.notify("That thread no longer exists.", severity="warning")
                self.refresh_threads()
                return False
            self.show_thread(thread)
        if message_id is None:
            self.composer.focus()
            return True
        try:
            position = self.app.store.message_position(thread_id, message_id)
        except LookupError:
            self.notify("That message no longer exists.", severity="warning")
            self.composer.focus()
            return True
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

    def _target_thread(self) -> Thread | None:
        """The highlighted thread while the list has focus, else the open one (fresh from
        the store, so its title is current)."""
        threads = self.query_one(ThreadList)
        target = threads.highlighted_thread_id if threads.has_focus else None
        if target is None and self.thread is not None:
            target = self.thread.id
        return self.app.store.get_thread(target) if target is not None else None

    def action_rename_thread(self) -> None:
        thread = self._target_thread()
        if thread is None:
            self.notify("Nothing to rename yet: send a message first.", timeout=3)
            return

        def renamed(title: str | None) -> None:
            if title is None:
                return
            try:
                self.app.store.set_title(thread.id, title)
            except LookupError:
                self.notify("That thread no longer exists.", severity="warning")
            self.refresh_threads()
            self.update_status()

        self.app.push_screen(
            TextPromptDialog("Rename thread", thread.title, placeholder="Title", max_length=200,
                             empty_message="The title cannot be empty."),
            renamed,
        )

    def action_delete_thread(self) -> None:
        thread = self._target_thread()
        if thread is None:
            self.notify("Nothing to delete: this thread has no messages yet.", timeout=3)
            return
        self._confirm_delete(thread)

    def on_thread_list_delete_requested(self, event: ThreadList.DeleteRequested) -> None:
        event.stop()
        thread = self.app.store.get_thread(event.thread_id)
        if thread is not None:
            self._confirm_delete(thread)

    def _confirm_delete(self, thread: Thread) -> None:
        count = self.app.store.message_count(thread.id)
        name = first_line(thread.title, 60) or "(untitled)"
        what = "" if count == 0 else " and its 1 message" if count == 1 else f" and its {count} messages"
        question = f"Delete \u201c{name}\u201d{what}? This cannot be undone."

        async def answered(confirmed: bool | None) -> None:
            if confirmed:
                await self.delete_thread(thread.id)

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
        self.app.store.delete_thread(thread_id)
        if self.thread is not None and self.thread.id == thread_id:
            self.thread = None
            self.show_new_thread()
        self.refresh_threads()
        if threads.has_focus and threads.highlighted is None and threads.option_count:
            # Keep the cursor where it was, on the thread that moved up.
            threads.highlighted = min(index or 0, threads.option_count - 1)
        self.notify("Thread deleted.", timeout=2)

    def _maybe_auto_title(self, thread: Thread, reply: Message) -> None:
        """After the first finished reply, ask for a title (auto_title = true in config)."""
        if not self.app.settings.auto_title or reply.status != DONE or not reply.content.strip():
            return
        prompts = [
            m for m in self.app.store.messages(thread.id) if m.role == "user" and m.status != SUPERSEDED
        ]
        stored = self.app.store.get_thread(thread.id)
        # Only a thread still named after its first message: a hand-made title stays.
        if len(prompts) != 1 or stored is None or stored.title != first_line(prompts[0].content):
            return
        self._auto_title(stored, prompts[0].content, reply.content)

    @work(name="auto-title", group="titles", exit_on_error=False)
    async def _auto_title(self, thread: Thread, prompt: str, reply: str) -> None:
        # Runs beside the chat, outside the send lock; any failure just means no new title.
        try:
            title = await titles.suggest_title(self.app.session.provider, thread.model, prompt, reply)
        except Exception:
            return
        stored = self.app.store.get_thread(thread.id)
        # Nothing usable, renamed by hand meanwhile, or deleted (SQLite may reuse the id
        # for a newer thread, hence created_at).
        if not title or stored is None or (stored.title, stored.created_at) != (thread.title, thread.created_at):
            return
        self.app.store.set_title(thread.id, title)
        self.refresh_threads()
        self.update_status()
