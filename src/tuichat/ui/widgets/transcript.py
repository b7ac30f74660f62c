"""The message log of one thread, drawn as a single line-API widget.

Why one widget: a Markdown widget per block (or per message) makes Textual arrange every
block widget of a reply on every frame, which is quadratic while a reply streams (see
PERFORMANCE.md). Here each message is rendered with Rich once into strips, cached per
width, and `render_line` only looks strips up. While a reply streams, finished Markdown
blocks (core/blocks.py) are rendered once and appended; only the unfinished tail is
re-rendered, at most once per frame.

Messages far from the view are not rendered until they come near it (their height is
estimated until then), so opening a long thread renders about a screenful, not the thread,
and a width change re-renders only what is in view. A long thread is not even read whole:
the screen shows its last page and gives a loader (`show_older`) that the transcript calls
for older pages as the view comes near the top, a jump needs them, or Home is pressed.
"""

from __future__ import annotations

from bisect import bisect_right
import asyncio
from collections.abc import Awaitable, Callable
from copy import copy
from time import perf_counter
from typing import NamedTuple

from markdown_it import MarkdownIt

from rich.cells import cell_len
from rich.console import RenderableType
from rich.markdown import Markdown
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from tuichat.core.blocks import BlockSplitter
from tuichat.core.models import DONE, ERROR, INTERRUPTED, STOPPED, STREAMING, SUPERSEDED
from tuichat.core.text import clean_line, sanitize

LENGTH = "length"
"""Status of a reply cut off because the model hit its token limit (finish reason "length")."""

# At most one tail render per frame. 30 fps is smooth for text, and a streamed frame
# repaints the whole view (it scrolls), which costs Textual a few ms each time.
_FRAME = 1 / 30
_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
# Rendered lines kept for messages away from the view; beyond this the least recently
# seen are dropped (their measured height is kept, so nothing moves when re-rendered).
_CACHE_LINES = 20_000

_Render = Callable[[str, int], list[Strip]]


class Shown(NamedTuple):
    """A stored message as the transcript shows it (the arguments of add_message)."""

    role: str
    content: str
    status: str = DONE
    reasoning: str = ""
    model: str | None = None
    note: str | None = None
    message_id: int | None = None
    version: tuple[int, int] | None = None  # (shown, count) of a message with versions


OlderLoader = Callable[[int], Awaitable[tuple[list[Shown], int]]]
"""Awaited with how many messages are wanted at least: returns the next older messages
(oldest first) and how many user/assistant messages are still older than those. A
coroutine: the store is read on its own thread, so scrolling never waits for SQLite."""

# Messages read per older page: a few screens' worth even of one-line messages.
OLDER_PAGE = 200

# rich's Markdown builds a new MarkdownIt parser for every instance, which costs more than
# parsing a typical block. One parser, configured as rich configures it, is shared; a test
# checks the output matches rich's own.
_PARSER = MarkdownIt().enable("strikethrough").enable("table")
_TEMPLATES: dict[str, Markdown] = {}


def markdown(text: str, code_theme: str) -> Markdown:
    """A rich Markdown for `text` (already sanitized), without building a parser."""
    template = _TEMPLATES.get(code_theme)
    if template is None:
        # hyperlinks=False: a link shows its address, so a link cannot hide where it goes.
        template = Markdown("", code_theme=code_theme, hyperlinks=False)
        _TEMPLATES[code_theme] = template
    document = copy(template)
    document.markup = text
    document.parsed = _PARSER.parse(text)
    return document


class _Entry:
    """One message: its source text and, once rendered, its strips at one width."""

    def __init__(
        self,
        role: str,
        content: str,
        status: str = DONE,
        reasoning: str = "",
        model: str | None = None,
        note: str | None = None,
        message_id: int | None = None,
        version: tuple[int, int] | None = None,
    ) -> None:
        self.role = role
        self.content = content
        self.status = status
        self.reasoning = reasoning
        self.model = model
        self.note = note
        self.message_id = message_id
        self.version = version
        self.width = 0  # the width `lines` were rendered at; 0: not rendered
        self.lines: list[Strip] = []
        self.height = 1  # exact when `measured` is the current width, else an estimate
        self.measured = 0

    def estimate(self, width: int) -> int:
        """A cheap guess of the rendered height, used until the message is rendered."""
        text_len = len(self.content) + len(self.reasoning)
        newlines = self.content.count("\n") + self.reasoning.count("\n")
        return 3 + newlines + text_len // max(1, width - 2)

    def render(self, view: Transcript, width: int) -> None:
        self.lines = view._message_lines(self, width)
        self.width = self.measured = width
        self.height = len(self.lines)

    def line(self, index: int) -> Strip:
        return self.lines[index]

    def drop(self) -> None:
        """Forget the strips but keep the measured height."""
        self.lines = []
        self.width = 0


