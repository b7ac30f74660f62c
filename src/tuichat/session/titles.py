"""Automatic thread titles: ask the model for a short title after the first exchange.

No UI here. The chat screen runs `suggest_title` in a background worker when
`auto_title = true`; anything that goes wrong means "no title", never an error shown to
the user. What the model sends back is untrusted text: `clean_title` turns it into one
short, plain line (no markup, quotes, control characters or bidi overrides).
"""

from __future__ import annotations

import re
from contextlib import aclosing

from tuichat.core.errors import ProviderError
from tuichat.core.events import TextDelta
from tuichat.providers.base import Provider

TITLE_PROMPT = (
    "Give a short title (at most 6 words) for this conversation. Reply with the title only."
)
MAX_TITLE_CHARS = 60
TITLE_MAX_TOKENS = 20
# Only the start of a long exchange is sent: enough to name it, cheap to send.
EXCERPT_CHARS = 2000
# A server that ignores max_tokens must not keep us reading.
MAX_REPLY_CHARS = 1000

ELLIPSIS = "…"
# Reasoning models sometimes put their thinking inline in the content.
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
# C0/C1 controls (tab and newline are handled as whitespace first), DEL, zero-width
# spaces and bidi controls, which could reorder or hide text in the thread list.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?")
# Bold and code marks mean nothing in a plain one-line title.
_EMPHASIS = re.compile(r"\*\*|`")
_LABEL = re.compile(r"^(title|タイトル)\s*[:：]\s*", re.IGNORECASE)
_LEADING_MARKDOWN = re.compile(r"^(#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)+")
# Quotes and emphasis that wrap the whole title, ASCII, typographic and Japanese.
_WRAPPERS = (
    ("**", "**"), ("__", "__"), ("*", "*"), ("_", "_"), ("`", "`"), ('"', '"'), ("'", "'"),
    ("“", "”"), ("‘", "’"), ("「", "」"), ("『", "』"), ("«", "»"),
)
_QUOTE_PAIRS = {'"': '"', "“": "”", "「": "」", "『": "』", "«": "»"}
_TRAILING = ".,;:!?。、，．：；！？…"
_NOT_A_TITLE = "".join(o + c for o, c in _WRAPPERS) + _TRAILING + " "


def title_messages(user_text: str, reply_text: str) -> list[dict[str, str]]:
    """The request: the instruction, then the first exchange as one user message (ending
    on an assistant message would ask some servers to continue that message instead)."""
    exchange = f"User: {_excerpt(user_text)}\n\nAssistant: {_excerpt(reply_text)}"
    return [
        {"role": "system", "content": TITLE_PROMPT},
        {"role": "user", "content": exchange},
    ]


def _excerpt(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + ELLIPSIS


def clean_title(raw: str, limit: int = MAX_TITLE_CHARS) -> str:
    """One short plain line from what the model said, or "" if nothing usable is left."""
    text = _THINK.sub("", raw)
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _INVISIBLE.sub("", " ".join(_ANSI.sub("", line).split()))
    line = _EMPHASIS.sub("", line)
    line = _LABEL.sub("", line)
    line = _LEADING_MARKDOWN.sub("", line)
    previous = None
    while line != previous:  # wrappers may nest: **"Title"**
        previous = line
        line = _unwrap(line).strip()
        line = line.rstrip(_TRAILING).strip()
        line = _LABEL.sub("", line)
    line = _drop_unpaired_quotes(line).rstrip(_TRAILING).strip()
    if not line.strip(_NOT_A_TITLE):
        return ""  # only quote marks and punctuation were left
    if len(line) > limit:
        cut = line[: limit - 1]
        # Prefer a word boundary when there is one reasonably near the end.
        space = cut.rfind(" ")
        if space >= limit // 2:
            cut = cut[:space]
        line = cut.rstrip(_TRAILING + " ") + ELLIPSIS
    return line


def _unwrap(line: str) -> str:
    for opener, closer in _WRAPPERS:
        if len(line) > len(opener) + len(closer) and line.startswith(opener) and line.endswith(closer):
            return line[len(opener) : -len(closer)]
    return line


def _drop_unpaired_quotes(line: str) -> str:
    """Remove a quote mark at either end whose partner is missing (a title cut short)."""
    if line and line[0] in _QUOTE_PAIRS:
        closer = _QUOTE_PAIRS[line[0]]
        if closer not in line[1:] or (closer == line[0] and line.count(closer) % 2):
            line = line[1:]
    closers = {c: o for o, c in _QUOTE_PAIRS.items()}
    if line and line[-1] in closers:
        opener = closers[line[-1]]
        if opener not in line[:-1] or (opener == line[-1] and line.count(opener) % 2):
            line = line[:-1]
    return line.strip()


async def suggest_title(provider: Provider, model: str, user_text: str, reply_text: str) -> str:
    """Ask `model` for a title for the exchange; "" when it fails or says nothing usable."""
    pieces: list[str] = []
    received = 0
    try:
        events = provider.stream(
            title_messages(user_text, reply_text), model, {"max_tokens": TITLE_MAX_TOKENS}
        )
        # aclosing: leaving the loop early must still close the HTTP stream at once.
        async with aclosing(events):  # type: ignore[type-var]
            async for event in events:
                if isinstance(event, TextDelta):
                    pieces.append(event.text)
                    received += len(event.text)
                    if received > MAX_REPLY_CHARS:
                        break
    except ProviderError:
        return ""
    return clean_title("".join(pieces))
