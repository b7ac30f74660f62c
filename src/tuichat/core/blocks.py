"""Split streamed Markdown into top-level blocks as soon as each one is finished.

A streamed reply is re-rendered while it grows. Rendering the whole reply every frame
costs time proportional to its length, so the transcript renders each *finished* block
once and re-renders only the unfinished tail. This module decides where blocks end.

Pure Python: no Textual, no Rich. Work per `feed` is proportional to the new text (plus
the line it completes): the splitter keeps its scan position and never rescans the reply.
"""

from __future__ import annotations

import re

# A fence opener: ``` or ~~~ (three or more), any indentation (fences inside list items
# are indented), then an info string. A backtick fence's info string may not contain a
# backtick (CommonMark), otherwise "```inline``` code" would open a fence.
_FENCE_OPEN = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_FENCE_CLOSE = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*")
# A list item marker at the start of a line: bullet -, * or +, or 1. / 1) ordered.
_LIST_ITEM = re.compile(r"([-*+]|[0-9]{1,9}([.)]))(?:[ \t]|$)")


def _is_blank(line: str) -> bool:
    return not line.strip(" \t")


def _list_kind(line: str) -> str | None:
    """The kind of list item `line` starts ("-", "*", "+", "." or ")"), if any."""
    match = _LIST_ITEM.match(line)
    if match is None:
        return None
    # Ordered items belong to the same list when their delimiter matches; bullets when
    # the bullet character matches (CommonMark starts a new list otherwise).
    return match.group(2) or match.group(1)


class BlockSplitter:
    """Incremental splitter: feed text pieces, get back the blocks that just finished.

    A block is finished when a blank line ends it outside a fenced code block and the
    next non-blank line neither continues it (indented: a list item's body, indented
    code) nor is another item of the same top-level list or another table row. So a
    loose list and a table stay one block, while paragraphs, headings and fences
    separated by blank lines become separate blocks.

    Blocks are returned without their trailing newline. Blank lines between blocks are
    dropped (a renderer puts one blank line between blocks, as Markdown does). CRLF and
    lone CR become LF, even when "\\r" and "\\n" arrive in different pieces.
    """

    def __init__(self) -> None:
        self._partial: list[str] = []  # pieces of the current, incomplete line
        self._cr = False  # the previous piece ended with "\r" (maybe half of "\r\n")
        self._lines: list[str] = []  # complete lines of the current block
        self._blanks = 0  # blank lines seen after the current block's last line
        self._fence: tuple[str, int] | None = None  # open fence: (char, length)
        self._list: str | None = None  # kind of the current top-level list
        self._table = False  # the block's last line is a table row

    @property
    def tail(self) -> str:
        """The unfinished remainder: the current block plus the incomplete last line."""
        partial = "".join(self._partial)
        if not self._lines:
            return partial
        body = "\n".join(self._lines)
        if self._blanks:
            # Undecided whether the next line continues the block; show it as what it
            # looks like so far (a new paragraph), so a half-typed line is visible.
            return body + "\n\n" + partial if partial else body
        return body + "\n" + partial

    def feed(self, text: str) -> list[str]:
        """Add a piece of text; return the blocks that this piece finished."""
        if self._cr:
            text = "\r" + text
            self._cr = False
        if "\r" in text:
            if text.endswith("\r"):
                # Could be the first half of "\r\n": decide when the next piece comes.
                text = text[:-1]
                self._cr = True
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        done: list[str] = []
        start = 0
        newline = text.find("\n")
        while newline >= 0:
            if self._partial:
                self._partial.append(text[start:newline])
                line = "".join(self._partial)
                self._partial.clear()
            else:
                line = text[start:newline]
            self._line(line, done)
            start = newline + 1
            newline = text.find("\n", start)
        if start < len(text):
            self._partial.append(text[start:])
            if self._blanks:
                # Decide from the first characters of the next line, so the finished
                # block leaves the tail now rather than when that line ends (replies
                # often put a whole paragraph on one long line).
                self._decide("".join(self._partial), done)
        return done

    def finish(self) -> list[str]:
        """End of input: return every block still held, the tail included."""
        done: list[str] = []
        if self._cr:
            self._cr = False
            self._line("".join(self._partial), done)
            self._partial.clear()
        if self._partial:
            self._line("".join(self._partial), done)
            self._partial.clear()
        if self._lines:
            done.append("\n".join(self._lines))
        self._lines = []
        self._blanks = 0
        self._fence = None
        self._list = None
        self._table = False
        return done

    def _line(self, line: str, done: list[str]) -> None:
        """Take one complete line (without its newline)."""
        if self._fence is not None:
            # Inside a fence everything is code, blank lines included.
            self._lines.append(line)
            char, length = self._fence
            match = _FENCE_CLOSE.fullmatch(line)
            if match and match.group(1)[0] == char and len(match.group(1)) >= length:
                self._fence = None
            return
        if _is_blank(line):
            if self._lines:
                self._blanks += 1
            return  # blank lines before the first block carry nothing
        if self._blanks:
            if self._continues(line, complete=True):
                self._lines.extend([""] * self._blanks)
            else:
                done.append("\n".join(self._lines))
                self._lines = []
                self._list = None
            self._blanks = 0
        self._lines.append(line)
        self._table = line.startswith("|")
        opener = _FENCE_OPEN.fullmatch(line)
        if opener is not None:
            fence = opener.group(1)
            if not (fence[0] == "`" and "`" in opener.group(2)):
                self._fence = (fence[0], len(fence))
                return
        if line[0] not in " \t":
            kind = _list_kind(line)
            if kind is not None:
                self._list = kind

    def _decide(self, start: str, done: list[str]) -> None:
        """After blank lines, settle the block from the start of the next line if possible."""
        verdict = self._continues(start)
        if verdict is None:
            return  # e.g. "-" could become "- item" (same list) or "---" (a rule)
        if verdict:
            self._lines.extend([""] * self._blanks)
        else:
            done.append("\n".join(self._lines))
            self._lines = []
            self._list = None
            self._table = False
        self._blanks = 0

    def _continues(self, line: str, complete: bool = False) -> bool | None:
        """Does this line, after blank lines, still belong to the current block?

        `line` may be only the start of a line (complete=False): then None means "can't
        tell yet".
        """
        if line[0] in " \t":
            return True  # a list item's next paragraph, nested list or indented code
        if self._table and line[0] == "|":
            return True
        if self._list is None:
            return False
        kind = _list_kind(line)
        if kind is not None or complete:
            return kind == self._list
        # Not a list item yet: could it still become one of the same list?
        if self._list in "-*+":
            return None if line == self._list else False
        digits = line.rstrip(".)")
        if digits.isdigit() and len(digits) <= 9 and len(line) - len(digits) <= 1:
            return None
        return False
