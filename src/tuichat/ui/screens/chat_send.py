"""Sending from the chat screen, and how replies end on it.

Enter, F5, Ctrl+G and the edit keys ask the conversation; the reply itself runs in the
conversation layer's `Replies` (it outlives a thread switch). The Sender is also that
registry's listener: every reply's start and end reach it, shown or not, so the thread
list marks live threads and an error in a thread in the background is still said.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING

from textual.actions import SkipAction

from tuichat.core.errors import BusyElsewhereError, ProviderError, TuichatError
from tuichat.core.models import ERROR, INTERRUPTED, STOPPED, Message
from tuichat.core.text import clean_line, first_line, sanitize
from tuichat.core.tokens import context_used, reply_stats, truncation_advice
from tuichat.session.conversation import BusyError, Conversation
from tuichat.session.replies import LiveReply
from tuichat.ui.screens.chat_view import shown_status

if TYPE_CHECKING:
    from tuichat.ui.screens.chat import ChatScreen


class TranscriptViewer:
    """Streams a reply's text into the transcript (attached while its thread is shown)."""

    def __init__(self, screen: ChatScreen) -> None:
        self.transcript = screen.transcript

    def on_begin(self, live: LiveReply) -> None:
        self.transcript.begin_reply(live.model)

    def on_text(self, text: str) -> None:
        self.transcript.append_reply(text)

    def on_reasoning(self, text: str) -> None:
        self.transcript.append_reasoning(text)


