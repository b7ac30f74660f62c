"""core/text.py: the one cleaning table every output path uses, and URL masking."""

from __future__ import annotations

import json

import pytest

from fake_openai import HOSTILE_PAYLOADS, HOSTILE_TEXT
from tuichat.core.text import (
    StreamCleaner,
    clean_line,
    encodable,
    json_inert,
    mask_url,
    mask_urls,
    sanitize,
    url_secrets,
)

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
BIDI_MARKS = "\u200e\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
C0 = "".join(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")
C1 = "".join(chr(c) for c in range(0x80, 0xA0))


def dangerous(text: str, *, line: bool = False) -> list[str]:
    """The characters of `text` a terminal would act on (or, in a line, that hide text)."""
    bad = set(C0 + C1 + "\x7f\r" + BIDI_CONTROLS)
    if line:
        bad |= set(BIDI_MARKS + ZERO_WIDTH + "\n\t")
    return sorted({c for c in text if c in bad or 0xD800 <= ord(c) <= 0xDFFF})


# --- sanitize: message text ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HOSTILE_PAYLOADS))
def test_every_hostile_payload_is_inert_in_each_mode(name):
    payload = HOSTILE_PAYLOADS[name]
    assert dangerous(sanitize(payload)) == []
    assert dangerous(clean_line(payload), line=True) == []
    assert dangerous(sanitize(payload, strip=True)) == []
    for out in (sanitize(payload), clean_line(payload), sanitize(payload, strip=True)):
        out.encode("utf-8")  # a lone surrogate is replaced, never a crash


def test_controls_become_control_pictures():
    assert sanitize("a\x1b[2Jb") == "a␛[2Jb"
    assert sanitize("\x00\x07\x08\x7f") == "␀␇␈␡"
    assert sanitize("c1\x9b2J\x9d0;t\x9c") == "c1\ufffd2J\ufffd0;t\ufffd"


def test_newlines_and_tabs_stay_and_carriage_returns_become_newlines():
    assert sanitize("a\tb\nc") == "a\tb\nc"
    assert sanitize("line1\r\nline2\rline3") == "line1\nline2\nline3"


def test_bidi_overrides_and_isolates_are_shown_as_marks_in_message_text():
    assert sanitize("invoice\u202efdp.exe") == "invoice‹RLO›fdp.exe"
    assert sanitize("\u2066x\u2069") == "‹LRI›x‹PDI›"
    # Marks used in real right-to-left text are kept in a message: they reorder nothing.
    assert sanitize("שלום\u200fabc") == "שלום\u200fabc"


def test_zwj_is_kept_in_messages_so_emoji_sequences_join():
    family = "👨\u200d👩\u200d👧"
    assert sanitize(family) == family
    assert sanitize("zero\u200bwidth") == "zero\u200bwidth"


def test_markup_is_left_as_text():
    # Rich markup is made inert by never parsing it (Text objects, markup=False), not
    # by changing it: the user sees exactly the brackets that were sent.
    text = "[bold red]x[/] [link=https://evil.example/]y[/link]"
    assert sanitize(text) == clean_line(text) == sanitize(text, strip=True) == text


def test_lone_surrogates_become_replacement_characters():
    assert sanitize("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert clean_line("a\ud800b") == "a\ufffdb"
    assert sanitize("a\ud800b", strip=True) == "a\ufffdb"
    # A valid pair is one code point in Python: untouched.
    assert sanitize("😀") == "😀"


def test_clean_text_is_returned_unchanged():
    text = "Plain text, 日本語, emoji 😀, tabs\tand\nnewlines."
    assert sanitize(text) is text


# --- clean_line: titles, names, ids --------------------------------------------------------


def test_clean_line_shows_bidi_marks_and_zero_width_characters():
    assert clean_line("a\u200eb\u200fc\u061cd") == "a‹LRM›b‹RLM›c‹ALM›d"
    assert clean_line("pay\u200bpal\u200c\u200d\u2060\ufeff") == "pay‹ZWSP›pal‹ZWNJ›‹ZWJ›‹WJ›‹BOM›"


def test_clean_line_folds_line_breaks_and_tabs():
    assert clean_line("one\ntwo\tthree\r\nfour\u2028five") == "one two three four five"


def test_clean_line_is_idempotent():
    once = clean_line(HOSTILE_TEXT)
    assert clean_line(once) == once
    assert sanitize(once) == once


# --- strip mode: pipe output ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("clear\x1b[2J\x1b[Hscreen", "clearscreen"),
        ("clip\x1b]52;c;cm0gLXJmIH4=\x07board", "clipboard"),
        ("win\x1b]0;title\x1b\\dow", "window"),
        ("\x1b]8;;https://evil.example/\x1b\\hyper\x1b]8;;\x1b\\link", "hyperlink"),
        ("c1\x9b2Jcsi", "c1csi"),
        ("c1\x9d0;title\x9cosc", "c1osc"),
        ("\x1bPdcs data\x1b\\after", "after"),
        ("charset\x1b(B switch", "charset switch"),
        ("colour \x1b[38;2;255;0;0mred\x1b[0m", "colour red"),
        ("bell\x07del\x7fnul\x00", "belldelnul"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("unterminated \x1b]0;title\nnext line", "unterminated \nnext line"),
    ],
)
def test_strip_mode_removes_whole_sequences(raw, clean):
    assert sanitize(raw, strip=True) == clean


def test_strip_mode_keeps_text_and_joiners():
    text = "日本語 👨\u200d👩\u200d👧 [bold]x[/] tab\tnewline\n"
    assert sanitize(text, strip=True) == text


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 11])
def test_stream_cleaner_removes_sequences_split_across_pieces(size):
    raw = ("pre\x1b]52;c;aGk=\x07mid\x1b[2Jend\x1b]0;title\x1b\\done\r\nx\x9b31mz"
           "\x1b(Bq \u202eq\x1b")
    cleaner = StreamCleaner(lambda text: sanitize(text, strip=True))
    out = "".join(cleaner.feed(raw[i : i + size]) for i in range(0, len(raw), size))
    out += cleaner.flush()
    assert out == "premidenddone\nxzq q"


