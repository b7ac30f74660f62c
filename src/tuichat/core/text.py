"""Cleaning untrusted text for the terminal: the one table every output path uses.

Untrusted means model text and reasoning, server error bodies, model ids, imported
threads, persona and thread titles. A terminal obeys what it is sent: ESC starts a
sequence that can write the clipboard (OSC 52), set the window title, clear the screen
or hide a link (OSC 8); C1 controls (U+0080-U+009F) are the same sequences in one
character for terminals that accept 8-bit controls; a lone CR overwrites a line; bidi
overrides and isolates reorder what is shown (`invoice<RLO>fdp.exe`), and zero-width
characters hide text in names. So, on every path:

- `sanitize(text)`: message text (transcript, exports to a terminal). Controls become
  visible (control pictures: ESC is ␛), bidi overrides/embeddings/isolates become
  marks (‹RLO›) so they cannot reorder anything, newlines and tabs stay, and ZWJ stays
  so emoji sequences still join.
- `sanitize(text, line=True)` / `clean_line(text)`: titles, names, model ids, list
  entries. As above, plus bidi marks (LRM, RLM, ALM) and zero-width characters become
  marks, and line breaks and tabs fold to one space.
- `sanitize(text, strip=True)`: pipe mode's output. Escape sequences are removed whole
  and the characters above are dropped rather than shown, so `tuichat -p ... | tee`
  writes only the model's words.

Lone surrogates (a server's JSON "\\ud800") cannot be encoded to UTF-8: every mode,
and `encodable` for the exact paths, replaces them with U+FFFD.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"

# Bidi formatting characters that reorder text: embeddings, overrides, isolates and the
# pop characters that close them.
_BIDI_CONTROLS = {
    0x202A: "LRE", 0x202B: "RLE", 0x202C: "PDF", 0x202D: "LRO", 0x202E: "RLO",
    0x2066: "LRI", 0x2067: "RLI", 0x2068: "FSI", 0x2069: "PDI",
}
# Bidi marks: invisible, used in real right-to-left text; shown only in one-line fields.
_BIDI_MARKS = {0x200E: "LRM", 0x200F: "RLM", 0x061C: "ALM"}
# Zero-width and other invisible format characters that can hide text in a name.
_INVISIBLE = {
    0x00AD: "SHY", 0x180E: "MVS", 0x200B: "ZWSP", 0x200C: "ZWNJ", 0x200D: "ZWJ",
    0x2060: "WJ", 0x2061: "FA", 0x2062: "IT", 0x2063: "IS", 0x2064: "IP", 0xFEFF: "BOM",
    0xFFF9: "IAA", 0xFFFA: "IAS", 0xFFFB: "IAT",
}
# Line and paragraph separators: new lines to some renderers, folded in one-line fields.
_SEPARATORS = (0x2028, 0x2029)


def _mark(name: str) -> str:
    # Single angle quotes: narrow (one cell each), not Rich markup, and unlike anything a
    # name would normally contain.
    return f"\u2039{name}\u203a"


def _picture(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode control pictures: ␛ for ESC, ␀ for NUL
    if code == 0x7F:
        return "\u2421"  # ␡
    return REPLACEMENT  # C1: there are no pictures for these


_C0_C1 = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)] + list(range(0x7F, 0xA0))
_SURROGATES = range(0xD800, 0xE000)

# Replacement tables, one per mode. Lone surrogates are not listed (2,048 of them would
# cost milliseconds at start-up): every mode's pattern matches them, and a character
# missing from the table becomes U+FFFD.
_SHOW: dict[int, str] = {c: _picture(c) for c in _C0_C1}
_SHOW.update({c: _mark(n) for c, n in _BIDI_CONTROLS.items()})

_LINE: dict[int, str] = dict(_SHOW)
_LINE.update({c: _mark(n) for c, n in {**_BIDI_MARKS, **_INVISIBLE}.items()})
_LINE.update(dict.fromkeys((0x09, 0x0A, *_SEPARATORS), " "))

_STRIP: dict[int, str | None] = dict.fromkeys(_C0_C1)
_STRIP.update(dict.fromkeys(_BIDI_CONTROLS))

_BY_CHAR = {
    mode: {chr(c): "" if r is None else r for c, r in table.items()}
    for mode, table in (("show", _SHOW), ("line", _LINE), ("strip", _STRIP))
}

def _char_class(codes) -> str:
    """A regex character class of `codes`, written as ranges (compiles in microseconds)."""
    parts: list[str] = []
    codes = sorted(codes)
    start = prev = codes[0]
    for code in [*codes[1:], None]:
        if code is not None and code == prev + 1:
            prev = code
            continue
        parts.append(re.escape(chr(start)) if start == prev else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
        if code is not None:
            start = prev = code
    return "[" + "".join(parts) + "]"


# Anything any table changes (plus CR and lone surrogates): text without one of these is
# returned as it is, which is the common case and keeps streaming cheap.
_UNSAFE = {
    mode: re.compile(_char_class({*table, 0x0D, *_SURROGATES}))
    for mode, table in (("show", _SHOW), ("line", _LINE), ("strip", _STRIP))
}

# Whole escape sequences, 7-bit (ESC ...) and 8-bit (C1 introducers), for strip mode.
# A string sequence (OSC, DCS, SOS, PM, APC) runs to BEL or ST; an unterminated one
# stops at the end of its line, so a stray introducer never eats the rest of a reply.
_STRING_SEQ = r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"
_CSI_SEQ = r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
_ESC_SEQ = r"\x1b[ -/]*[0-~]"
_SEQUENCE = re.compile(f"{_STRING_SEQ}|{_CSI_SEQ}|{_ESC_SEQ}")
# Complete sequences only: used to tell a sequence cut by a chunk boundary.
_COMPLETE = re.compile(
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c|(?=\n))"
    r"|(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b(?![\[\]PX^_])[ -/]*[0-~]"
)
_INTRODUCERS = re.compile(r"[\x1b\x90\x98\x9b\x9d\x9e\x9f\r]")


def sanitize(text: str, *, line: bool = False, strip: bool = False) -> str:
    """Make untrusted text safe to write to a terminal (see the module docstring).

    Default: message text, controls shown. `line=True`: a one-line field (title, name,
    model id, list entry). `strip=True`: remove instead of showing (pipe mode).
    CRLF and lone CR become newlines first, so Windows-style replies keep their lines.
    """
    mode = "strip" if strip else "line" if line else "show"
    if not _UNSAFE[mode].search(text):
        return text
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if strip:
        text = _SEQUENCE.sub("", text)
    # Replace only what matched: much faster than str.translate on long, mostly clean text.
    table = _BY_CHAR[mode]
    return _UNSAFE[mode].sub(lambda match: table.get(match.group(), REPLACEMENT), text)


def clean_line(text: str) -> str:
    """A title, name, model id or list entry: one line, every invisible character shown."""
    return sanitize(text, line=True)


def encodable(text: str) -> str:
    """`text` exactly, except lone surrogates (which UTF-8 cannot encode) become U+FFFD.
    For the paths that promise the exact text: `--raw`, `export -o FILE`."""
    return _SURROGATE_RE.sub(REPLACEMENT, text)


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def json_inert(json_text: str) -> str:
    """JSON text with every character a one-line field would show as a mark written as a
    \\uXXXX escape instead: the same data, exactly, but nothing a terminal acts on or hides
    (C1, DEL, bidi and zero-width characters, lone surrogates). Outside strings JSON text
    is ASCII, so each such character is inside a string, where the escape is valid."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


