"""Text hygiene for untrusted model output and user-facing snippets."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, and the C1 range. ESC (\x1b) is the dangerous
# one: model output must never reach the terminal as an escape sequence.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures": ␛ for ESC, ␀ for NUL
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def sanitize(text: str) -> str:
    """Make untrusted text safe to draw: control characters become visible symbols.

    CRLF and lone CR become newlines first, so Windows-style replies keep their lines.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub(_visible, text)


def first_line(text: str, limit: int = 80) -> str:
    """The first non-blank line, trimmed to `limit` characters (for titles)."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""