class _Section:
    """One streamed text (the answer or the reasoning): finished blocks plus a live tail."""

    def __init__(self) -> None:
        self.received: list[str] = []  # every piece, for reply_text
        self.pending: list[str] = []  # pieces not yet through the splitter
        self.splitter = BlockSplitter()
        self.blocks: list[str] = []  # finished blocks, sanitized
        self.body: list[Strip] = []  # finished blocks rendered, with gaps between
        self.tail: list[Strip] = []  # the tail rendered, with its gap
        self._tail_src = ""
        self._tail_lines: list[Strip] = []
        self.width = 0
        self.tail_cost = 0.0  # seconds the last tail render took

    def __len__(self) -> int:
        return len(self.body) + len(self.tail)

    def take(self, finish: bool) -> list[str]:
        """Run pending text through the splitter; return the newly finished blocks."""
        new: list[str] = []
        if self.pending:
            text = "".join(self.pending)
            self.pending.clear()
            new = self.splitter.feed(text)
        if finish:
            new += self.splitter.finish()
        return [sanitize(block) for block in new]

    def update(
        self, new: list[str], width: int, render: _Render, gap: Strip, finish: bool
    ) -> int | None:
        """Render the new blocks and the tail.

        Returns the first line of the section that changed, or None if nothing did.
        """
        tail_src = "" if finish else sanitize(self.splitter.tail)
        changed = len(self.body)
        full = width != self.width
        if full:
            # New width (or first render after blocks arrived unrendered): the blocks
            # already held are re-rendered as one document, which is cheaper than one
            # render per block and looks the same (one blank line between blocks).
            self.width = width
            joined = "\n\n".join(self.blocks)
            self.body = render(joined, width) if joined.strip() else []
            self._tail_src, self._tail_lines = "", []
            changed = 0
        self.blocks.extend(new)
        rest = new
        if new and new[0] == self._tail_src:
            # The tail became this block unchanged: its strips are already made.
            self._add(self._tail_lines, gap)
            self._tail_src, self._tail_lines = "", []
            rest = new[1:]
        if rest:
            # Several blocks finished at once (a burst of tokens) render as one document:
            # cheaper than one render each, and it looks the same.
            joined = "\n\n".join(rest)
            self._add(render(joined, width) if joined.strip() else [], gap)
        if tail_src != self._tail_src:
            start = perf_counter()
            self._tail_src = tail_src
            self._tail_lines = render(tail_src, width) if tail_src.strip() else []
            self.tail_cost = perf_counter() - start
        elif not new and not full:
            return None
        old_tail = self.tail
        self._set_tail(gap)
        if not new and not full:
            # Usually a token only extends the last line of the tail: repaint from the
            # first line that differs, not the whole tail.
            same = 0
            for old_line, new_line in zip(old_tail, self.tail):
                if old_line != new_line:
                    break
                same += 1
            changed += same
        return changed

    def _add(self, lines: list[Strip], gap: Strip) -> None:
        if lines:
            if self.body:
                self.body.append(gap)
            self.body.extend(lines)

    def _set_tail(self, gap: Strip) -> None:
        lines = self._tail_lines
        self.tail = [gap, *lines] if lines and self.body else list(lines)


class _Reply(_Entry):
    """The assistant message being streamed: header, reasoning, answer, footer."""

    def __init__(self, model: str | None) -> None:
        super().__init__("assistant", "", STREAMING, "", model, None)
        self.streaming = True
        self.answer = _Section()
        self.thinking = _Section()
        self.frame = 0  # spinner frame
        self._head: list[Strip] = []
        self._foot: list[Strip] = []
        self._foot_key: tuple[object, ...] = ()
        self._parts: list[list[Strip]] = []
        self._answer_at = 0  # first line of the answer blocks

    @property
    def waiting(self) -> bool:
        return self.streaming and not self.answer.received and not self.thinking.received

    def text(self) -> str:
        return "".join(self.answer.received)

    def render(self, view: Transcript, width: int) -> None:
        if not self.streaming:
            super().render(view, width)
            return
        self.update(view, width)

    def update(self, view: Transcript, width: int, finish: bool = False) -> int | None:
        """Bring the strips up to date; return the first changed line, or None."""
        full = width != self.width
        thoughts = self.thinking.take(finish)
        words = self.answer.take(finish)
        if width <= 0:
            # Not laid out yet: keep the blocks; they are rendered with the first width.
            self.thinking.blocks += thoughts
            self.answer.blocks += words
            self.thinking.width = self.answer.width = self.width = 0
            thought = said = None
        else:
            if full:
                self.answer.width = self.thinking.width = 0
                self._head = view._header_lines(self, width)
            thought = self.thinking.update(
                thoughts, width, view._render_reasoning, view._reasoning_gap(width), finish
            )
            said = self.answer.update(
                words, width, view._render_markdown, Strip.blank(width), finish
            )
        if finish:
            self.streaming = False
            self.content = self.text()
            self.reasoning = "".join(self.thinking.received)
        if width <= 0:
            return None  # not laid out yet: the text is split, rendering waits
        foot_key = (self.waiting, self.frame, self.status, self.note)
        if not full and thought is None and said is None and foot_key == self._foot_key:
            return None
        if full or foot_key != self._foot_key:
            self._foot = view._footer_lines(self, width)
            self._foot_key = foot_key
        self._assemble(view, width)
        self.width = self.measured = width
        # Everything below the first change moves, and only the part of that in view is
        # repainted, so the first changed line is all the caller needs.
        if full:
            return 0
        if thought is not None:
            return len(self._head)
        if said is not None:
            return self._answer_at + said
        return self.footer_at()

    def footer_at(self) -> int:
        return self._answer_at + len(self.answer)

    def set_footer(self, view: Transcript, width: int) -> None:
        self._foot = view._footer_lines(self, width)
        self._foot_key = (self.waiting, self.frame, self.status, self.note)
        self._assemble(view, width)

    def _assemble(self, view: Transcript, width: int) -> None:
        parts = [self._head]
        if len(self.thinking):
            parts += [[view._thinking_label(width)], self.thinking.body, self.thinking.tail]
            parts.append([Strip.blank(width)])
        self._answer_at = sum(len(part) for part in parts)
        parts += [self.answer.body, self.answer.tail, self._foot, [Strip.blank(width)]]
        self._parts = parts
        self.height = sum(len(part) for part in parts)
        if not self.streaming:
            # Finished: flatten once, so lookups are a plain index from now on.
            self.lines = [line for part in parts for line in part]

    def line(self, index: int) -> Strip:
        if not self.streaming:
            return self.lines[index]
        for part in self._parts:
            if index < len(part):
                return part[index]
            index -= len(part)
        raise IndexError(index)

    def drop(self) -> None:
        if not self.streaming:  # a streaming reply keeps its strips: it is being built
            super().drop()


