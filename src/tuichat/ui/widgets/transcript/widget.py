"""The message log of one thread, drawn as a single line-API widget.

Why one widget: a Markdown widget per block (or per message) makes Textual arrange every
block widget of a reply on every frame, which is quadratic while a reply streams (see
PERFORMANCE.md). Here each message is rendered with Rich once into strips, cached per
width, and `render_line` only looks strips up. While a reply streams, finished Markdown
blocks (core/blocks.py) are rendered once and appended; only the unfinished tail is
re-rendered, at most once per frame.

The parts: entries.py (what is held), render.py (drawing), layout.py (line offsets,
pure), viewport.py (what is rendered, following), paging.py (older pages),
navigation.py (cursor, jumps, copy).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right

from rich.style import Style
from textual.actions import SkipAction
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer

from tuichat.core.models import DONE, STOPPED

from tuichat.ui.widgets.transcript.layout import LineIndex
from tuichat.ui.widgets.transcript.entries import Entry, OlderLoader, Reply
from tuichat.ui.widgets.transcript.navigation import Navigation
from tuichat.ui.widgets.transcript.paging import Paging
from tuichat.ui.widgets.transcript.render import Rendering
from tuichat.ui.widgets.transcript.viewport import Viewport

class Transcript(Navigation, Paging, Viewport, Rendering, can_focus=True):
    """The whole message log of a thread as one scrollable line-API widget.

    Messages are rendered with Rich once per width and drawn from cached strips. A
    streamed reply renders each finished Markdown block once and re-renders only the
    unfinished tail, at most once per frame, so a frame costs the same at the start and
    the end of a long reply. All text is untrusted: it is sanitized and never parsed as
    Rich markup; links are shown with their address rather than as terminal hyperlinks.

    Follow mode: while the view is at the bottom it stays there as lines arrive; once the
    user scrolls up it stays put until they scroll back to the bottom.

    Message cursor: while focused, k/j (or a click) highlight a message; c asks for it to
    be copied and y for one of its code blocks (the CopyRequested and CodeRequested
    messages; the screen owns the clipboard). The highlight is a style applied as lines
    are drawn, so moving it re-renders nothing.
    """

    BINDINGS = [
        Binding("k", "previous_message", "Prev msg", id="previous_message"),
        Binding("j", "next_message", "Next msg", id="next_message"),
        Binding("c", "copy_message", "Copy msg", id="copy_message"),
        Binding("y", "copy_code", "Copy code", id="copy_code"),
    ]

    class CopyRequested(Message):
        """The user asked to copy `text` (a message's source text)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class CodeRequested(Message):
        """The user asked to copy a code block of the message whose source is `text`."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    COMPONENT_CLASSES = {
        "transcript--user",
        "transcript--assistant",
        "transcript--model",
        "transcript--thinking",
        "transcript--notice",
        "transcript--waiting",
        "transcript--stats",
        "transcript--stopped",
        "transcript--error",
        "transcript--length",
        "transcript--cursor",
        "transcript--superseded",
        "transcript--marker",
        "transcript--cut",
    }

    DEFAULT_CSS = """
    Transcript {
        background: $surface;
        padding: 1 1 0 1;
        overflow-x: hidden;
        overflow-y: auto;
        /* A stable gutter keeps the width fixed when the scrollbar appears, so a long
           reply is not re-rendered for a 2-cell width change. */
        scrollbar-gutter: stable;
        border-left: blank;
        &:focus { background-tint: $foreground 3%; border-left: thick $accent; }
        & > .transcript--user { color: $text-accent; text-style: bold; }
        & > .transcript--assistant { color: $text-primary; text-style: bold; }
        & > .transcript--model { text-style: dim; }
        & > .transcript--thinking { text-style: italic dim; }
        & > .transcript--notice { text-style: italic dim; }
        & > .transcript--waiting { text-style: dim; }
        & > .transcript--stats { text-style: dim; }
        & > .transcript--stopped { color: $text-warning; }
        & > .transcript--error { color: $text-error; text-style: bold; }
        & > .transcript--length { color: $text-warning; }
        & > .transcript--cursor { background: $primary 25%; }
        & > .transcript--superseded { text-style: dim italic; }
        & > .transcript--marker { background: $accent 30%; text-style: bold; }
        & > .transcript--cut { color: $text-warning; text-style: italic; }
    }
    """

    def __init__(
        self,
        *,
        code_theme: str = "monokai",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.code_theme = code_theme
        self._entries: list[Entry] = []
        self._lines = LineIndex()  # the first line of each entry
        self._reply: Reply | None = None
        self._last_reply: Reply | None = None
        self._width = 0
        self._at_end = True
        self._flush_pending = False
        self._next_flush = 0.0
        self._spinner: Timer | None = None
        self._realizing = False
        self._cached: dict[int, tuple[Entry, int]] = {}  # least recently seen first
        self._cached_lines = 0
        self._style_key: tuple[Style, ...] | None = None
        self._base_style: Style | None = None
        self._styles_changed = False
        self._cursor: int | None = None  # index into _entries of the highlighted message
        self._jump: tuple[int, str | None] | None = None  # scroll_to_message before layout
        self._older: OlderLoader | None = None  # reads the messages above the first entry
        self._unloaded = 0  # user/assistant messages older than the first entry, not read
        self._older_lock = asyncio.Lock()  # one older page read at a time
        self._new_below = False  # text arrived below the view while the user read above
        self._cut: tuple[int, str] | None = None  # (message id, text): mark_cut's marker
        self.jump_key = "ctrl+end"  # named by the "new text below" marker

    # ----------------------------------------------------------------- public API

    def clear(self) -> None:
        """Remove every message."""
        self._stop_spinner()
        self._set_new_below(False)
        self._entries.clear()
        self._lines.clear()
        self._reply = None
        self._last_reply = None
        self._cached.clear()
        self._cached_lines = 0
        self._at_end = True
        self._cursor = None
        self._jump = None
        self._older = None
        self._unloaded = 0
        self._cut = None
        self._set_virtual_size(Size(self._width, 0))
        self.scroll_to(y=0, animate=False, immediate=True)
        self.refresh()

    def add_message(
        self,
        role: str,
        content: str,
        *,
        status: str = DONE,
        reasoning: str = "",
        model: str | None = None,
        note: str | None = None,
        message_id: int | None = None,
        version: tuple[int, int] | None = None,
        stats: str | None = None,
    ) -> None:
        """Append a finished message: role "user", "assistant" or "notice".

        User text is shown as plain wrapped text, assistant text as Markdown, a notice
        dimmed. status: "done", "stopped", "error" (note: what went wrong) or "length".
        `message_id`: its row, for picking versions; `version`: (shown, count), drawn
        as ‹ 2/3 › on its header; `stats`: a reply's tokens and speed, a dim line under it.
        """
        entry = Entry(role, content, status, reasoning, model, note, message_id, version, stats)
        entry.cut_above = self._cut_text(message_id)
        entry.height = entry.estimate(self._width or 80)
        self._entries.append(entry)
        self._added()
        self._schedule()


    class NewBelow(Message):
        """Text arrived below the view (`value` True), or the view reached it (False)."""

        def __init__(self, value: bool) -> None:
            super().__init__()
            self.value = value

    @property
    def new_below(self) -> bool:
        """Text arrived below the view while the user was reading further up."""
        return self._new_below

    def _set_new_below(self, value: bool) -> None:
        if value != self._new_below:
            self._new_below = value
            self.refresh()
            self.post_message(self.NewBelow(value))

    def _added(self) -> None:
        if not self._at_end and self._width > 0:
            self._set_new_below(True)

    def follow(self) -> None:
        """Go to the end now and follow what is added there (the user just sent: their
        message and its reply come into view even if they had scrolled up)."""
        self._at_end = True
        self._jump = None
        self._set_new_below(False)
        if self.is_mounted:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self._schedule()

    def page_up(self) -> None:
        """Scroll up a page (older pages are read as the top comes near)."""
        self.scroll_page_up(animate=False)

    def page_down(self) -> None:
        """Scroll down a page."""
        self.scroll_page_down(animate=False)


    @property
    def following(self) -> bool:
        """The view is at the end and follows what is added there."""
        return self._at_end

    def mark_cut(self, message_id: int | None, text: str | None = None) -> None:
        """Draw `text` above the message `message_id`: where the messages sent to the
        model begin when the oldest were left out ("12 earlier messages not sent").
        One marker at a time; None removes it. A message not loaded yet (further up)
        gets it when it is."""
        self._cut = (message_id, text) if message_id is not None and text else None
        for index, entry in enumerate(self._entries):
            want = self._cut_text(entry.message_id)
            if entry.cut_above != want:
                entry.cut_above = want
                entry.drop()
                entry.measured = 0
                entry.height = entry.estimate(self._width or 80)
                self._valid = min(self._valid, index)
        if self._width > 0 and self.is_mounted:
            self._layout(self._at_end)
            self.refresh()

    @property
    def cut_marker(self) -> tuple[int, str] | None:
        """(message id, text) of the marker mark_cut drew, if any."""
        return self._cut

    def add_notice(self, text: str) -> None:
        """Append a dim system notice (a persona greeting, an error)."""
        self.add_message("notice", text)

    def begin_reply(self, model: str | None = None) -> None:
        """Start a streamed assistant reply at the end, with a waiting indicator.

        A reply still streaming is ended first, as stopped.
        """
        if self._reply is not None:
            self.end_reply(STOPPED)
        reply = Reply(model)
        reply.height = 3
        self._reply = self._last_reply = reply
        self._entries.append(reply)
        self._schedule()
        if self.is_mounted:
            self._spinner = self.set_interval(0.1, self._spin, name="transcript-spinner")

    def append_reply(self, text: str) -> None:
        """Add a piece of the answer. Cheap: it is drawn with the next frame.

        Ignored when no reply is streaming (after end_reply or clear), so a late token
        from a cancelled request cannot land in another thread.
        """
        reply = self._reply
        if reply is not None and text:
            reply.answer.received.append(text)
            reply.answer.pending.append(text)
            self._added()
            self._schedule()

    def append_reasoning(self, text: str) -> None:
        """Add a piece of the model's reasoning, shown dimmed under "Thinking"."""
        reply = self._reply
        if reply is not None and text:
            reply.thinking.received.append(text)
            reply.thinking.pending.append(text)
            self._added()
            self._schedule()

    def end_reply(
        self, status: str = DONE, note: str | None = None, *, message_id: int | None = None, stats: str | None = None
    ) -> None:
        """Finish the reply now (the tail is drawn at once) and show its status.

        status: "done", "stopped", "error" (note: what went wrong) or "length" (cut off
        at the token limit). `message_id`: the reply's row, once known.
        """
        reply = self._reply
        if reply is None:
            return
        reply.message_id = message_id
        reply.stats = stats
        self._stop_spinner()
        reply.status = status
        reply.note = note
        self._reply = None
        if self._width <= 0:
            # Not laid out yet: finish the text now, render when the size is known.
            reply.update(self, 0, finish=True)
            return
        self._update(reply, finish=True)

    @property
    def reply_text(self) -> str:
        """The answer text received so far for the current (or last) reply."""
        return self._last_reply.text() if self._last_reply is not None else ""

    def visible_text(self) -> str:
        """The text of the lines in view, as drawn (for tests)."""
        height = self.scrollable_content_region.height
        lines = [self.render_line(y).text.rstrip() for y in range(height)]
        return "\n".join(lines).rstrip()

    def all_text(self) -> str:
        """The text of every message at the current width (for tests)."""
        width = self._width
        if width <= 0:
            return ""
        lines: list[str] = []
        for entry in self._entries:
            if entry.width != width:
                # Render aside, not into the cache: reading must not move the view.
                strips = self._message_lines(entry, width)
            elif isinstance(entry, Reply) and entry.streaming:
                strips = [entry.line(i) for i in range(entry.height)]
            else:
                strips = entry.lines
            lines.extend(strip.text.rstrip() for strip in strips)
        return "\n".join(lines).rstrip()


    # --------------------------------------------------------------- line API

    def render_lines(self, crop: Region) -> list[Strip]:
        if self._width <= 0 and self.scrollable_content_region.width > 0:
            # Laid out, but the Resize event that sizes the messages only comes after
            # this first frame: size them now, so the first frame already shows them
            # (otherwise the first screen changes once more, a frame later).
            self.on_resize()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        style = self._base_style
        if style is None:
            # rich_style walks the DOM for backgrounds: far too slow to ask per line.
            style = self._base_style = self.rich_style
        width = self._width
        entries = self._entries
        if self._valid < len(entries):
            self._sync()
        line_y = self.scroll_offset.y + y
        if width <= 0 or not entries or line_y >= self._total():
            return Strip.blank(width if width > 0 else self.size.width, style)
        index = bisect_right(self._offsets, line_y) - 1
        entry = entries[index]
        if entry.width != width:
            # Not rendered yet (it only just came into view): draw it next frame.
            self._schedule()
            return Strip.blank(width, style)
        if y == self.scrollable_content_region.height - 1 and self._new_below:
            return self._marker(width)
        if index == self._cursor and self.has_focus:
            style = style + self.get_component_rich_style("transcript--cursor")
        return entry.line(line_y - self._offsets[index]).apply_style(style)


    async def action_scroll_home(self) -> None:
        # Jump, don't animate: an animated scroll through a long thread would render
        # every message it passes on the way.
        if not self.allow_vertical_scroll:
            raise SkipAction()
        if self._older is not None:
            await self.load_older(self._unloaded)  # the top of the thread, not of what is read
        self.scroll_home(animate=False, immediate=True, x_axis=False)

    def action_scroll_end(self) -> None:
        if not self.allow_vertical_scroll:
            raise SkipAction()
        self.scroll_end(animate=False, immediate=True, x_axis=False)