class Sender:
    """Send, retry, regenerate, edit; the lock refusal; a reply's end on screen."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen

    def viewer(self) -> TranscriptViewer:
        return TranscriptViewer(self.screen)

    # -- the lock, as the send path applies it ---------------------------------------------

    def refuse_busy(self) -> bool:
        """Ring and explain when this thread's reply is generating. True if refused."""
        screen = self.screen
        if screen.conv.stopping:
            # Stopped, but its final write waits for the database (another program holds it).
            screen.app.bell()
            screen.notify("The stopped reply is still being saved (the database is busy). Your draft is kept.",
                          title="Still saving", severity="warning", timeout=4)
            return True
        if screen.conv.busy:
            screen.app.bell()
            screen.notify("A reply is still generating in this thread. Press Esc to stop it, or send in "
                          "another thread; your draft is kept.", title="Still generating",
                          severity="warning", timeout=3)
            return True
        if not screen.app.api_key:
            screen.notify(screen.app.key_note or "No API key is configured.", title="No API key",
                          severity="error", timeout=8, markup=False)
            return True
        return False

    def stop(self) -> None:
        """Esc: the reply is over on screen at once; its final write may still wait."""
        screen = self.screen
        live = screen.conv.live
        if screen.conv.stop() and live is not None and live.viewer is not None:
            screen.transcript.end_reply(STOPPED)

    # -- sending -----------------------------------------------------------------------------

    def send(self, text: str, typed: str | None = None) -> None:
        """Send `text`, unless a reply is generating here (then refuse, keep the draft).
        The text (`typed`, as it is in the composer, if it differs: `//x` sends `/x`)
        leaves the composer only once it is stored."""
        if self.refuse_busy():
            return
        screen = self.screen
        conv = screen.conv
        balance = screen.balance
        if balance is not None and balance.over and not screen.over_budget_ok:
            from tuichat.ui.screens.dialogs import ConfirmDialog

            def answered(confirmed: bool | None) -> None:
                if confirmed:
                    screen.over_budget_ok = True  # asked once an app run
                    screen.run_worker(self._send(conv, text, typed or text), group="send", exit_on_error=False)

            screen.app.push_screen(ConfirmDialog(
                "Over this month's budget", f"{balance.long()}\nSend anyway? (Raise [budget] in config.toml to "
                "stop this question.)", confirm_label="Send"), answered)
            return  # the text stays in the composer until it is sent
        screen.run_worker(self._send(conv, text, typed or text), group="send", exit_on_error=False)

    async def _send(self, conv: Conversation, text: str, typed: str) -> None:
        screen = self.screen
        editing = conv.editing is not None

        def saved(prompt: Message) -> TranscriptViewer | None:
            self.clear_sent(typed)
            screen.view.refresh_threads()
            if screen.conv is not conv:
                return None  # the user moved on while it was stored: it goes on unseen
            if editing:
                # The old prompt and reply become an earlier version: read back.
                screen.run_worker(screen.view.show(conv), group="open", exclusive=True, exit_on_error=False)
                return None
            screen.view.unsynced()
            screen.transcript.add_message("user", text, message_id=prompt.id)
            screen.transcript.follow()  # your message and its reply, even if you had scrolled up
            screen.update_status()
            return self.viewer()

        try:
            await conv.send(text, saved=saved)
        except BusyError:
            self.refuse_busy()
        except LookupError:
            screen.view.thread_gone(conv)  # the text stays in the box: Enter sends it anew
        except TuichatError as exc:  # locked, read-only, busy elsewhere: not sent
            self.report(exc, kept=True)

    def clear_sent(self, text: str) -> None:
        """Take the sent `text` out of the composer, keeping what was typed after it
        while it was being stored."""
        composer = self.screen.composer
        current = composer.text
        if current.rstrip("\n") == text:
            composer.clear()
        elif current.startswith(text):
            composer.text = current[len(text):].lstrip("\n")
            composer.move_cursor(composer.document.end)

    def retry(self) -> None:
        screen = self.screen
        conv = screen.conv
        if conv.busy or conv.thread is None:
            return
        if not conv.can_retry:
            screen.notify("Nothing to retry: the last message already has a reply.", timeout=3)
            return
        screen.run_worker(self._retry(conv), group="send", exit_on_error=False)

    async def _retry(self, conv: Conversation) -> None:
        try:
            live = await conv.retry(self._viewer_if_shown(conv))
        except TuichatError as exc:
            self.report(exc)
            return
        if live is None:
            self.screen.notify("Nothing to retry: the last message already has a reply.", timeout=3)

    def _viewer_if_shown(self, conv: Conversation) -> TranscriptViewer | None:
        if self.screen.conv is conv:
            self.screen.view.unsynced()
            self.screen.transcript.follow()
            return self.viewer()
        return None

    def regenerate(self) -> None:
        screen = self.screen
        if self.refuse_busy():
            return
        if screen.conv.thread is None:
            screen.notify("Nothing to regenerate yet.", timeout=3)
            return
        screen.run_worker(self._regenerate(screen.conv), group="send", exit_on_error=False)

    async def _regenerate(self, conv: Conversation) -> None:
        # The old reply becomes an earlier version: the thread is shown without it.
        await self._restart(conv, conv.regenerate(None), "Nothing to regenerate yet.")

    async def _restart(
        self, conv: Conversation, start: Awaitable[LiveReply | None], nothing: str, timeout: float = 3
    ) -> None:
        """Start a reply that replaces or extends what the transcript shows, then show the
        thread again: it re-attaches the viewer to the live reply (its text so far)."""
        screen = self.screen
        try:
            live = await start
        except TuichatError as exc:
            self.report(exc)
            return
        if live is None:
            screen.notify(nothing, timeout=timeout)
            return
        if screen.conv is conv:
            await screen.view.show(conv)
            screen.transcript.follow()

    # -- continue a reply cut off at the token limit ------------------------------------------

    def continue_reply(self) -> None:
        screen = self.screen
        if self.refuse_busy():
            return
        if not screen.conv.can_continue:
            screen.notify("Only a reply cut off at the token limit can be continued.", timeout=3)
            return
        screen.run_worker(self._continue(screen.conv), group="send", exit_on_error=False)

    async def _continue(self, conv: Conversation) -> None:
        await self._restart(conv, conv.continue_reply(None),
                            "That reply can no longer be continued (changed in another window?).", timeout=4)

    async def compact(self) -> bool:
        """/compact: the summary streams in like a reply (Esc stops it; a summary that
        does not finish changes nothing)."""
        screen = self.screen
        if self.refuse_busy():
            return False
        conv = screen.conv
        counted: list[int] = []

        async def start() -> LiveReply | None:
            live, count = await conv.compact(None)
            counted.append(count)
            return live

        await self._restart(conv, start(), "Nothing to compact yet.")
        if counted:
            n = counted[0]
            screen.notify(f"Summarising {n:,} earlier message{'s' if n != 1 else ''}…", timeout=4, markup=False)
        return bool(counted)

    # -- edit the last prompt and send it again ----------------------------------------------

    def start_edit(self) -> None:
        screen = self.screen
        if self.refuse_busy():
            return
        if screen.conv.thread is None:
            screen.notify("Nothing to edit yet: no message has been sent in this thread.", timeout=3)
            return
        screen.run_worker(self._start_edit(screen.conv), group="edit", exit_on_error=False)

    async def _start_edit(self, conv: Conversation) -> None:
        screen = self.screen
        composer = screen.composer
        if composer.text.strip():
            # Never overwrite a draft: the user clears or sends it first.
            screen.app.bell()
            screen.notify("The composer holds a draft. Send or clear it first, then edit.",
                          title="Draft kept", severity="warning", timeout=4)
            return
        try:
            prompt = await conv.start_edit()
        except TuichatError as exc:
            self.report(exc)
            return
        if screen.conv is not conv or conv.busy:
            conv.cancel_edit()
            return  # the user moved on while the prompt was read
        if prompt is None:
            screen.notify("Nothing to edit yet: no message has been sent in this thread.", timeout=3)
            return
        if composer.text.strip():
            conv.cancel_edit()
            return  # typed meanwhile: the user's text wins
        # The text may be imported or pasted: the box shows its controls as symbols (␛)
        # and bidi overrides as marks, never raw; that shown text is what gets edited.
        composer.text = sanitize(prompt.content)
        composer.move_cursor(composer.document.end)
        composer.focus()
        screen.update_status()

    def cancel_edit(self) -> None:
        screen = self.screen
        prompt = screen.conv.cancel_edit()
        if prompt is not None and screen.composer.text == sanitize(prompt.content):
            screen.composer.clear()  # untouched: nothing of the user's is lost
        else:
            screen.notify("Edit cancelled; your text stays in the composer.", timeout=3)
        screen.update_status()

    # -- versions ------------------------------------------------------------------------------

    def flip_version(self, step: int) -> None:
        screen = self.screen
        conv = screen.conv
        transcript = screen.transcript
        message_id = transcript.cursor_message_id if transcript.has_focus else None
        message_id = message_id or transcript.last_reply_message_id
        if conv.thread is None or message_id is None:
            raise SkipAction()
        if conv.busy:
            self.refuse_busy()
            return
        screen.run_worker(self._flip(conv, message_id, step), group="versions", exclusive=True,
                          exit_on_error=False)

    async def _flip(self, conv: Conversation, message_id: int, step: int) -> None:
        screen = self.screen
        try:
            result = await conv.pick_version(message_id, step)
        except TuichatError as exc:
            self.report(exc)
            return
        if result is None:
            screen.notify("This reply has no other versions (Ctrl+G makes one).", timeout=3)
            return
        index, count = result
        if screen.conv is conv:
            await screen.view.show(conv, keep_position=True)
        screen.notify(f"Version {index} of {count}: this one is sent from now on.", timeout=2)

    # -- how replies end (the Replies listener) ------------------------------------------------

    def reply_started(self, live: LiveReply) -> None:
        viewer = live.viewer
        if viewer is not None:
            viewer.on_begin(live)
        self.screen.sync_lock()

    def reply_ended(self, live: LiveReply) -> None:
        screen = self.screen
        if not screen.is_attached:
            return  # quitting: nothing left to show
        if screen.ws.budget is not None:
            screen.run_worker(screen.layout_part.refresh_balance(), group="balance", exclusive=True, exit_on_error=False)
        shown = screen.conv.thread is not None and screen.conv.thread.id == live.thread.id
        screen.sync_lock()
        if shown and live.viewer is not None:
            self._show_end(live)
        elif live.error is not None:
            title = first_line(live.thread.title, 40) or f"thread #{live.thread.id}"
            screen.notify(f"The reply in “{clean_line(title)}” failed: {sanitize(live.error.title)}",
                          title="Reply failed", severity="error", timeout=8, markup=False)
        live.viewer = None
        screen.view.refresh_threads()
        if shown:
            conv = screen.conv
            conv.can_retry = live.status == ERROR
            # A new version: read back, so the reply shows its ‹ n/m › label.
            work = screen.view.show(conv, keep_position=True) if live.new_version else screen.view.refresh_state(conv)
            screen.run_worker(work, group="thread-state", exclusive=True, exit_on_error=False)
        screen.update_status()
        screen.refresh_bindings()

    def _show_end(self, live: LiveReply) -> None:
        transcript = self.screen.transcript
        row = live.message_id
        if live.status in (STOPPED, INTERRUPTED):
            transcript.end_reply(live.status, message_id=row)
        elif live.error is not None:
            if isinstance(live.error, ProviderError):
                self.show_error(live.error, message_id=row)
            else:  # nothing was streamed: the database refused
                transcript.end_reply(ERROR, f"{live.error.title}. {live.error.detail}", message_id=row)
                self.report(live.error)
        elif live.message is not None:
            message = live.message
            transcript.end_reply(*shown_status(message), message_id=row, stats=reply_stats(message))
            conv = self.screen.conv
            if (used := context_used([message])) is not None:
                conv.context_used = used
            conv.can_continue = message.cut_off
            conv.window = message.window or conv.window
            conv.cut = (message.cut_before, message.left_out) if message.cut_before is not None else None
            self.screen.view.mark_cut(conv)
            if message.left_out:
                n = message.left_out
                self.screen.notify(f"{n:,} earlier message{'s were' if n != 1 else ' was'} not sent: the thread "
                                   "no longer fits the model's context (marked in the conversation).",
                                   title="Context full", timeout=6, markup=False)
            if message.prompt_cut is not None and message.usage is not None:
                advice = truncation_advice(message.prompt_cut, message.usage.prompt_tokens)
                self.screen.say(advice)
                self.screen.notify(advice, title="The prompt was cut", severity="warning", timeout=12, markup=False)
        else:
            transcript.end_reply(STOPPED, message_id=row)

    def reply_storage_error(self, live: LiveReply, message: str) -> None:
        # Once per reply (the session says so once): the text goes on streaming.
        self.screen.notify(message, title="Not saved yet", severity="warning", timeout=10, markup=False)

    def show_error(self, exc: ProviderError, *, message_id: int | None = None) -> None:
        screen = self.screen
        detail = exc.detail
        if exc.kind == "auth" and screen.app.key_note:
            detail = f"{detail} {screen.app.key_note}".strip()
        screen.transcript.end_reply(ERROR, f"{exc.title}. {detail}  (F5 retries)", message_id=message_id)
        # Server error bodies are untrusted: inert in the toast as in the transcript.
        screen.notify(f"{sanitize(detail)}\nPress F5 to retry.", title=clean_line(exc.title),
                      severity="error", timeout=10, markup=False)

    def report(self, exc: TuichatError, *, kept: bool = False) -> None:
        """A database or session refusal in plain words (never a traceback)."""
        detail = exc.detail
        if kept:
            detail = f"{detail} Your message stays in the box.".strip()
        severity = "warning" if isinstance(exc, BusyElsewhereError) else "error"
        self.screen.notify(sanitize(detail) or clean_line(exc.title), title=clean_line(exc.title),
                           severity=severity, timeout=8, markup=False)
