"""Pipe mode for scripts: `--json` writes one JSON object per line; `--max-tokens` caps a
run. Run as a subprocess, as a script would, against the fake server."""

from __future__ import annotations

import json

from fake_openai import Reply
from test_cli import tuichat

USAGE = {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15}


def lines(stdout: str) -> list[dict]:
    assert stdout.endswith("\n")
    return [json.loads(line) for line in stdout.splitlines()]


def test_json_lines_carry_the_text_the_reasoning_and_how_it_ended(fake_server, tmp_path):
    text = "東京は\x1b[31m晴れ\x1b[0m。"  # an escape sequence: inert in JSON, exact when decoded
    fake_server.script(Reply(chunks=[text[:3], text[3:]], reasoning=["考え中"], usage=USAGE))
    result = tuichat("-p", "天気は?", "--json", "--base-url", fake_server.base_url, "--model", "m1",
                     "--db", str(tmp_path / "t.db"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii() and "\x1b" not in result.stdout
    out = lines(result.stdout)
    assert [o["type"] for o in out] == ["reasoning", "text", "text", "done"]
    assert "".join(o["text"] for o in out if o["type"] == "text") == text
    assert out[0]["text"] == "考え中"
    done = out[-1]
    assert done["status"] == "done" and done["finish_reason"] == "stop" and done["model"] == "m1"
    assert done["usage"] == {**USAGE, "estimated": False}
    assert isinstance(done["first_token_ms"], int) and done["duration_ms"] >= done["first_token_ms"]
    assert isinstance(done["thread_id"], int) and isinstance(done["message_id"], int)
    assert "cost" in done


def test_max_tokens_is_sent_and_a_cut_reply_says_so(fake_server, tmp_path):
    fake_server.script(Reply.text("one two three", usage=USAGE, finish_reason="length"))
    result = tuichat("-p", "count", "--json", "--max-tokens", "3", "--base-url", fake_server.base_url,
                     "--db", str(tmp_path / "t.db"))
    assert result.returncode == 0, result.stderr
    assert fake_server.chat_requests[-1].json["max_tokens"] == 3
    assert lines(result.stdout)[-1]["finish_reason"] == "length"
    assert "cut off" in result.stderr


def test_an_error_is_the_last_line_and_on_stderr_with_exit_1(fake_server, tmp_path):
    fake_server.script(Reply.error(401, "Incorrect API key provided"))
    result = tuichat("-p", "hi", "--json", "--base-url", fake_server.base_url, "--db", str(tmp_path / "t.db"))
    assert result.returncode == 1
    last = lines(result.stdout)[-1]
    assert last["type"] == "error" and last["kind"] == "auth"
    assert "rejected the API key" in last["title"] and "rejected the API key" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_pipe_options_need_pipe_mode_and_a_positive_count(tmp_path):
    for args, expected in [
        (["--json"], "--json is for pipe mode"),
        (["--max-tokens", "5"], "--max-tokens is for pipe mode"),
        (["-p", "hi", "--max-tokens", "0"], "expected a whole number above 0"),
        (["-p", "hi", "--max-tokens", "lots"], "expected a whole number above 0"),
    ]:
        result = tuichat(*args, "--db", str(tmp_path / "t.db"), "--base-url", "http://127.0.0.1:9/v1")
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr


def test_max_cost_sets_the_reply_allowance_from_the_price(fake_server, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[prices."m1"]\ninput = 1\noutput = 10\n', encoding="utf-8")  # $10 a million out
    base = ["--config", str(config), "--base-url", fake_server.base_url, "--model", "m1", "--db", str(tmp_path / "t.db")]
    fake_server.script(Reply.text("Capped.", usage=USAGE))
    result = tuichat("-p", "hi", "--max-cost", "0.001", *base)
    assert result.returncode == 0, result.stderr
    allowance = fake_server.chat_requests[-1].json["max_tokens"]
    # $0.001 at $10 a million is 100 tokens, less the prompt's share (the persona's
    # system prompt and the question, at $1 a million): a longer question leaves fewer.
    assert 50 <= allowance < 100
    fake_server.script(Reply.text("Capped."))
    assert tuichat("-p", "hi " * 100, "--max-cost", "0.001", *base).returncode == 0
    assert fake_server.chat_requests[-1].json["max_tokens"] < allowance
    fake_server.script(Reply.text("Capped."))
    assert tuichat("-p", "hi", "--max-cost", "0.001", "--max-tokens", "7", *base).returncode == 0
    assert fake_server.chat_requests[-1].json["max_tokens"] == 7  # the lower cap wins


def test_max_cost_that_cannot_be_kept_sends_nothing(fake_server, tmp_path):
    import sqlite3

    config = tmp_path / "config.toml"
    config.write_text('[prices."m1"]\ninput = 100\noutput = 100\n', encoding="utf-8")
    db = tmp_path / "t.db"
    base = ["--config", str(config), "--base-url", fake_server.base_url, "--db", str(db)]
    unknown = tuichat("-p", "hi", "--max-cost", "1", "--model", "local-llama", *base)
    assert unknown.returncode == 2 and "No price is known for 'local-llama'" in unknown.stderr
    too_low = tuichat("-p", "word " * 2000, "--max-cost", "0.0001", "--model", "m1", *base)
    assert too_low.returncode == 1 and "--max-cost is below what the prompt alone costs" in too_low.stderr
    assert fake_server.chat_requests == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("select count(*) from threads").fetchone() == (0,)
    bad = tuichat("-p", "hi", "--max-cost", "free", *base)
    assert bad.returncode == 2 and "expected an amount of US dollars" in bad.stderr
