"""The composer's draft survives a quit or a crash: saved a second after it changes, off
the event loop, and put back at start-up."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from tuichat.core.errors import TuichatError

if TYPE_CHECKING:
    from tuichat.ui.screens.chat import ChatScreen

SAVE_SECONDS = 1.0


class DraftKeeper:
    """Saves the composer's text when it changed, one save at a time; a failed save is
    said once and tried again at the next tick (the text never leaves the composer)."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.dirty = False
        self._saving = False
        self._failed = False  # said once; said again only after a save succeeds

    def start(self) -> None:
        self.screen.set_interval(SAVE_SECONDS, self.save)

    def changed(self, text: str) -> None:
        # Saved by the interval timer, not per keystroke.
        self.dirty = True
        if text:
            self.screen.app.warm_up()  # a message is coming: load the SDK while it is typed

    async def restore(self) -> None:
        screen = self.screen
        try:
            draft = await screen.ws.draft()
        except TuichatError as exc:
            screen.report(exc)
            return
        composer = screen.composer
        if draft and not composer.text:  # typed meanwhile: the user's text wins
            composer.text = draft
            composer.move_cursor(composer.document.end)
            self.dirty = False

    def save(self) -> None:
        if self.dirty and not self._saving:
            self.dirty = False
            self._saving = True
            # By unmount the composer is no longer queryable, but still holds its text.
            self.screen.run_worker(self._save(self.screen.composer.text), group="draft", exit_on_error=False)

    async def _save(self, text: str) -> None:
        screen = self.screen
        try:
            await screen.ws.save_draft(text)
        except Exception as exc:  # noqa: BLE001 - a draft that cannot be saved is not fatal
            # The message names the problem, never the draft (not the database's to print).
            self.dirty = True
            if not self._failed:
                self._failed = True
                why = exc.title if isinstance(exc, TuichatError) else "it could not be written"
                screen.notify(f"Your draft could not be saved ({why}). It stays in the message box;"
                              " tuichat tries again.", title="Draft not saved", severity="warning",
                              timeout=8, markup=False)
        else:
            if self._failed:
                self._failed = False
                screen.notify("Your draft is saved again.", timeout=3)
        finally:
            self._saving = False

    async def flush(self) -> None:
        """The last save, when the screen closes."""
        if self.dirty:
            self.dirty = False
            with contextlib.suppress(Exception):  # closing: nowhere left to say it
                await self.screen.ws.save_draft(self.screen.composer.text)
