"""One thread's state and every action on it, with no UI.

The chat screen holds one Conversation for the thread it shows (a new Conversation when
it switches); the slash commands and the keys call its methods. Whatever touches the
database is a coroutine run on the database thread, never on the UI's event loop. A reply
belongs to the app-wide `Replies` registry, not to the Conversation or the screen, so it
keeps streaming when the user moves to another thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tuichat.core.errors import TuichatError
from tuichat.core.models import SUPERSEDED, Message, Persona, Thread
from tuichat.core.prompt import KEEP_TURNS, active_summary, compact_range
from tuichat.core.tokens import Totals, totals
from tuichat.core.versions import plan_pick, prompt_ids, turns, version_labels
from tuichat.session.replies import LiveReply, ReplyViewer
from tuichat.store.threads import Store

if TYPE_CHECKING:
    from tuichat.session.workspace import Workspace

# Messages read per page of a thread: a few screens' worth even of one-line messages.
PAGE = 200


class BusyError(TuichatError):
    """The thread already has a reply in flight here (the per-thread send lock)."""


@dataclass
class Page:
    """A slice of a thread as stored, oldest first, with what the screen needs to show
    it: how many user/assistant messages are older, the version label of each live
    message that has several, and the reply streaming here (its row is shown live)."""

    messages: list[Message]
    older: int
    labels: dict[int, tuple[int, int]] = field(default_factory=dict)


def _read_page(store: Store, thread_id: int, before_id: int | None, limit: int) -> tuple[list[Message], int]:
    """Up to `limit` messages older than `before_id` (None: the last ones) and how many
    user/assistant messages are older still: two reads that belong together."""
    page = store.messages_before(thread_id, before_id, limit)
    return page, (store.count_before(thread_id, page[0].id) if page else 0)


def _version_and_tail(store: Store, thread_id: int, limit: int) -> tuple[int, tuple[list[Message], int]]:
    return store.data_version(), _read_page(store, thread_id, None, limit)


def make_page(messages: list[Message], older: int) -> Page:
    """Versions are counted within the page: a turn cut by the page's first row (only
    when older rows exist) may show fewer versions until the older page is read."""
    return Page(messages, older, version_labels(messages))


class Conversation:
    """A thread (or a thread not created yet: `thread` None until the first send) with
    its persona, model, system prompt and edit state."""

    def __init__(self, ws: Workspace, persona: Persona | None, model: str, thread: Thread | None = None, *,
                 server: str | None = None) -> None:
        self.ws = ws
        self.persona = persona
        self.thread = thread
        # The named server it talks to: the thread's, else the one asked for, else the
        # start server (recorded with the thread when it is created).
        self.server = (thread.server if thread is not None else None) or server or ws.start_server
        # An imported thread stores no model (''): the configured one is asked, its
        # original model stays a label on its replies.
        self.model = (thread.model if thread is not None and thread.model else None) or model
        self.title = thread.title if thread is not None else ""
        self.editing: Message | None = None  # the prompt whose new text is in the composer
        self.can_retry = False
        # Tokens the context held at the last counted reply (its prompt and itself), for
        # the status line's share of the context window.
        self.context_used: int | None = None
        # The context window the last send was fitted to (the server's, the price
        # table's or config.toml's), and where it cut: (first message sent, how many
        # older ones were not) when the oldest were left out.
        self.window: int | None = None
        self.cut: tuple[int, int] | None = None
        # With a /compact summary in force: the first message after those it stands for.
        self.summary_mark: int | None = None
        self.can_continue = False  # the last reply was cut off at the token limit
        self._pending = False  # a prompt is being saved: the lock is already taken
        self._stop_pending = False  # Esc while it was saved: the reply is not started

    # -- the lock ---------------------------------------------------------------------------

    @property
    def live(self) -> LiveReply | None:
        """The reply in flight in this thread (started here or before a switch)."""
        return self.ws.replies.get(self.thread.id if self.thread is not None else None)

    @property
    def busy(self) -> bool:
        return self._pending or self.live is not None

    @property
    def stopping(self) -> bool:
        live = self.live
        return (live is not None and live.stopping) or (self._pending and self._stop_pending)

    def stop(self) -> bool:
        """Stop the reply (its text is kept, as "stopped"). False if none is running."""
        live = self.live
        if live is not None:
            live.stop()
            self.ws.changed()
            return True
        if self._pending:
            self._stop_pending = True
            self.ws.changed()
            return True
        return False

    # -- sending ----------------------------------------------------------------------------

    @property
    def system_prompt(self) -> str:
        """The system prompt this thread sends: its own if set, else the persona's."""
        own = self.thread.system_prompt if self.thread is not None else None
        if own is not None:
            return own
        return self.persona.system_prompt if self.persona is not None else ""

    @property
    def has_own_system_prompt(self) -> bool:
        return self.thread is not None and self.thread.system_prompt is not None

    async def send(
        self, text: str, *, saved: Callable[[Message], ReplyViewer | None],
    ) -> LiveReply | None:
        """Store `text` as the next prompt (in place of the one being edited, if any),
        call `saved` (the composer may let go of it now; it returns what shows the reply,
        if anything does), then start the reply. Raises
        BusyError while a reply runs here, TuichatError when the database refuses (the
        text is not stored then), LookupError if the thread was deleted meanwhile."""
        if self.busy:
            raise BusyError("A reply is still generating", "Press Esc to stop it; your draft is kept.")
        self._pending, self._stop_pending = True, False
        self.ws.changed()
        try:
            if self.thread is None:
                self.thread = await self._create_thread()
            editing, self.editing = self.editing, None
            prompt = None
            if editing is not None and editing.thread_id == self.thread.id:
                prompt = await self._commit_edit(editing, text)
            if prompt is None:
                prompt = await self.ws.session.save_prompt(self.thread, text)
            if not self.title:
                self.title = prompt.content.split("\n", 1)[0][:80]
            viewer = saved(prompt)
            if self._stop_pending:
                self.can_retry = True  # stored, not answered: F5 asks for it
                return None
            live = self._start(viewer)
            live.new_version = editing is not None
            return live
        finally:
            self._pending = self._stop_pending = False
            self.ws.changed()

    def _start(self, viewer: ReplyViewer | None, continuing: Message | None = None,
               summarise: int | None = None) -> LiveReply:
        assert self.thread is not None
        self.can_retry = False
        own = self.thread.system_prompt
        return self.ws.replies.start(self.thread, self.persona, self.model, viewer, system_prompt=own,
                                     continuing=continuing, summarise=summarise)

    async def compact(self, viewer: ReplyViewer | None) -> tuple[LiveReply, int]:
        """/compact: summarise what is sent now but the newest turns into one message,
        streamed like a reply; from then on it is sent in their place (they stay stored
        and shown). Returns the reply and how many messages it summarises. TuichatError
        when there is too little to summarise, BusyError while a reply runs here."""
        if self.busy:
            raise BusyError("A reply is still generating", "Press Esc to stop it, then /compact.")
        if self.thread is None:
            raise TuichatError("Nothing to compact yet", "Compacting summarises the earlier part of a thread.")
        self._pending = True
        self.ws.changed()
        try:
            found = compact_range(await self.ws.db.messages(self.thread.id))
            if found is None:
                raise TuichatError("Nothing to compact yet", f"/compact keeps the newest {KEEP_TURNS} turns as they "
                                   "are and summarises what came before; this thread has nothing before them.")
            upto, count = found
            live = self._start(viewer, summarise=upto)
            live.new_version = True  # read back when done: the transcript shows it as a summary
            return live, count
        finally:
            self._pending = False
            self.ws.changed()

    async def uncompact(self) -> bool:
        """/compact undo: the summary in force is kept but no longer sent; the messages
        it stood for are sent again. False when no summary is in force."""
        if self.thread is None or self.busy:
            return False
        summary = active_summary(await self.ws.db.messages(self.thread.id))
        if summary is None:
            return False
        await self.ws.db.update_message(summary.id, status=SUPERSEDED)
        return True

    async def _commit_edit(self, prompt: Message, text: str) -> Message | None:
        try:
            return await self.ws.session.edit_commit(self.thread, prompt.id, text)  # type: ignore[arg-type]
        except LookupError:
            return None  # replaced meanwhile: sent as a new message instead

    async def retry(self, viewer: ReplyViewer | None) -> LiveReply | None:
        """Ask again for the reply to the last prompt (after an error). None if there is
        nothing to retry (the last prompt has a reply: another window answered it)."""
        if self.thread is None or self.busy:
            return None
        self._pending = True
        try:
            if not await self.ws.session.can_retry(self.thread):
                self.can_retry = False
                return None
            return self._start(viewer)
        finally:
            self._pending = False
            self.ws.changed()

    async def continue_reply(self, viewer: ReplyViewer | None) -> LiveReply | None:
        """Go on with the last reply, cut off at the token limit: the model is asked to
        continue and its words are added to the same reply. None when it was not cut.
        BusyElsewhereError while another window writes a reply here."""
        if self.thread is None or self.busy:
            return None
        self._pending = True
        self.ws.changed()
        try:
            cut = await self.ws.session.continue_prepare(self.thread)
            self.can_continue = False
            if cut is None:
                return None
            self.editing = None
            return self._start(viewer, continuing=cut)
        finally:
            self._pending = False
            self.ws.changed()

    async def regenerate(self, viewer: ReplyViewer | None) -> LiveReply | None:
        """A new reply to the last prompt; the old one stays as an earlier version. None
        when the thread has no prompt yet. BusyElsewhereError while another window writes."""
        if self.thread is None or self.busy:
            return None
        self._pending = True
        self.ws.changed()
        try:
            if await self.ws.session.regenerate_prepare(self.thread) is None:
                return None
            self.editing = None
            live = self._start(viewer)
            live.new_version = True
            return live
        finally:
            self._pending = False
            self.ws.changed()

    async def start_edit(self) -> Message | None:
        """The last prompt, to edit and send again (nothing changes until it is sent)."""
        if self.thread is None:
            return None
        prompt = await self.ws.session.edit_prepare(self.thread)
        self.editing = prompt
        return prompt

    def cancel_edit(self) -> Message | None:
        prompt, self.editing = self.editing, None
        return prompt

    # -- reading ----------------------------------------------------------------------------

    async def read_tail(self) -> Page:
        assert self.thread is not None
        page, older = await self.ws.db.call(_read_page, self.ws.db.store, self.thread.id, None, PAGE)
        return make_page(page, older)

    async def read_tail_as_of(self) -> tuple[int, Page]:
        """The last page and the database's data_version, read together: whether another
        connection wrote since is then known for sure."""
        assert self.thread is not None
        version, (page, older) = await self.ws.db.call(_version_and_tail, self.ws.db.store, self.thread.id, PAGE)
        return version, make_page(page, older)

    async def read_older(self, before_id: int, at_least: int) -> Page:
        assert self.thread is not None
        page, older = await self.ws.db.call(_read_page, self.ws.db.store, self.thread.id, before_id,
                                            max(at_least, 1))
        return make_page(page, older)

    async def refresh(self) -> bool:
        """Re-read the title, the system prompt and whether F5 has something to retry.
        False if the thread no longer exists."""
        if self.thread is None:
            self.can_retry = False
            return True
        stored = await self.ws.db.get_thread(self.thread.id)
        if stored is None:
            return False
        can_retry = await self.ws.session.can_retry(self.thread)
        self.title = stored.title
        self.thread.title = stored.title
        self.thread.system_prompt = stored.system_prompt
        self.can_retry = can_retry and not self.busy
        return True

    async def position_of(self, message_id: int) -> int:
        assert self.thread is not None
        return await self.ws.db.message_position(self.thread.id, message_id)

    # -- changing the thread ------------------------------------------------------------------

    async def rename(self, title: str) -> None:
        if self.thread is None:
            raise LookupError("no thread yet")
        await self.ws.db.set_title(self.thread.id, title)
        self.thread.title = self.title = title

    async def _create_thread(self) -> Thread:
        return await self.ws.db.create_thread(self.persona.name if self.persona else "", self.model,
                                              server=self.server)

    async def set_model(self, name: str, server: str | None = None) -> None:
        """Use `name` (on `server`, when given) from the next message on, stored with the thread."""
        self.model = name
        if server is not None:
            self.server = server
        if self.thread is not None:
            self.thread.model = name
            if server is not None:
                self.thread.server = server
            await self.ws.db.set_model(self.thread.id, name, server)

    async def usage(self) -> Totals:
        """What this thread's replies used, from the stored counts (all versions)."""
        if self.thread is None:
            return Totals()
        return totals(await self.ws.db.messages(self.thread.id))

    async def set_system_prompt(self, text: str | None) -> None:
        """The thread's own system prompt (None: back to the persona's). The persona
        file is never touched. A thread not created yet is created for it."""
        if self.thread is None:
            self.thread = await self._create_thread()
        await self.ws.db.set_system_prompt(self.thread.id, text)
        self.thread.system_prompt = text

    async def pick_version(self, message_id: int, step: int) -> tuple[int, int] | None:
        """Show the previous (step -1) or next (+1) version of the turn that `message_id`
        (a live prompt or reply) belongs to; the version shown is the one sent from now
        on. Returns the new (index, count), or None when the message has no versions."""
        if self.thread is None or self.busy:
            return None
        messages = await self.ws.db.messages(self.thread.id)
        for turn in turns(messages):
            live = turn.versions[turn.live]
            ids = {live.prompt.id, live.reply.id if live.reply is not None else None}
            if message_id in ids and turn.count > 1:
                index = turn.live + step
                if not 0 <= index < turn.count:
                    return turn.live + 1, turn.count
                restore, supersede = plan_pick(turn, index)
                await self.ws.db.pick_version(self.thread.id, restore, supersede, prompt_ids(turn))
                return index + 1, turn.count
        return None

    async def export(self, fmt: str) -> str:
        """Write the thread to a new file in the export folder; its path."""
        assert self.thread is not None
        return await self.ws.export(self.thread.id, fmt)