def test_stream_cleaner_does_not_hold_plain_text():
    cleaner = StreamCleaner(lambda text: sanitize(text, strip=True))
    assert cleaner.feed("Hello ") == "Hello "
    assert cleaner.feed("wor\x1b[") == "wor"  # the sequence may go on: held
    assert cleaner.feed("1mld") == "ld"
    assert cleaner.flush() == ""


def test_stream_cleaner_gives_up_on_a_sequence_that_never_ends():
    cleaner = StreamCleaner(lambda text: sanitize(text, strip=True))
    out = cleaner.feed("a\x1b]0;" + "x" * (StreamCleaner.MAX_HELD + 10))
    assert out.startswith("a") and "\x1b" not in out  # cleaned as it is, not held forever


# --- exact paths -------------------------------------------------------------------------


def test_encodable_changes_only_lone_surrogates():
    assert encodable("a\x1b[2J\u202e\ud800b") == "a\x1b[2J\u202e\ufffdb"
    text = "exact \x1b]52;c;x\x07 text"
    assert encodable(text) is text


def test_json_inert_escapes_without_changing_the_data():
    data = {"title": HOSTILE_TEXT, "ok": "日本語 😀"}
    text = json_inert(json.dumps(data, ensure_ascii=False, indent=2))
    assert json.loads(text) == data
    assert dangerous(text.replace("\n", "")) == []
    assert "日本語 😀" in text  # readable text stays readable


# --- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://user:pass@host:8080/v1", "http://***@host:8080/v1"),
        ("https://token@api.example/v1", "https://***@api.example/v1"),
        ("http://user:p@ss@host/v1", "http://***@host/v1"),  # a raw @ in the password
        ("http://host:8080/v1", "http://host:8080/v1"),
        ("http://host/v1?next=a@b", "http://host/v1?next=a@b"),  # @ after the host is not userinfo
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_mask_urls_in_free_text_and_known_secrets():
    text = "POST http://alice:s3cret@h/v1 failed (password s3cret)"
    assert mask_urls(text, url_secrets("http://alice:s3cret@h/v1")) == "POST http://***@h/v1 failed (password ***)"
    assert url_secrets("http://h/v1") == ()
    assert url_secrets(None) == ()
