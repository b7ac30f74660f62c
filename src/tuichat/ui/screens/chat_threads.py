"""Moving between threads and managing them from the chat screen: open one (from the
list or a search hit), rename, delete, and copying what is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuichat.core.errors import TuichatError
from tuichat.core.models import SearchHit, Thread
from tuichat.core.text import first_line, sanitize

# Dialogs, pickers and the Markdown parser load when first used: not at start-up.
if TYPE_CHECKING:
    from tuichat.ui.code_blocks import CodeBlock
    from tuichat.ui.screens.chat import ChatScreen


class ThreadActions:
    """Open, search, rename, delete, copy."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen

    def _run(self, work, group: str) -> None:  # noqa: ANN001
        self.screen.run_worker(self._reporting(work), group=group, exit_on_error=False)

    async def _reporting(self, work) -> None:  # noqa: ANN001
        try:
            await work
        except TuichatError as exc:
            self.screen.report(exc)
        except LookupError:
            self.screen.notify("That thread no longer exists.", severity="warning")
            self.screen.view.refresh_threads()

    # -- opening ------------------------------------------------------------------------------

    def open(self, thread_id: int, message_id: int | None = None, *, find: str | None = None) -> None:
        screen = self.screen
        if screen.thread is not None and screen.thread.id == thread_id and message_id is None:
            screen.composer.focus()
            return
        self._run(self.open_now(thread_id, message_id, find=find), "open")

    async def open_now(self, thread_id: int, message_id: int | None = None, *, find: str | None = None) -> bool:
        """Show a thread (a reply still generating in the one left goes on in the
        background); with `message_id`, scrolled to that message, highlighted and focused.
        `find`: text to bring into view within it. False if the thread no longer exists."""
        screen = self.screen
        if screen.thread is None or screen.thread.id != thread_id:
            thread = await screen.ws.get_thread(thread_id)
            if thread is None:
                screen.notify("That thread no longer exists.", severity="warning")
                screen.view.refresh_threads()
                return False
            persona = screen.app.personas.get(thread.persona)
            conv = screen.ws.conversation(persona, screen.app.model_for(persona), thread)
            screen.view.adopt(conv)
            if not await screen.view.show(conv):
                return False
        if message_id is None:
            screen.composer.focus()
            return True
        try:
            position = await screen.conv.position_of(message_id)
        except LookupError:
            screen.notify("That message no longer exists.", severity="warning")
            screen.composer.focus()
            return True
        transcript = screen.transcript
        await transcript.load_through(position)
        transcript.scroll_to_message(position, find=find)
        transcript.focus()
        return True

    def search(self, query: str = "") -> None:
        from tuichat.ui.screens.search import SearchScreen

        app = self.screen.app
        app.push_screen(SearchScreen(app.store, query, db=app.db), self._picked_hit)

    def _picked_hit(self, picked: tuple[SearchHit, str] | None) -> None:
        if picked is None:
            return
        hit, query = picked
        # The longest word is the likeliest to survive Markdown rendering intact.
        terms = query.split()
        self._run(self.open_now(hit.thread_id, hit.message_id, find=max(terms, key=len) if terms else None),
                  "open")

    # -- rename and delete ------------------------------------------------------------------------

    async def _target(self) -> Thread | None:
        """The highlighted thread while the list has focus, else the open one (fresh from
        the store, so its title is current)."""
        screen = self.screen
        threads = screen.thread_list
        target = threads.highlighted_thread_id if threads.has_focus else None
        if target is None and screen.thread is not None:
            target = screen.thread.id
        return await screen.ws.get_thread(target) if target is not None else None

    def rename(self) -> None:
        self._run(self._rename(), "dialog")

    async def _rename(self) -> None:
        screen = self.screen
        thread = await self._target()
        if thread is None:
            screen.notify("Nothing to rename yet: send a message first.", timeout=3)
            return

        async def renamed(title: str | None) -> None:
            if title is None:
                return
            try:
                await screen.ws.rename(thread.id, title)
            except LookupError:
                screen.notify("That thread no longer exists.", severity="warning")
            except TuichatError as exc:
                screen.report(exc)
                return
            if screen.thread is not None and screen.thread.id == thread.id:
                screen.conv.title = screen.thread.title = title
            screen.view.refresh_threads()
            screen.update_status()

        from tuichat.ui.screens.dialogs import TextPromptDialog

        screen.app.push_screen(
            TextPromptDialog("Rename thread", thread.title, placeholder="Title", max_length=200,
                             empty_message="The title cannot be empty."),
            renamed,
        )

    def delete(self, thread_id: int | None = None) -> None:
        async def delete() -> None:
            thread = await (self.screen.ws.get_thread(thread_id) if thread_id is not None else self._target())
            if thread is None:
                if thread_id is None:
                    self.screen.notify("Nothing to delete: this thread has no messages yet.", timeout=3)
                return
            await self._confirm_delete(thread)

        self._run(delete(), "dialog")

    async def _confirm_delete(self, thread: Thread) -> None:
        screen = self.screen
        count = await screen.ws.message_count(thread.id)
        name = first_line(thread.title, 60) or "(untitled)"
        what = "" if count == 0 else " and its 1 message" if count == 1 else f" and its {count} messages"
        live = " A reply is still generating in it; it is stopped." if screen.ws.replies.get(thread.id) else ""
        question = f"Delete \u201c{name}\u201d{what}? This cannot be undone.{live}"

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._run(self.delete_now(thread.id), "dialog")

        from tuichat.ui.screens.dialogs import ConfirmDialog

        screen.app.push_screen(
            ConfirmDialog("Delete thread", question, confirm_label="Delete", destructive=True), answered,
        )

    async def delete_now(self, thread_id: int) -> None:
        """Delete a thread for good. The open one is replaced by a fresh thread with the
        same persona; the composer's draft is left alone."""
        screen = self.screen
        threads = screen.thread_list
        index = threads.highlighted
        await screen.ws.delete(thread_id)
        if screen.thread is not None and screen.thread.id == thread_id:
            screen.view.switch(screen.ws.conversation(screen.conv.persona, screen.conv.model,
                                                      server=screen.conv.server))
        await screen.view.refresh_threads_now()
        if threads.has_focus and threads.highlighted is None and threads.option_count:
            # Keep the cursor where it was, on the thread that moved up.
            threads.highlighted = min(index or 0, threads.option_count - 1)
        screen.notify("Thread deleted.", timeout=2)

    # -- copying ------------------------------------------------------------------------------------

    def copy_text(self, text: str) -> None:
        """Put `text` on the clipboard (OSC 52), control characters made visible."""
        screen = self.screen
        text = sanitize(text)
        if not text.strip():
            screen.notify("Nothing to copy: the message is empty.", timeout=3)
            return
        screen.app.copy_to_clipboard(text)
        screen.notify(f"Copied {len(text)} characters", markup=False, timeout=2)

    def copy_reply(self) -> None:
        text = self.screen.transcript.last_reply_content
        if text is None:
            self.screen.notify("No reply to copy yet.", timeout=3)
            return
        self.copy_text(text)

    def copy_code(self, text: str) -> None:
        from tuichat.ui.code_blocks import code_blocks
        from tuichat.ui.screens.code_picker import CodePicker

        blocks = code_blocks(text)
        if not blocks:
            self.screen.notify("No code blocks in this message.", timeout=3)
            return
        self.screen.app.push_screen(CodePicker(blocks), self._picked_code)

    def _picked_code(self, block: CodeBlock | None) -> None:
        if block is not None:
            self.copy_text(block.code)