def _is_message(entry: _Entry) -> bool:
    """A user or assistant message, as opposed to a notice."""
    return entry.role in ("user", "assistant")


def _source(entry: _Entry) -> str:
    """The text a message was written as (a streaming reply: what arrived so far)."""
    if isinstance(entry, _Reply) and entry.streaming:
        return entry.text()
    return entry.content


def _find_line(entry: _Entry, text: str) -> int | None:
    """The first rendered line of `entry` containing `text` (ignoring case), if any."""
    needle = text.casefold()
    for number in range(entry.height):
        if needle in entry.line(number).text.casefold():
            return number
    return None


class Transcript(ScrollView, can_focus=True):
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
        "transcript--stopped",
        "transcript--error",
        "transcript--length",
        "transcript--cursor",
        "transcript--superseded",
        "transcript--marker",
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
        & > .transcript--stopped { color: $text-warning; }
        & > .transcript--error { color: $text-error; text-style: bold; }
        & > .transcript--length { color: $text-warning; }
        & > .transcript--cursor { background: $primary 25%; }
        & > .transcript--superseded { text-style: dim italic; }
        & > .transcript--marker { background: $accent 30%; text-style: bold; }
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
        self._entries: list[_Entry] = []
        self._offsets: list[int] = []  # first line of each entry
        self._valid = 0  # _offsets is right for _entries[:_valid]
        self._reply: _Reply | None = None
        self._last_reply: _Reply | None = None
        self._width = 0
        self._at_end = True
        self._flush_pending = False
        self._next_flush = 0.0
        self._spinner: Timer | None = None
        self._realizing = False
        self._cached: dict[int, tuple[_Entry, int]] = {}  # least recently seen first
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
        self.jump_key = "ctrl+end"  # named by the "new text below" marker

    # ----------------------------------------------------------------- public API

    def clear(self) -> None:
        """Remove every message."""
        self._stop_spinner()
        self._set_new_below(False)
        self._entries.clear()
        self._offsets.clear()
        self._valid = 0
        self._reply = None
        self._last_reply = None
        self._cached.clear()
        self._cached_lines = 0
        self._at_end = True
        self._cursor = None
        self._jump = None
        self._older = None
        self._unloaded = 0
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
    ) -> None:
        """Append a finished message: role "user", "assistant" or "notice".

        User text is shown as plain wrapped text, assistant text as Markdown, a notice
        dimmed. status: "done", "stopped", "error" (note: what went wrong) or "length".
        `message_id`: its row, for picking versions; `version`: (shown, count), drawn
        as ‹ 2/3 › on its header.
        """
        entry = _Entry(role, content, status, reasoning, model, note, message_id, version)
        entry.height = entry.estimate(self._width or 80)
        self._entries.append(entry)
        self._added()
        self._schedule()

    def show_older(self, loader: OlderLoader | None, unloaded: int) -> None:
        """The thread has `unloaded` user/assistant messages above the first one shown;
        `loader` reads them, a page at a time, when they are needed."""
        self._older = loader if unloaded > 0 else None
        self._unloaded = max(0, unloaded) if loader is not None else 0

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
    def cursor_message_id(self) -> int | None:
        """The row id of the highlighted message (None: none, or a notice)."""
        if self._cursor is None:
            return None
        return self._entries[self._cursor].message_id

    @property
    def last_reply_message_id(self) -> int | None:
        """The row id of the last assistant message shown (None if it has none yet)."""
        for entry in reversed(self._entries):
            if entry.role == "assistant":
                return entry.message_id
        return None

    @property
    def following(self) -> bool:
        """The view is at the end and follows what is added there."""
        return self._at_end

    @property
    def unloaded(self) -> int:
        """How many older messages of the thread are not read yet."""
        return self._unloaded

    async def load_older(self, at_least: int = OLDER_PAGE) -> int:
        """Read older messages (at least `at_least` of them, if the thread has that many)
        and insert them above, keeping the view on what it shows. Returns how many
        entries were added."""
        async with self._older_lock:
            loader = self._older
            if loader is None:
                return 0
            try:
                shown, remaining = await loader(max(at_least, OLDER_PAGE))
            except Exception as error:  # noqa: BLE001 - a locked or damaged database
                self.notify(f"Could not read older messages: {sanitize(str(error))}",
                            severity="error", markup=False)
                return 0
            if self._older is not loader:
                return 0  # cleared (another thread opened) while the page was read
            return self._insert_older(shown, remaining)

    def _insert_older(self, shown: list[Shown], remaining: int) -> int:
        self._unloaded = max(0, remaining)
        if not shown or remaining <= 0:
            self._older = None
            self._unloaded = 0
        if not shown:
            return 0
        width = self._width or 80
        new: list[_Entry] = []
        for message in shown:
            entry = _Entry(*message)
            entry.height = entry.estimate(width)
            new.append(entry)
        added = sum(entry.height for entry in new)
        self._entries[0:0] = new
        if self._cursor is not None:
            self._cursor += len(new)
        if self._jump is not None:
            self._jump = (self._jump[0] + len(new), self._jump[1])
        self._valid = 0
        self._sync()
        if self._width > 0 and self.is_mounted:
            # The same lines stay in view: they are `added` lines further down now.
            self._realizing = True
            try:
                self._set_virtual_size(Size(self._width, self._total()))
                if not self._at_end:
                    self.scroll_to(y=self.scroll_offset.y + added, animate=False, immediate=True)
            finally:
                self._realizing = False
            self._realize(follow=self._at_end)
            self.refresh()
        return len(new)

    def _load_if_near_top(self) -> None:
        """Read an older page when the view is within a screen of the top."""
        if self._older is not None and self._width > 0 and not self._realizing:
            if self._older_lock.locked():
                return  # a page is on its way
            if self.scroll_offset.y < 2 * max(1, self.scrollable_content_region.height):
                self.run_worker(self.load_older(), group="older", exit_on_error=False)

    def add_notice(self, text: str) -> None:
        """Append a dim system notice (a persona greeting, an error)."""
        self.add_message("notice", text)

    def begin_reply(self, model: str | None = None) -> None:
        """Start a streamed assistant reply at the end, with a waiting indicator.

        A reply still streaming is ended first, as stopped.
        """
        if self._reply is not None:
            self.end_reply(STOPPED)
        reply = _Reply(model)
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

    def end_reply(self, status: str = DONE, note: str | None = None, *, message_id: int | None = None) -> None:
        """Finish the reply now (the tail is drawn at once) and show its status.

        status: "done", "stopped", "error" (note: what went wrong) or "length" (cut off
        at the token limit). `message_id`: the reply's row, once known.
        """
        reply = self._reply
        if reply is None:
            return
        reply.message_id = message_id
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
            elif isinstance(entry, _Reply) and entry.streaming:
                strips = [entry.line(i) for i in range(entry.height)]
            else:
                strips = entry.lines
            lines.extend(strip.text.rstrip() for strip in strips)
        return "\n".join(lines).rstrip()

    # ------------------------------------------------- messages, cursor and jumps

    @property
    def message_count(self) -> int:
        """How many messages (user and assistant, not notices) the thread has: those
        shown and the older ones not read yet."""
        return self._unloaded + sum(1 for entry in self._entries if _is_message(entry))

    @property
    def cursor(self) -> int | None:
        """The position of the highlighted message among the messages, or None."""
        if self._cursor is None:
            return None
        return self._unloaded + sum(1 for entry in self._entries[: self._cursor] if _is_message(entry))

    @property
    def highlighted_text(self) -> str | None:
        """The source text of the highlighted message, or None when none is."""
        if self._cursor is None:
            return None
        return _source(self._entries[self._cursor])

    @property
    def last_reply_content(self) -> str | None:
        """The source text of the last assistant message (so far, if it is streaming)."""
        for entry in reversed(self._entries):
            if entry.role == "assistant":
                return _source(entry)
        return None

    async def load_through(self, position: int) -> None:
        """Read older pages down to message number `position` (see scroll_to_message),
        so that scroll_to_message can show it."""
        if 0 <= position < self._unloaded:
            await self.load_older(self._unloaded - position)

    def scroll_to_message(self, position: int, *, find: str | None = None, highlight: bool = True) -> None:
        """Show message number `position` (0 = the first user or assistant message, as
        Store.message_position counts) at the top of the view, and stop following the end.

        Only the message and a screenful around it are rendered, whatever the thread's
        length. A message not read yet (older than the loaded pages) needs
        `await load_through(position)` first; without it nothing happens. With `find`, the first line of the message containing it (ignoring case)
        is brought into view too, for a long message matched far down. With `highlight`,
        the message also gets the cursor.
        """
        index = self._entry_index(position)
        if index is None:
            return
        if highlight:
            self._cursor = index
        self._at_end = False
        if self._width <= 0 or not self.is_mounted:
            self._jump = (index, find)  # done by the first flush that knows the width
            return
        self._jump = None
        self._show_entry(index, find=find)

    def _entry_index(self, position: int) -> int | None:
        if position < 0:
            return None
        position -= self._unloaded
        if position < 0:
            return None
        for index, entry in enumerate(self._entries):
            if _is_message(entry):
                if position == 0:
                    return index
                position -= 1
        return None

    def _render_above(self, index: int, lines: int) -> None:
        """Render entries[index] and those above it covering `lines`, so that the offsets
        between them are exact; the view then lands where it is asked to."""
        entries, width = self._entries, self._width
        lowest: int | None = None
        first, covered = index + 1, 0
        while first > 0 and (first > index or covered < lines):
            first -= 1
            entry = entries[first]
            if entry.width != width:
                entry.render(self, width)
                lowest = first
            if first < index:
                covered += entry.height
        if lowest is not None:
            self._valid = min(self._valid, lowest + 1)
        self._sync()
        self._set_virtual_size(Size(width, self._total()))

    def _show_entry(self, index: int, *, find: str | None = None, nearest: bool = False) -> None:
        """Scroll so entries[index] is in view: at the top, or (nearest) by the least move."""
        height = max(1, self.scrollable_content_region.height)
        self._sync()
        self._render_above(index, height)
        entry = self._entries[index]
        start = self._offsets[index]
        top = self.scroll_offset.y
        if nearest:
            if start >= top and start + min(entry.height, height) <= top + height:
                self.refresh()
                return  # already in view
            y = start if start < top or entry.height > height else start + entry.height - height
        else:
            y = start
            line = _find_line(entry, find) if find else None
            if line is not None and line >= height - 2:
                y = start + line - height // 3  # the match a third of the way down
        self._at_end = False
        self.scroll_to(y=y, animate=False, immediate=True)
        self._realize(follow=self._at_end)
        self.refresh()

    async def _move_cursor(self, step: int) -> None:
        entries = self._entries
        index = self._cursor
        if index is None:
            # Start from what is on screen: the last message in view going up, the first
            # going down.
            self._sync()
            top = self.scroll_offset.y
            bottom = top + self.scrollable_content_region.height
            candidates = []
            index = max(0, bisect_right(self._offsets, top) - 1)
            while index < len(entries) and self._offsets[index] < bottom:
                if _is_message(entries[index]):
                    candidates.append(index)
                index += 1
            if not candidates:
                last = self._entry_index(self.message_count - 1)
                if last is None:
                    return
                candidates = [last]
            index = candidates[-1] if step < 0 else candidates[0]
        else:
            if step < 0 and self._older is not None and not any(map(_is_message, entries[:index])):
                index += await self.load_older()  # the message above is not read yet
                entries = self._entries
            index += step
            while 0 <= index < len(entries) and not _is_message(entries[index]):
                index += step
            if not 0 <= index < len(entries):
                return  # already at the first or last message
        self._cursor = index
        self._show_entry(index, nearest=True)

    async def action_previous_message(self) -> None:
        await self._move_cursor(-1)

    async def action_next_message(self) -> None:
        await self._move_cursor(+1)

    def action_copy_message(self) -> None:
        text = self.highlighted_text
        if text is None:
            text = self.last_reply_content
        if text is not None:
            self.post_message(self.CopyRequested(text))

    def action_copy_code(self) -> None:
        text = self.highlighted_text
        if text is None:
            text = self.last_reply_content
        if text is not None:
            self.post_message(self.CodeRequested(text))

    def on_click(self, event: events.Click) -> None:
        """A click on a message highlights it."""
        offset = event.get_content_offset(self)
        if offset is None or not self._entries or self._width <= 0:
            return
        self._sync()
        line_y = self.scroll_offset.y + offset.y
        if line_y >= self._total():
            return
        index = bisect_right(self._offsets, line_y) - 1
        if _is_message(self._entries[index]):
            self._cursor = index
            self.refresh()

    # --------------------------------------------------------------- line API

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

    def _marker(self, width: int) -> Strip:
        """The last row while text waits below: says so, and which key jumps there."""
        text = Text(f"↓ new text below · {self.jump_key}", style=self._style("transcript--marker"),
                    no_wrap=True, overflow="ellipsis", justify="center")
        return self._strips(text, width)[0]

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

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width > 0:
            width = max(width, 8)  # bars and indents need a few cells; the rest is cropped
        if width != self._width:
            anchor: tuple[int, int] | None = None
            if self._entries and self._width > 0 and not self._at_end:
                # Keep the message at the top of the view there: remember it before
                # every height changes.
                self._sync()
                top = self.scroll_offset.y
                index = max(0, bisect_right(self._offsets, top) - 1)
                inner = (top - self._offsets[index]) * self._width // width
                anchor = (index, inner)
            self._width = width
            for entry in self._entries:
                if entry.width != width:
                    entry.drop()
                if entry.measured != width:
                    entry.height = entry.estimate(width)
            self._valid = 0
            self._cached.clear()
            self._cached_lines = 0
            if anchor is not None:
                self._sync()
                index, inner = anchor
                inner = min(inner, max(0, self._entries[index].height - 1))
                self._set_virtual_size(Size(width, self._total()))
                self._realizing = True  # the flush below renders around the new spot
                try:
                    self.scroll_to(y=self._offsets[index] + inner, animate=False)
                finally:
                    self._realizing = False
        self._flush()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base_style = None
        if self._style_key is not None:
            # Textual updates component styles just *after* this call, so compare
            # them on the next flush rather than now.
            self._styles_changed = True
            self._schedule()

    def _check_styles(self) -> None:
        """Re-render everything if the component styles changed (a theme change)."""
        self._styles_changed = False
        key = self._style_keys()
        if key != self._style_key:
            self._style_key = key  # colours are baked into the cached strips
            for entry in self._entries:
                entry.width = 0
                if isinstance(entry, _Reply):
                    entry.answer.width = entry.thinking.width = 0

    def _style_keys(self) -> tuple[Style, ...]:
        return tuple(
            self.get_component_rich_style(name, partial=True)
            for name in sorted(self.COMPONENT_CLASSES)
        )

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._at_end = new_value >= self.max_scroll_y
        if self._at_end and self._new_below:
            self._set_new_below(False)
        if not self._realizing and self._width > 0 and self._needs_render(int(new_value)):
            self._realize(follow=False)
        if self._older is not None and not self._realizing:
            # Not now: this runs inside a scroll, and loading moves the scroll offset.
            self.call_later(self._load_if_near_top)

    # ------------------------------------------------------------ scheduling

    def _schedule(self) -> None:
        """Ask for one flush, no sooner than the frame budget allows."""
        if self._flush_pending or not self.is_mounted:
            return
        self._flush_pending = True
        delay = self._next_flush - perf_counter()
        if delay > 0:
            self.set_timer(delay, self._flush, name="transcript-flush")
        else:
            self.call_later(self._flush)

    def _flush(self) -> None:
        """Draw everything that arrived since the last frame."""
        self._flush_pending = False
        if self._width <= 0:
            return
        if self._styles_changed:
            self._check_styles()
        if self._jump is not None:
            index, find = self._jump
            self._jump = None
            self._show_entry(index, find=find)
        start = perf_counter()
        reply = self._reply
        if reply is not None and reply.waiting:
            # Nothing streamed yet (begin_reply's flush): the first token must not wait
            # for a frame slot; it is drawn the moment it arrives.
            self._update(reply)
            self._next_flush = 0.0
            return
        self._update(reply)
        # Re-rendering the unfinished tail is the only work repeated every frame. A huge
        # tail (a long code fence) makes frames wait three times its render time, so it
        # costs at most about a third of the CPU instead of all of it.
        tail_cost = reply.answer.tail_cost + reply.thinking.tail_cost if reply else 0.0
        self._next_flush = start + max(_FRAME, 3 * tail_cost)

    def _update(self, reply: _Reply | None, finish: bool = False) -> None:
        """Render the reply's news (if any) and what came into view; follow; repaint."""
        follow = self._at_end
        changed: int | None = None
        if reply is not None:
            index = self._index_of(reply)
            local = reply.update(self, self._width, finish)
            if local is not None:
                self._valid = min(self._valid, index + 1)
                self._sync()
                changed = self._offsets[index] + local
        self._layout(follow, changed)

    def _spin(self) -> None:
        reply = self._reply
        if reply is None or not reply.waiting:
            self._stop_spinner()
            return
        reply.frame += 1
        if reply.width == self._width > 0:
            reply.set_footer(self, self._width)
            self._sync()
            self.refresh_lines(self._offsets[self._index_of(reply)] + reply.footer_at())

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None

    # ---------------------------------------------------------------- layout

    def _index_of(self, entry: _Entry) -> int:
        entries = self._entries
        # The reply is the last entry, or close to it (a notice added while streaming).
        return next(i for i in range(len(entries) - 1, -1, -1) if entries[i] is entry)

    def _sync(self) -> None:
        """Recompute line offsets of entries whose predecessors changed height."""
        entries, offsets, valid = self._entries, self._offsets, self._valid
        if valid >= len(entries):
            return
        del offsets[valid:]
        y = offsets[-1] + entries[valid - 1].height if valid else 0
        for entry in entries[valid:]:
            offsets.append(y)
            y += entry.height
        self._valid = len(entries)

    def _total(self) -> int:
        return self._offsets[-1] + self._entries[-1].height if self._entries else 0

    def _layout(self, follow: bool, changed_from: int | None = None) -> None:
        """Render what is in view, update the virtual size, follow, repaint changes."""
        self._realize(follow)
        if changed_from is not None:
            top = self.scroll_offset.y
            bottom = top + self.scrollable_content_region.height
            start = max(changed_from, top)
            if start < bottom:
                self.refresh_lines(start, bottom - start)

    def _needs_render(self, top: int) -> bool:
        self._sync()
        entries, offsets, width = self._entries, self._offsets, self._width
        height = self.scrollable_content_region.height
        index = max(0, bisect_right(offsets, top - height) - 1)
        while index < len(entries) and offsets[index] < top + 2 * height:
            if entries[index].width != width:
                return True
            index += 1
        return False

    def _realize(self, follow: bool) -> None:
        """Render the entries in and around the view; keep the view where it was.

        Following, the bottom screens are rendered and the view sticks to the end.
        Otherwise the entry at the top of the view is the anchor: entries above it may
        change height as they are rendered, and the view moves with the anchor.
        """
        entries, width = self._entries, self._width
        height = max(1, self.scrollable_content_region.height)
        self._realizing = True
        try:
            self._sync()
            if not entries:
                self._set_virtual_size(Size(width, 0))
                return
            offsets = self._offsets
            lowest: int | None = None
            if follow:
                first = len(entries)
                covered = 0
                while first > 0 and covered < 2 * height:
                    first -= 1
                    entry = entries[first]
                    if entry.width != width:
                        entry.render(self, width)
                        lowest = first
                    covered += entry.height
                last = len(entries)
                anchor = inner = 0
            else:
                top = self.scroll_offset.y
                anchor = max(0, bisect_right(offsets, top) - 1)
                inner = top - offsets[anchor]
                last = anchor
                covered = 0
                while last < len(entries) and covered < inner + 2 * height:
                    entry = entries[last]
                    if entry.width != width:
                        entry.render(self, width)
                        lowest = last if lowest is None else lowest
                    covered += entry.height
                    last += 1
                first = anchor
                covered = 0
                while first > 0 and covered < height:
                    first -= 1
                    entry = entries[first]
                    if entry.width != width:
                        entry.render(self, width)
                        lowest = first
                    covered += entry.height
            if lowest is not None:
                self._valid = min(self._valid, lowest + 1)
                self._sync()
                self.refresh()
            self._touch(first, last)
            self._set_virtual_size(Size(width, self._total()))
            if follow:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
                self._at_end = True
            else:
                target = offsets[anchor] + min(inner, max(0, entries[anchor].height - 1))
                if target != self.scroll_offset.y:
                    self.scroll_to(y=target, animate=False, immediate=True)
        finally:
            self._realizing = False

    def _set_virtual_size(self, size: Size) -> None:
        """Set virtual_size without asking the screen for a layout pass.

        Assigning `virtual_size` (a layout reactive) makes the screen re-arrange and
        repaint everything on every streamed frame; our own size never depends on it, so
        only the scrollbars need to hear about it (as Textual itself does in
        `Widget._size_updated(layout=False)`). Showing or hiding a scrollbar still asks
        for a layout, through its own reactive.
        """
        if size != self.virtual_size:
            self.set_reactive(Transcript.virtual_size, size)
            self._scroll_update(size)

    def _touch(self, first: int, last: int) -> None:
        """Mark entries[first:last] as recently seen; drop old strips over the budget."""
        cached = self._cached
        for entry in self._entries[first:last]:
            key = id(entry)
            old = cached.pop(key, None)
            if old is not None:
                self._cached_lines -= old[1]
            cached[key] = (entry, entry.height)
            self._cached_lines += entry.height
        keep = last - first
        while self._cached_lines > _CACHE_LINES and len(cached) > keep:
            key = next(iter(cached))
            entry, lines = cached.pop(key)
            self._cached_lines -= lines
            entry.drop()

    # ------------------------------------------------------------- rendering

    def _style(self, name: str) -> Style:
        # Partial: only what the component rule sets, no background. Muted text uses
        # "dim" rather than a translucent colour (which a partial style can't blend), so
        # styles don't change when the focus tint does, and strips stay cached.
        if self._style_key is None:
            self._style_key = self._style_keys()
        return self.get_component_rich_style(name, partial=True)

    def _strips(self, renderable: RenderableType, width: int) -> list[Strip]:
        console = self.app.console
        options = console.options.update_width(max(1, width))
        lines = console.render_lines(renderable, options, pad=True)
        return [Strip(line, width) for line in lines]

    def _render_markdown(self, text: str, width: int) -> list[Strip]:
        """Render sanitized Markdown. (Tests spy on this to count renders.)"""
        return self._strips(markdown(text, self.code_theme), width)

    def _render_plain(self, text: str, width: int, style: Style) -> list[Strip]:
        return self._strips(Text(text, style=style), width)

    def _barred(self, lines: list[Strip], bar: str, style: Style) -> list[Strip]:
        """Prefix each line with a coloured bar (user messages, reasoning, notices)."""
        prefix = Strip([Segment(bar, style)], cell_len(bar))
        return [Strip.join([prefix, line]) for line in lines]

    def _render_reasoning(self, text: str, width: int) -> list[Strip]:
        style = self._style("transcript--thinking")
        return self._barred(self._render_plain(text, width - 2, style), "┊ ", style)

    def _reasoning_gap(self, width: int) -> Strip:
        style = self._style("transcript--thinking")
        return self._barred([Strip.blank(width - 2)], "┊ ", style)[0]

    def _thinking_label(self, width: int) -> Strip:
        style = self._style("transcript--thinking") + Style(bold=True)
        return self._strips(Text("Thinking", style=style, no_wrap=True), width)[0]

    def _header_lines(self, entry: _Entry, width: int) -> list[Strip]:
        if entry.role == "user":
            style = self._style("transcript--user")
            header = Text("▌ ", style=style)
            header.append("You", style)
        else:
            header = Text()
            header.append("Assistant", self._style("transcript--assistant"))
            if entry.model:
                header.append(" · " + clean_line(entry.model), self._style("transcript--model"))
        if entry.version is not None:
            shown, count = entry.version
            header.append(f"  ‹ {shown}/{count} ›", self._style("transcript--model"))
        header.no_wrap = True
        header.overflow = "ellipsis"
        return self._strips(header, width)[:1]

    def _footer_lines(self, entry: _Entry, width: int) -> list[Strip]:
        if isinstance(entry, _Reply) and entry.waiting:
            frame = _SPINNER[entry.frame % len(_SPINNER)]
            waiting = Text(f"{frame} …", style=self._style("transcript--waiting"))
            return self._strips(waiting, width)
        note = sanitize(entry.note) if entry.note else ""
        if entry.status == STOPPED:
            line = Text("⏹ stopped", style=self._style("transcript--stopped"))
        elif entry.status == ERROR:
            line = Text("⚠ error", style=self._style("transcript--error"))
        elif entry.status == LENGTH:
            line = Text("✂ cut off: the model hit its token limit")
            line.stylize(self._style("transcript--length"))
        elif entry.status == SUPERSEDED:
            line = Text("↺ superseded (replaced by a regenerated reply or an edit)")
            line.stylize(self._style("transcript--superseded"))
        elif entry.status == INTERRUPTED:
            # Not the user's Esc: the process writing it went away (closed, killed).
            line = Text("⏹ interrupted: the window writing it closed", style=self._style("transcript--stopped"))
        elif entry.status == STREAMING and not isinstance(entry, _Reply):
            # Stored as streaming: another window (or a pipe run) is writing it now.
            line = Text("… still being written in another window", style=self._style("transcript--waiting"))
        elif entry.status == DONE and not entry.content.strip() and entry.role == "assistant":
            line = Text("(empty reply)", style=self._style("transcript--waiting"))
        else:
            return []
        if note:
            line.append(": " + note)
        return self._strips(line, width)

    def _message_lines(self, entry: _Entry, width: int) -> list[Strip]:
        """Render a whole finished message at `width`."""
        blank = Strip.blank(width)
        if entry.role in ("notice", "system"):
            style = self._style("transcript--notice")
            body = self._render_plain(sanitize(entry.content), width - 2, style)
            return [*self._barred(body, "│ ", style), blank]
        if entry.role == "user":
            style = self._style("transcript--user")
            body = self._render_plain(sanitize(entry.content), width - 2, Style())
            lines = self._header_lines(entry, width) + self._barred(body, "▌ ", style)
            return self._dim_superseded(entry, [*lines, *self._footer_lines(entry, width), blank])
        lines = self._header_lines(entry, width)
        if entry.reasoning.strip():
            lines.append(self._thinking_label(width))
            lines += self._render_reasoning(sanitize(entry.reasoning.strip()), width)
            lines.append(blank)
        content = sanitize(entry.content)
        if content.strip():
            lines += self._render_markdown(content, width)
        lines += self._footer_lines(entry, width)
        lines.append(blank)
        return self._dim_superseded(entry, lines)

    def _dim_superseded(self, entry: _Entry, lines: list[Strip]) -> list[Strip]:
        """An earlier version of a message (kept for history, no longer sent) is dimmed."""
        if entry.status != SUPERSEDED:
            return lines
        style = self._style("transcript--superseded")
        return [line.apply_style(style) for line in lines]