# JSON escapes C0 itself; tab, newline and CR outside strings are its own whitespace.
_JSON_UNSAFE = re.compile(_char_class({*_LINE, *_SURROGATES} - {0x09, 0x0A, 0x0D}))


class StreamCleaner:
    """Cleans text that arrives in pieces (a streamed reply) with `clean`.

    An escape sequence or a CRLF split across two pieces would otherwise be cleaned as
    two halves (the second half then shows as text). A piece that ends inside one is
    held back until the next piece completes it; `flush` cleans whatever is left.
    """

    # A sequence longer than this is not waited for: its start is cleaned as it is.
    MAX_HELD = 4096

    def __init__(self, clean=sanitize) -> None:
        self.clean = clean
        self.held = ""

    def feed(self, text: str) -> str:
        text = self.held + text
        self.held = ""
        cut = _open_sequence(text)
        if cut is not None and len(text) - cut <= self.MAX_HELD:
            text, self.held = text[:cut], text[cut:]
        return self.clean(text) if text else ""

    def flush(self) -> str:
        text, self.held = self.held, ""
        return self.clean(text) if text else ""


def _open_sequence(text: str) -> int | None:
    """Where a sequence (or a CR that may start a CRLF) left open at the end of `text`
    starts, or None if nothing is open."""
    at = max(0, len(text) - StreamCleaner.MAX_HELD)
    while (found := _INTRODUCERS.search(text, at)) is not None:
        at = found.start()
        if text[at] == "\r":
            if at == len(text) - 1:
                return at
            at += 1
            continue
        complete = _COMPLETE.match(text, at)
        if complete is not None:
            at = complete.end()
            continue
        partial = _SEQUENCE.match(text, at)
        if partial is None:  # ESC, maybe with intermediates, and no final byte yet
            if _LONE_ESC.fullmatch(text, at):
                return at
            at += 1
            continue
        if partial.end() == len(text):
            return at
        at = max(partial.end(), at + 1)  # malformed: cleaned as it is
    return None


_LONE_ESC = re.compile(r"\x1b[ -/]*")


def mask_url(url: str) -> str:
    """`url` with any `user:password@` replaced by `***@`: never show credentials."""
    return _USERINFO.sub(r"\1***@", url)


def mask_urls(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Every URL's userinfo in free text masked (error messages, logs), and each of
    `secrets` (a key, a URL's password) replaced by ***."""
    text = _USERINFO.sub(r"\1***@", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def url_secrets(url: str | None) -> tuple[str, ...]:
    """The password and user name in a URL's userinfo (to scrub from messages)."""
    if not url:
        return ()
    match = _USERINFO.search(url)
    if not match:
        return ()
    userinfo = url[match.end(1) : match.end() - 1]
    user, _, password = userinfo.partition(":")
    return tuple(s for s in (password, userinfo) if s) if password else (user,) if user else ()


# scheme://userinfo@host: the userinfo runs to the last @ before the path (a password
# typed with a raw @ in it is still masked whole).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s]*@")


def first_line(text: str, limit: int = 80) -> str:
    """The first non-blank line, trimmed to `limit` characters (for titles)."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""
