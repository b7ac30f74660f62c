"""Tokens and speed per reply: counted by the server (or estimated, marked "≈"), timed from
the request, stored with the reply, and shown in a dim line under it."""

from __future__ import annotations

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from tuichat.core.models import Usage
from tuichat.core.tokens import estimate_tokens, estimate_usage, stats_line
from tuichat.ui.screens.chat import ChatScreen

USAGE = {"prompt_tokens": 21, "completion_tokens": 5, "total_tokens": 26}


def test_estimates_are_the_right_size_for_english_and_japanese():
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 25) == 25  # about four characters a token
    assert estimate_tokens("東京タワー") == 5  # about one a character
    assert estimate_tokens("Tokyo 東京") == 2 + 2
    usage = estimate_usage(["You are kind.", "Hi"], "Hello!")
    assert usage.estimated and usage.completion_tokens == 2
    assert usage.prompt_tokens == (4 + 4) + (1 + 4) and usage.total_tokens == usage.prompt_tokens + 2


def test_the_line_says_what_is_known():
    assert stats_line(Usage(1234, 567, 1801), 820, 13420) == "1,234 in · 567 out · first token 0.8 s · 45 tok/s"
    assert stats_line(Usage(40, 2, 42, estimated=True), None, None) == "≈ 40 in · 2 out"
    assert stats_line(None, 300, 300) == "first token 0.3 s"  # no tokens, no speed
    assert stats_line(Usage(1, 9, 10), 500, 510) == "1 in · 9 out · first token 0.5 s"  # too short to tell a speed
    assert stats_line(None, None, None) is None
    assert stats_line(Usage(0, 0, 0), None, None) is None


def chat(app) -> ChatScreen:
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def test_a_reply_shows_the_servers_counts_and_keeps_them(tmp_path, fake_server):
    fake_server.script(Reply.text("The answer is four.", chunk_size=3, usage=USAGE, delay=0.01))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        screen.composer.text = "What is 2+2?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "21 in · 5 out · first token" in screen.transcript.all_text())
        thread = screen.thread
    stored = peek(app).messages(thread.id)[-1]
    assert stored.usage == Usage(21, 5, 26) and not stored.usage.estimated
    assert stored.first_token_ms is not None and stored.duration_ms is not None
    assert 0 <= stored.first_token_ms <= stored.duration_ms
    # Opened again, the same line comes from the database.
    app = make_app(tmp_path, fake_server.base_url, store=peek(app), thread=thread)
    async with app.run_test(size=(120, 40)) as pilot:
        expected = stats_line(stored.usage, stored.first_token_ms, stored.duration_ms)
        await wait_for(pilot, lambda: expected in chat(app).transcript.all_text())


async def test_a_server_that_counts_nothing_gets_an_estimate_marked_as_such(tmp_path, fake_server):
    fake_server.script(Reply.text("東京タワーは333メートルです。", chunk_size=2, usage=None))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        screen.composer.text = "How tall is Tokyo Tower?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "≈ " in screen.transcript.all_text() and not screen.generating)
        thread = screen.thread
    stored = peek(app).messages(thread.id)[-1]
    assert stored.usage is not None and stored.usage.estimated
    assert stored.usage.completion_tokens == estimate_tokens("東京タワーは333メートルです。")


async def test_usage_repeated_in_every_chunk_is_taken_once(tmp_path, fake_server):
    # Some servers send the running usage in every chunk: the last one is the reply's.
    fake_server.script(Reply(chunks=["a", "b", "c"], usage=USAGE, usage_in_every_chunk=True))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        screen.composer.text = "count"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        thread = screen.thread
    assert peek(app).messages(thread.id)[-1].usage == Usage(21, 5, 26)


async def test_slash_usage_totals_the_threads_replies(tmp_path, fake_server):
    fake_server.script(Reply.text("One.", usage=USAGE), Reply.text("二つ。", usage=None))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        screen.composer.text = "/usage"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "No replies in this thread have been counted yet." in screen.transcript.all_text())
        for question in ("one?", "two?"):
            screen.composer.text = question
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.thread is not None and not screen.generating)
        await wait_for(pilot, lambda: "≈" in screen.transcript.all_text())
        estimated = peek(app).messages(screen.thread.id)[-1].usage
        screen.composer.text = "/usage"
        await pilot.press("enter")
        total_in = 21 + estimated.prompt_tokens
        total_out = 5 + estimated.completion_tokens
        await wait_for(pilot, lambda: f"This thread: 2 replies · {total_in:,} tokens in · {total_out:,} out"
                       in screen.transcript.all_text())
        assert "≈ 1 of them estimated" in screen.transcript.all_text()


def test_totals_count_every_reply_and_only_replies():
    from tuichat.core.models import Message
    from tuichat.core.tokens import totals

    messages = [
        Message(1, 1, "user", "q"),
        Message(2, 1, "assistant", "a", usage=Usage(10, 100, 110), first_token_ms=500, duration_ms=2500),
        Message(3, 1, "assistant", "b", status="superseded", usage=Usage(10, 50, 60, estimated=True),
                first_token_ms=0, duration_ms=500),
        Message(4, 1, "assistant", "imported, never counted"),
    ]
    used = totals(messages)
    assert (used.replies, used.prompt_tokens, used.completion_tokens, used.estimated) == (2, 20, 150, 1)
    assert used.speed == 150 / 2.5


def test_a_prompt_the_server_read_far_less_of_was_cut():
    from tuichat.core.tokens import truncated_prompt

    sent = ["You are kind.", "word " * 2000]  # about 2,500 tokens
    assert truncated_prompt(sent, Usage(512, 10, 522)) == estimate_usage(sent, "").prompt_tokens
    assert truncated_prompt(sent, Usage(2400, 10, 2410)) is None  # about what was sent
    assert truncated_prompt(sent, Usage(512, 10, 522, estimated=True)) is None  # our own guess
    assert truncated_prompt(["short"], Usage(1, 1, 2)) is None  # too short to tell


async def test_a_cut_prompt_is_said_under_the_reply_with_what_to_do(tmp_path, fake_server):
    cut = {"prompt_tokens": 2048, "completion_tokens": 3, "total_tokens": 2051}
    fake_server.script(Reply.text("Hmm?", usage=cut))
    app = make_app(tmp_path, fake_server.base_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(app)
        screen.composer.text = "Summarise this: " + "lorem ipsum dolor sit amet " * 1000
        await pilot.press("enter")
        await wait_for(pilot, lambda: "The server read only 2,048 prompt tokens" in screen.transcript.all_text())
        assert "OLLAMA_CONTEXT_LENGTH" in screen.transcript.all_text()


def test_pipe_mode_warns_of_a_cut_prompt_on_stderr(fake_server, tmp_path):
    from test_cli import tuichat

    fake_server.script(Reply.text("Hmm?", usage={"prompt_tokens": 900, "completion_tokens": 3, "total_tokens": 903}))
    result = tuichat("-p", "Summarise: " + "lorem ipsum dolor " * 800, "--base-url", fake_server.base_url,
                     "--db", str(tmp_path / "t.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hmm?\n"
    assert "tuichat: warning: The server read only 900 prompt tokens" in result.stderr
