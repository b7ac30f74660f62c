"""What the chat screen's transcript and thread list show, and keeping them current.

A thread is read a page at a time off the event loop (older pages as the user scrolls
up); a reply still generating in it is shown live, whoever started it in this window;
what other windows write shows up within a second (one cheap PRAGMA per poll).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuichat.core.errors import TuichatError
from tuichat.core.models import DONE, ERROR, SUPERSEDED, Message, Thread
from tuichat.core.prompt import active_summary
from tuichat.core.tokens import context_used, reply_stats
from tuichat.session.conversation import Conversation, Page
from tuichat.ui.widgets.thread_panel import ThreadPanel
from tuichat.ui.widgets.transcript import LENGTH, Shown

if TYPE_CHECKING:
    from tuichat.ui.screens.chat import ChatScreen

# How often the screen asks whether another process changed the database.
POLL_SECONDS = 0.5


def shown_status(message: Message) -> tuple[str, str | None]:
    """The status and note the transcript shows under a reply that did not simply finish."""
    if message.status == ERROR:
        return ERROR, message.error or "the request failed"
    if message.cut_off:
        return LENGTH, None
    if message.status == DONE and message.finish_reason == "content_filter":
        return ERROR, "the server's content filter cut the reply off"
    return message.status, None


def shown_messages(page: Page, skip: int | None = None) -> list[Shown]:
    """A page as the transcript shows it: system rows and earlier versions are not
    shown (the live version carries its ‹ n/m › label); `skip` is a row shown live."""
    shown = []
    for message in page.messages:
        summary = message.summary_of is not None
        if message.role == "system" or message.id == skip or (message.status == SUPERSEDED and not summary):
            continue
        status, note = shown_status(message)
        stats = reply_stats(message) if message.role == "assistant" else None
        # A summary is shown as one, in force, undone, stopped or failed (only one that
        # finished and was not undone is sent).
        role = "summary" if summary else message.role
        shown.append(Shown(role, message.content, status, message.reasoning, message.model, note,
                           message.id, page.labels.get(message.id), stats))
    return shown


def _summary_boundary(messages: list[Message]) -> int | None:
    """The first message shown after those a /compact summary in force stands for."""
    summary = active_summary(messages)
    if summary is None or summary.summary_of is None:
        return None
    for message in messages:
        if message.id > summary.summary_of and message.role in ("user", "assistant") \
                and message.status != SUPERSEDED:
            return message.id
    return None


def _signature(page: Page) -> tuple[tuple[object, ...], ...]:
    """What the transcript shows of a page: equal signatures mean nothing to redraw."""
    return tuple((m.id, m.status, len(m.content), len(m.reasoning), m.error) for m in page.messages)


class ThreadView:
    """Shows the screen's conversation in the transcript and the thread list."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self._showing = 0  # bumped by each show: a slower, older one is dropped
        self._sig: tuple[tuple[object, ...], ...] | None = None
        self._data_version: int | None = None
        self._polling = False

    @property
    def transcript(self):  # noqa: ANN201
        return self.screen.transcript

    # -- switching threads ------------------------------------------------------------------

    def adopt(self, conv: Conversation) -> None:
        """Make `conv` the screen's conversation. A reply generating in the one left keeps
        going (in the background); it is only no longer shown."""
        self._detach()
        self.screen.conv = conv
        self.screen.sync_lock()

    def switch(self, conv: Conversation) -> None:
        """Adopt `conv` and show it (a new thread at once, a stored one once it is read)."""
        screen = self.screen
        self.adopt(conv)
        if conv.thread is None:
            self.show_new()
        else:
            screen.run_worker(self.show(conv), group="open", exclusive=True, exit_on_error=False)

    def _detach(self) -> None:
        live = self.screen.conv.live
        if live is not None:
            live.viewer = None

    def show_new(self) -> None:
        screen = self.screen
        self._showing += 1  # a thread still being read must not replace this one
        self._detach()
        self.transcript.clear()
        self._sig = None
        persona = screen.conv.persona
        if persona is not None:
            if persona.greeting:
                self.transcript.add_notice(f"{persona.name}: {persona.greeting}")
            else:
                self.transcript.add_notice(f"New thread with {persona.name}: {persona.description}")
        screen.thread_list.mark_current(None)
        screen.update_status()
        screen.refresh_bindings()

    async def show(self, conv: Conversation, *, keep_position: bool = False) -> bool:
        """Read the thread's last page (off the event loop) and show it, with its live
        reply if one is generating. False if a newer show came first or reading failed."""
        screen = self.screen
        self._showing += 1
        showing = self._showing
        try:
            page = await conv.read_tail()
        except TuichatError as exc:
            screen.report(exc)
            return False
        if showing != self._showing or screen.conv is not conv:
            return False
        transcript = self.transcript
        following, y = transcript.following, transcript.scroll_y
        self._display(conv, page)
        if keep_position and not following:  # the user is reading further up: stay there
            transcript.call_after_refresh(transcript.scroll_to, y=y, animate=False)
        assert conv.thread is not None
        screen.thread_list.mark_current(conv.thread.id)
        screen.update_status()
        screen.run_worker(self.refresh_state(conv), group="thread-state", exclusive=True, exit_on_error=False)
        return True

    def _display(self, conv: Conversation, page: Page) -> None:
        screen, transcript = self.screen, self.transcript
        live = conv.live
        transcript.clear()
        self._sig = _signature(page)
        conv.context_used = context_used(page.messages)
        conv.can_continue = bool(page.messages) and page.messages[-1].cut_off and conv.live is None
        # The last page only: a thread of thousands of messages opens as fast as a short
        # one, and the transcript asks for older pages as the user scrolls up.
        skip = live.message_id if live is not None else None
        for shown in shown_messages(page, skip):
            transcript.add_message(shown.role, shown.content, status=shown.status, reasoning=shown.reasoning,
                                   model=shown.model, note=shown.note, message_id=shown.message_id,
                                   version=shown.version, stats=shown.stats)
        conv.summary_mark = _summary_boundary(page.messages)
        self.mark_cut(conv)
        if page.messages:
            oldest = page.messages[0].id

            async def load_older(at_least: int) -> tuple[list[Shown], int]:
                nonlocal oldest
                older = await conv.read_older(oldest, at_least)
                if not older.messages:
                    return [], 0
                oldest = older.messages[0].id
                return shown_messages(older), older.older

            transcript.show_older(load_older, page.older)
        if conv.persona is None and conv.thread is not None:
            transcript.add_notice(
                f"Persona {conv.thread.persona!r} is no longer installed; continuing without its system prompt."
            )
        if live is not None:
            # Generating since before the switch: shown as it is now, then live.
            transcript.begin_reply(live.model)
            if live.reasoning:
                transcript.append_reasoning(live.reasoning_text)
            if live.text:
                transcript.append_reply(live.content)
            if live.stopping:
                transcript.end_reply("stopped")
            live.viewer = screen.sender.viewer()

    def mark_cut(self, conv: Conversation) -> None:
        """Mark where the last send of `conv` began when it left older messages out."""
        if conv is not self.screen.conv:
            return
        if conv.cut is None:
            # Else, with a /compact summary in force, where the messages it stands for end.
            mark = conv.summary_mark
            self.transcript.mark_cut(mark, "the messages above are sent as the summary below (/compact)")
            return
        first, count = conv.cut
        words = f"{count:,} earlier message{'s' if count != 1 else ''} not sent (they do not fit the model's context)"
        self.transcript.mark_cut(first, words)

    @property
    def synced(self) -> bool:
        """What the transcript shows is known to match the stored tail."""
        return self._sig is not None

    def unsynced(self) -> None:
        """This window added to the transcript (its own prompt, its reply)."""
        self._sig = None

    async def refresh_state(self, conv: Conversation) -> None:
        """Re-read the title and what F5 would retry, off the loop; and take note of
        what this window stored itself, so another window's change elsewhere does not
        redraw it."""
        try:
            exists = await conv.refresh()
            if exists and self._sig is None and not conv.busy and conv.thread is not None:
                showing = self._showing
                version, page = await conv.read_tail_as_of()
                if version == self._data_version and showing == self._showing and not conv.busy:
                    self._sig = _signature(page)
        except TuichatError:
            return  # the next change tries again; the old state stays meanwhile
        if self.screen.conv is not conv:
            return
        if not exists:
            self.thread_gone(conv)
            return
        self.screen.update_status()
        self.screen.refresh_bindings()

    def thread_gone(self, conv: Conversation) -> None:
        """The open thread was deleted (in another window): a new thread takes its place,
        so the next Enter sends instead of being refused for a thread that is gone."""
        screen = self.screen
        if screen.conv is not conv:
            return
        self.adopt(screen.ws.conversation(conv.persona, conv.model, server=conv.server))
        self.show_new()
        self.refresh_threads()
        screen.say("This thread was deleted in another window; what you send now starts a new thread.")

    # -- the thread list ----------------------------------------------------------------------

    def refresh_threads(self, *, keep_highlight: bool = False) -> None:
        """Re-read the thread list (off the event loop; a newer refresh replaces one
        still reading)."""
        self.screen.run_worker(self.refresh_threads_now(keep_highlight=keep_highlight), group="threads",
                               exclusive=True, exit_on_error=False)

    async def refresh_threads_now(self, *, keep_highlight: bool = False) -> None:
        screen = self.screen
        panel = screen.query_one(ThreadPanel)
        ws, text = screen.ws, panel.filter_text

        async def load(limit: int, offset: int) -> list[Thread]:
            return await ws.threads_page(text, limit, offset)

        # A page at a time (the list asks for the next as it is scrolled): cheap at
        # start-up and per keystroke of the filter, however long the history.
        thread = screen.thread
        await panel.show_threads(load, thread.id if thread else None, keep_highlight=keep_highlight)
        screen.thread_list.set_live(ws.replies.thread_ids)

    # -- other windows: what they write shows up here within a second -----------------------

    async def baseline(self) -> None:
        try:
            # Before anything is read: every outside change from now on is noticed.
            self._data_version = await self.screen.ws.data_version()
        except TuichatError:
            pass

    def start_polling(self) -> None:
        self.screen.set_interval(POLL_SECONDS, self._poll)

    def _poll(self) -> None:
        if not self._polling and self.screen.ready:
            self._polling = True
            self.screen.run_worker(self._check_changes(), group="poll", exit_on_error=False)

    async def _check_changes(self) -> None:
        """PRAGMA data_version changes only when another connection commits: unchanged,
        nothing else is read."""
        screen = self.screen
        try:
            version = await screen.ws.data_version()
            if self._data_version is None or version == self._data_version:
                # None: the first read at start-up failed (a lock); this is the baseline.
                self._data_version = version
                return
            self._data_version = version
            await self.refresh_threads_now(keep_highlight=True)
            conv = screen.conv
            if conv.thread is not None and not conv.busy:
                await self.reload_if_changed(conv)
        except TuichatError:
            pass  # locked or unreadable now: the next poll tries again
        finally:
            self._polling = False

    async def reload_if_changed(self, conv: Conversation) -> None:
        """Show the thread again if what is stored differs from what is shown (another
        window wrote, or this window's reply ended: ids and version labels are then
        read back), keeping the user's place."""
        showing = self._showing
        page = await conv.read_tail()
        if showing != self._showing or self.screen.conv is not conv or conv.busy:
            return
        if not page.messages and await self.screen.ws.get_thread(conv.thread.id) is None:  # type: ignore[union-attr]
            self.thread_gone(conv)
            return
        if _signature(page) != self._sig:
            transcript = self.transcript
            following, y = transcript.following, transcript.scroll_y
            self._display(conv, page)
            if not following:
                transcript.call_after_refresh(transcript.scroll_to, y=y, animate=False)
        await self.refresh_state(conv)
