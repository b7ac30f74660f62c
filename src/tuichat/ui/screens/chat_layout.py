"""The chat screen at any size: the thread list collapses on a narrow terminal (F9
toggles it, remembered), and the status line keeps what matters visible."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from tuichat.core.budget import Balance
from tuichat.core.errors import TuichatError
from tuichat.core.text import clean_line
from tuichat.servers import DEFAULT as DEFAULT_SERVER
from tuichat.ui.widgets.thread_panel import ThreadPanel

if TYPE_CHECKING:
    from tuichat.ui.screens.chat import ChatScreen

# Below this width the thread list collapses: the chat column needs the room more.
WIDE = 100
IDLE, GENERATING, STOPPING = "idle", "generating", "stopping"


class ScreenLayout:
    """Where the thread list is, and the status line."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.threads_hidden: bool | None = None  # the user's choice at full width (F9), kept
        self.narrow_open = False  # on a narrow terminal, the list lies over the chat

    @property
    def narrow(self) -> bool:
        return self.screen.has_class("-narrow")

    def apply(self, width: int) -> None:
        screen = self.screen
        narrow = width < WIDE
        screen.set_class(narrow, "-narrow")
        hidden = not self.narrow_open if narrow else bool(self.threads_hidden)
        screen.set_class(hidden, "-threads-hidden")
        self.update_status()

    async def restore(self) -> None:
        try:
            kept = await self.screen.ws.pref("thread_list")
        except Exception:  # noqa: BLE001 - a preference is never worth an error
            return
        if kept in ("hidden", "shown") and self.threads_hidden is None:
            self.threads_hidden = kept == "hidden"
            self.apply(self.screen.size.width)

    def toggle(self) -> None:
        screen = self.screen
        if self.narrow:
            self.narrow_open = not self.narrow_open
            self.apply(screen.size.width)
            (screen.thread_list if self.narrow_open else screen.composer).focus()
            return
        self.threads_hidden = not self.threads_hidden
        self.apply(screen.size.width)
        if self.threads_hidden and screen.query_one(ThreadPanel).has_focus_within:
            screen.composer.focus()
        value = "hidden" if self.threads_hidden else "shown"
        screen.run_worker(screen.ws.set_pref("thread_list", value), group="prefs", exit_on_error=False)

    def open_threads(self) -> None:
        if self.narrow and not self.narrow_open:
            self.narrow_open = True
            self.apply(self.screen.size.width)
        elif not self.narrow and self.threads_hidden:
            self.toggle()

    def close_narrow(self) -> None:
        if self.narrow and self.narrow_open:
            self.narrow_open = False
            self.apply(self.screen.size.width)

    async def refresh_balance(self) -> None:
        """Read this month's spending again (after a reply): the status line shows what
        is left, and crossing 80% or 100% of the budget is said once."""
        try:
            balance = await self.screen.ws.balance()
        except TuichatError:
            return  # the status line keeps the last figure; the budget is checked again later
        if balance is not None:
            self.set_balance(balance)

    def set_balance(self, balance: Balance) -> None:
        screen = self.screen
        before = screen.balance
        screen.balance = balance
        if before is not None and balance.over and not before.over:
            screen.notify("This month's budget is spent: sending now asks first. /balance shows the figures.",
                        title="Budget", severity="warning", timeout=10, markup=False)
        elif before is not None and balance.low and not before.low:
            screen.notify(f"80% of this month's budget is spent: {balance.short()}.", title="Budget",
                        severity="warning", timeout=8, markup=False)
        self.update_status()

    def key(self, binding_id: str, default: str) -> str:
        """How the footer writes the key of a binding, as the user remapped it."""
        app = self.screen.app
        for _key, binding in self.screen._bindings:
            if binding.id == binding_id:
                return app.get_key_display(binding)
        return default

    def update_status(self) -> None:
        """The status line: the thread's title first (cut by cell width with "…"), then
        persona, model and server; the reply's state on the right, always whole."""
        screen = self.screen
        if not screen.is_mounted:
            return
        try:
            left = screen.query_one("#status-left", Static)
            right_box = screen.query_one("#status-right", Static)
        except Exception:  # noqa: BLE001 - closing: nothing to update
            return
        conv = screen.conv
        width = screen.size.width
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        if conv.thread is not None:
            line.append(f"#{conv.thread.id} ", style="dim")
            line.append(clean_line(conv.title) or "(untitled)", style="bold")
        else:
            line.append("New thread", style="bold")
        persona = conv.persona.name if conv.persona else "(no persona)"
        line.append(f" · {clean_line(persona)}", style="cyan")
        line.append(f" · {clean_line(conv.model)}", style="dim")
        if width >= WIDE:
            host = screen.ws.server_label(conv.server) or screen.app.server_label
            named = f"{conv.server} " if conv.server and conv.server != DEFAULT_SERVER else ""
            line.append(f" · {clean_line(named)}{clean_line(host)}", style="dim")
        window, used = conv.window or screen.ws.context_window, conv.context_used
        if window and used is not None:
            share = used / window
            line.append(f" · context {share:.0%}", style="bold red" if share >= 1 else "yellow" if share >= 0.8 else "dim")
        balance = screen.balance
        if balance is not None:
            line.append(f" · {balance.short()}", style="bold red" if balance.over else "yellow" if balance.low else "dim")
        left.update(line)
        right = Text(no_wrap=True, end="")
        lock = screen.send_lock
        if lock == STOPPING:
            right.append("stopping: saving…", style="italic")
        elif lock == GENERATING:
            stop = self.key("stop", "esc")
            right.append(f"generating… {stop} stops" if width >= 60 else "generating…", style="italic")
        elif conv.editing is not None:
            right.append("editing · esc cancels", style="italic")
        elif screen.transcript.new_below:
            right.append(f"new text below · {self.key('transcript_bottom', 'ctrl+end')}", style="italic")
        others = len(screen.ws.replies) - (1 if conv.live is not None else 0)
        if others > 0:
            right.append(f"  ● {others} more generating" if width >= 60 else f" ●{others}", style="dim")
        right_box.update(right)
        screen.composer.border_title = (
            "Editing your last message · Enter sends it in place of the old one · Esc cancels"
            if conv.editing is not None else None
        )
