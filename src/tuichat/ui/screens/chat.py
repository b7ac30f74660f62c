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
from tuichat.core.models import DONE, ERROR, STOPPED, Message, Persona, Thread
from tuichat.core.text import sanitize
from tuichat.ui.screens.persona_picker import PersonaPicker
from tuichat.ui.widgets.composer import Composer
from tuichat.ui.widgets.thread_list import ThreadList
from tuichat.ui.widgets.transcript import LENGTH, Transcript

def shown_status(message: Message) -> tuple[str, str | None]:
    """The status and note the transcript shows under a reply that did not simply finish."""
    if message.status == ERROR:
        return ERROR, message.error or "the request failed"
    if message.status == DONE and message.finish_reason == "length":
        return LENGTH, None
    if message.status == DONE and message.finish_reason == "content_filter":
        return ERROR, "the server's content filter cut the reply off"
    return message.status, None


class TranscriptSink:
    """Streams provider text into the transcript (the session's ReplySink)."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript

    def on_text(self, text: str) -> None:
        self.transcript.append_reply(text)

    def on_reasoning(self, text: str) -> None:
        self.transcript.append_reasoning(text)


class ChatScreen(Screen[None]):
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
            yield ThreadList(id="threads")
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
        threads = self.app.store.list_threads(limit=200)
        self.query_one(ThreadList).show_threads(threads, self.thread.id if self.thread else None)

    def update_status(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("tuichat", style="bold")
        line.append(f"  {sanitize(self.persona.name if self.persona else '(no persona)')}", style="bold cyan")
        line.append(f" · {sanitize(self.model)} · {self.app.server_label}", style="dim")
        if self.thread is not None:
            line.append(f" · #{self.thread.id}", style="dim")
        if self.generating:
            line.append("  generating… (Esc to stop)", style="italic")
        self.query_one("#status", Static).update(line)

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
        if self.persona is None:
            transcript.add_notice(
                f"Persona {thread.persona!r} is no longer installed; continuing without its system prompt."
            )
        for message in self.app.store.messages(thread.id):
            if message.role == "system":
                continue
            status, note = shown_status(message)
            transcript.add_message(
                message.role, message.content, status=status,
                reasoning=message.reasoning, model=message.model, note=note,
            )
        self.query_one(ThreadList).mark_current(thread.id)
        self.update_status()

    # -- sending --------------------------------------------------------------------------

    def on_composer_submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        self.send(event.text)

    def send(self, text: str) -> None:
        """Send `text`, unless a reply is generating (then refuse and keep the draft)."""
        if self.generating:
            self.app.bell()
            self.notify("A reply is still generating. Press Esc to stop it; your draft is kept.",
                        title="Still generating", severity="warning", timeout=3)
            return
        if not self.app.api_key:
            self.notify(self.app.key_note or "No API key is configured.", title="No API key",
                        severity="error", timeout=8, markup=False)
            return
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
        self.notify(f"{detail}\nPress F5 to retry.", title=exc.title, severity="error", timeout=10, markup=False)

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
            return self.generating
        if action == "retry":
            return not self.generating and self.thread is not None
        return True

    def action_stop(self) -> None:
        if self._worker is not None and self.generating:
            self._worker.cancel()

    async def action_reset(self) -> None:
        """A fresh thread with the same persona and model; the old one stays in history."""
        await self.stop_reply()
        self.thread = None
        self.show_new_thread()
        self.notify("Started a fresh thread.", timeout=2)
        self.composer.focus()

    async def action_new_thread(self) -> None:
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
        self.query_one(ThreadList).focus()

    def action_focus_composer(self) -> None:
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
