"""Drawing messages with Rich into strips: Markdown through one shared parser, plain
text with a coloured bar, headers (role, model, ‹ 2/3 ›) and status footers. All text is
untrusted: sanitized and never parsed as Rich markup."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from tuichat.core.models import DONE, ERROR, INTERRUPTED, STOPPED, STREAMING, SUPERSEDED
from tuichat.core.text import clean_line, sanitize
from tuichat.ui.widgets.transcript.base import TranscriptBase
from tuichat.ui.widgets.transcript.entries import LENGTH, Entry, Reply

if TYPE_CHECKING:
    from rich.markdown import Markdown

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def markdown(text: str, code_theme: str) -> Markdown:
    """A rich Markdown for `text` (already sanitized); see markdown_doc (loaded on first use)."""
    from tuichat.ui.markdown_doc import markdown as document

    return document(text, code_theme)


class Rendering(TranscriptBase):
    """The transcript's drawing: every method turns an entry (or text) into strips."""

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
                if isinstance(entry, Reply):
                    entry.answer.width = entry.thinking.width = 0

    def _style_keys(self) -> tuple[Style, ...]:
        return tuple(
            self.get_component_rich_style(name, partial=True)
            for name in sorted(self.COMPONENT_CLASSES)
        )


    def _marker(self, width: int) -> Strip:
        """The last row while text waits below: says so, and which key jumps there."""
        text = Text(f"↓ new text below · {self.jump_key}", style=self._style("transcript--marker"),
                    no_wrap=True, overflow="ellipsis", justify="center")
        return self._strips(text, width)[0]


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

    def _header_lines(self, entry: Entry, width: int) -> list[Strip]:
        if entry.role == "user":
            style = self._style("transcript--user")
            header = Text("▌ ", style=style)
            header.append("You", style)
        elif entry.role == "summary":
            header = Text()
            header.append("Summary", self._style("transcript--assistant"))
            header.append(" · of the earlier messages (/compact)", self._style("transcript--model"))
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

    def _footer_lines(self, entry: Entry, width: int) -> list[Strip]:
        if isinstance(entry, Reply) and entry.waiting:
            frame = _SPINNER[entry.frame % len(_SPINNER)]
            waiting = Text(f"{frame} …", style=self._style("transcript--waiting"))
            return self._strips(waiting, width)
        note = sanitize(entry.note) if entry.note else ""
        if entry.role == "summary" and entry.status in (DONE, SUPERSEDED):
            if entry.status == DONE:
                line = Text("sent in place of the messages above the ┄┄ line · /compact undo sends them again")
            else:
                line = Text("↺ undone: the messages it summarises are sent instead")
            line.stylize(self._style("transcript--stats"))
            return [*self._strips(line, width), *(self._strips(Text(entry.stats, style=self._style(
                "transcript--stats"), no_wrap=True, overflow="ellipsis"), width) if entry.stats else [])]
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
        elif entry.status == STREAMING and not isinstance(entry, Reply):
            # Stored as streaming: another window (or a pipe run) is writing it now.
            line = Text("… still being written in another window", style=self._style("transcript--waiting"))
        elif entry.status == DONE and not entry.content.strip() and entry.role == "assistant":
            line = Text("(empty reply)", style=self._style("transcript--waiting"))
        else:
            line = None
        lines = []
        if line is not None:
            if note:
                line.append(": " + note)
            lines += self._strips(line, width)
        if entry.stats:
            stats = Text(entry.stats, style=self._style("transcript--stats"), no_wrap=True, overflow="ellipsis")
            lines += self._strips(stats, width)
        return lines

    def _message_lines(self, entry: Entry, width: int) -> list[Strip]:
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
            lines = self._dim_superseded(entry, [*lines, *self._footer_lines(entry, width), blank])
            return self._cut_lines(entry, width) + lines
        lines = self._cut_lines(entry, width) + self._header_lines(entry, width)
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

    def _cut_lines(self, entry: Entry, width: int) -> list[Strip]:
        """The marker above the first message sent when older ones were left out."""
        if not entry.cut_above:
            return []
        text = Text(f"┄┄ {entry.cut_above} ┄┄", style=self._style("transcript--cut"))
        return [*self._strips(text, width), Strip.blank(width)]

    def _dim_superseded(self, entry: Entry, lines: list[Strip]) -> list[Strip]:
        """An earlier version of a message (kept for history, no longer sent) is dimmed."""
        if entry.status != SUPERSEDED:
            return lines
        style = self._style("transcript--superseded")
        return [line.apply_style(style) for line in lines]

