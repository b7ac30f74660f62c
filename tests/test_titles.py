"""titles.py: cleaning what the model says into a title, and the title request itself."""

from __future__ import annotations

import pytest

from fake_openai import Reply
from tuichat.core.errors import ProviderError
from tuichat.core.events import Finished, TextDelta
from tuichat.providers.openai import OpenAIProvider
from tuichat.session.titles import (
    MAX_TITLE_CHARS,
    TITLE_MAX_TOKENS,
    TITLE_PROMPT,
    clean_title,
    suggest_title,
    title_messages,
)


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Tokyo Day Trip", "Tokyo Day Trip"),
        ('"Tokyo Day Trip."', "Tokyo Day Trip"),
        ("'SQLite WAL Mode'", "SQLite WAL Mode"),
        ("“Curly Quotes”", "Curly Quotes"),
        ("**Bold Title**", "Bold Title"),
        ('**"Nested Wrappers!"**', "Nested Wrappers"),
        ("*Emphasis*", "Emphasis"),
        ("`code title`", "code title"),
        ("# Heading Title", "Heading Title"),
        ("## Heading Title\n\nAnd an explanation.", "Heading Title"),
        ("\n\n  Title after blank lines  \n", "Title after blank lines"),
        ("Title: Plain Label", "Plain Label"),
        ("**Title:** \"Label In Bold\"", "Label In Bold"),
        ("- List Item Title", "List Item Title"),
        ("1. Numbered Title", "Numbered Title"),
        ("「東京の一日」", "東京の一日"),
        ("『東京の一日』。", "東京の一日"),
        ("タイトル：東京観光", "東京観光"),
        ("Why is the sky blue?", "Why is the sky blue"),
        ("Too   many\tspaces", "Too many spaces"),
        ('"Unclosed quote', "Unclosed quote"),
        ("Don't Panic", "Don't Panic"),
        ('Using "quotes" inside', 'Using "quotes" inside'),
        ("__init__ methods", "__init__ methods"),
        ("<think>the user wants a title</think>\nReasoned Title", "Reasoned Title"),
        ("Emoji 🗼 title 👨‍👩‍👧", "Emoji 🗼 title 👨‍👩‍👧"),  # the ZWJ family stays whole
    ],
)
def test_clean_title(raw, title):
    assert clean_title(raw) == title


@pytest.mark.parametrize("raw", ["", "   ", "\n\n", '""', "**", "...", "<think>only thinking</think>"])
def test_nothing_usable_gives_empty(raw):
    assert clean_title(raw) == ""


def test_escape_sequences_and_controls_are_removed():
    assert clean_title("\x1b[31mRed\x1b[0m Alert\x07") == "Red Alert"
    assert clean_title("\x1b]0;set window title\x07Safe Title") == "Safe Title"
    assert clean_title("bidi \u202eevil\u202c text\u200b") == "bidi evil text"
    assert all(ord(c) >= 0x20 for c in clean_title("a\x00b\x7fc\x9bd"))


def test_markup_is_kept_as_plain_text():
    # Square brackets are text, not Rich markup; the thread list draws them as they are.
    assert clean_title("[bold]Not Markup[/bold]") == "[bold]Not Markup[/bold]"


def test_long_titles_are_capped_at_a_word_boundary():
    raw = "A very long title that goes on and on about many different things in great detail"
    title = clean_title(raw)
    assert len(title) <= MAX_TITLE_CHARS and title.endswith("…")
    assert raw.startswith(title[:-1])
    assert not title[:-1].endswith(" ")
    assert raw[len(title) - 1] == " "  # cut between words


def test_long_titles_without_spaces_are_cut_hard():
    title = clean_title("東京" * 100)
    assert len(title) == MAX_TITLE_CHARS and title == "東京" * 29 + "東…"


def test_title_messages_hold_the_prompt_and_the_first_exchange():
    messages = title_messages("  what is WAL?  ", "Write-ahead logging." + "x" * 5000)
    assert messages[0] == {"role": "system", "content": TITLE_PROMPT}
    assert [m["role"] for m in messages] == ["system", "user"]  # never ends on an assistant turn
    content = messages[1]["content"]
    assert content.startswith("User: what is WAL?\n\nAssistant: Write-ahead logging.")
    assert len(content) < 2 * 2000 + 100  # long replies are cut


class ScriptedProvider:
    """A provider that yields given events, or raises, and records what it was asked."""

    def __init__(self, events=(), error: Exception | None = None) -> None:
        self.events = list(events)
        self.error = error
        self.calls: list[tuple[list[dict[str, str]], str, dict]] = []
        self.closed = False

    async def stream(self, messages, model, params):
        self.calls.append((messages, model, params))
        try:
            for event in self.events:
                yield event
            if self.error:
                raise self.error
        finally:
            self.closed = True

    async def aclose(self) -> None:
        pass

    def warm_up(self) -> None:
        pass


async def test_suggest_title_collects_the_stream_and_cleans_it():
    provider = ScriptedProvider([TextDelta('"Tokyo '), TextDelta("Trip.\""), Finished("stop")])
    assert await suggest_title(provider, "m1", "q", "a") == "Tokyo Trip"
    messages, model, params = provider.calls[0]
    assert model == "m1" and params == {"max_tokens": TITLE_MAX_TOKENS}
    assert messages == title_messages("q", "a")


async def test_suggest_title_gives_empty_on_provider_errors():
    error = ProviderError("server", "Server error (500)", "boom", 500)
    assert await suggest_title(ScriptedProvider([TextDelta("Half")], error=error), "m", "q", "a") == ""


async def test_suggest_title_stops_reading_a_runaway_reply_and_closes_the_stream():
    provider = ScriptedProvider([TextDelta("Endless ")] * 10_000)
    title = await suggest_title(provider, "m", "q", "a")
    assert title.startswith("Endless Endless") and len(title) <= MAX_TITLE_CHARS
    assert provider.closed


async def test_suggest_title_against_the_fake_server(fake_server):
    fake_server.script(Reply.text("## SQLite WAL Explained\n"), Reply.error(500, "down"))
    provider = OpenAIProvider(api_key="sk-test", base_url=fake_server.base_url, timeout=5, max_retries=0)
    try:
        assert await suggest_title(provider, "test-model", "what is WAL?", "A journal mode.") == "SQLite WAL Explained"
        assert await suggest_title(provider, "test-model", "q", "a") == ""
    finally:
        await provider.aclose()
    body = fake_server.chat_requests[0].json
    assert body["max_tokens"] == TITLE_MAX_TOKENS and body["model"] == "test-model"
    assert body["messages"][0]["content"] == TITLE_PROMPT
