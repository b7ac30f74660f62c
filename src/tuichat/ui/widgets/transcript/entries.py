"""What the transcript holds: a message as shown (`Shown`), its rendered entry, and the
reply being streamed, whose finished Markdown blocks are rendered once and whose
unfinished tail alone is re-rendered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import TYPE_CHECKING, NamedTuple

from textual.strip import Strip

from tuichat.core.blocks import BlockSplitter
from tuichat.core.models import DONE, STREAMING
from tuichat.core.text import sanitize

if TYPE_CHECKING:
    from tuichat.ui.widgets.transcript.widget import Transcript

LENGTH = "length"
"""Status of a reply cut off because the model hit its token limit (finish reason "length")."""


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
    stats: str | None = None  # a reply's tokens and speed (core.tokens.stats_line)


OlderLoader = Callable[[int], Awaitable[tuple[list[Shown], int]]]
"""Awaited with how many messages are wanted at least: returns the next older messages
(oldest first) and how many user/assistant messages are still older than those. A
coroutine: the store is read on its own thread, so scrolling never waits for SQLite."""

# Messages read per older page: a few screens' worth even of one-line messages.
OLDER_PAGE = 200

class Entry:
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
        stats: str | None = None,
    ) -> None:
        self.role = role
        self.content = content
        self.status = status
        self.reasoning = reasoning
        self.model = model
        self.note = note
        self.message_id = message_id
        self.version = version
        self.stats = stats
        # A line drawn above the message: where the messages sent to the model begin
        # ("12 earlier messages not sent"), set by Transcript.mark_cut.
        self.cut_above: str | None = None
        self.width = 0  # the width `lines` were rendered at; 0: not rendered
        self.lines: list[Strip] = []
        self.height = 1  # exact when `measured` is the current width, else an estimate
        self.measured = 0

    def estimate(self, width: int) -> int:
        """A cheap guess of the rendered height, used until the message is rendered."""
        text_len = len(self.content) + len(self.reasoning)
        newlines = self.content.count("\n") + self.reasoning.count("\n")
        return 3 + newlines + text_len // max(1, width - 2) + (2 if self.cut_above else 0)

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


class Section:
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


class Reply(Entry):
    """The assistant message being streamed: header, reasoning, answer, footer."""

    def __init__(self, model: str | None) -> None:
        super().__init__("assistant", "", STREAMING, "", model, None)
        self.streaming = True
        self.answer = Section()
        self.thinking = Section()
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
        foot_key = (self.waiting, self.frame, self.status, self.note, self.stats)
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
        self._foot_key = (self.waiting, self.frame, self.status, self.note, self.stats)
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


def is_message(entry: Entry) -> bool:
    """A user or assistant message (or a /compact summary), as opposed to a notice."""
    return entry.role in ("user", "assistant", "summary")


def source_of(entry: Entry) -> str:
    """The text a message was written as (a streaming reply: what arrived so far)."""
    if isinstance(entry, Reply) and entry.streaming:
        return entry.text()
    return entry.content


def find_line(entry: Entry, text: str) -> int | None:
    """The first rendered line of `entry` containing `text` (ignoring case), if any."""
    needle = text.casefold()
    for number in range(entry.height):
        if needle in entry.line(number).text.casefold():
            return number
    return None


