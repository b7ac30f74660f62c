"""A thread longer than the model's context: the oldest turns are left out (never the
system prompt, never the new message), and the user is told how many."""

from __future__ import annotations


import pytest

from apphelpers import wait_for
from fake_openai import Reply
from test_cli import tuichat
from tuichat.core.prompt import fit_context
from tuichat.core.tokens import estimate_tokens


def chat(role: str, words: int) -> dict[str, str]:
    return {"role": role, "content": "word " * words}


def test_the_oldest_turns_go_first_and_the_system_prompt_stays():
    messages = [{"role": "system", "content": "Be kind."}]
    for _ in range(5):
        messages += [chat("user", 400), chat("assistant", 400)]
    messages.append({"role": "user", "content": "And now?"})
    kept, left_out = fit_context(messages, 2000, 500)
    assert kept[0] == messages[0] and kept[-1] == messages[-1]
    assert kept[1]["role"] == "user"  # never a reply without its question
    assert left_out == len(messages) - len(kept) and left_out > 0
    assert sum(estimate_tokens(m["content"]) + 4 for m in kept) <= 1500
    assert kept[1:] == messages[1 + left_out:]  # the newest, in order
    assert fit_context(messages, 100_000, 500) == (messages, 0)


def long_thread(tmp_path, turns: int = 6):
    from tuichat.store import Store

    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    for i in range(turns):
        store.add_message(thread.id, "user", f"question {i} " + "lorem " * 300)
        store.add_message(thread.id, "assistant", f"answer {i} " + "ipsum " * 300)
    return store, thread


async def test_the_app_sends_what_fits_and_marks_the_cut(tmp_path, fake_server):
    from apphelpers import make_app

    store, thread = long_thread(tmp_path)
    fake_server.script(Reply.text("Fine."))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    app.ws.context_window = 2500  # as config.toml's context_window would set it
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "the newest question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.transcript.cut_marker is not None and not screen.generating)
        sent = fake_server.chat_requests[-1].json["messages"]
        assert sent[0]["role"] == "system" and sent[-1]["content"] == "the newest question"
        assert "question 0" not in str(sent) and len(sent) < 14
        left_out = 12 - (len(sent) - 2)  # the stored history less what was sent (system, newest aside)
        first_sent = sent[1]["content"].split()[:2]  # e.g. "question 4"
        text = screen.transcript.all_text()
        marker = f"{left_out} earlier messages not sent (they do not fit the model's context)"
        assert text.count(marker) == 1
        # Right above the first message sent, right below the last one left out.
        after = text[text.index(marker):]
        assert after.index(" ".join(first_sent)) < after.index("the newest question")
        last_left_out = "answer" if first_sent[0] == "question" else "question"
        number = int(first_sent[1]) - (1 if last_left_out == "answer" else 0)
        assert text.index(f"{last_left_out} {number} ") < text.index(marker)
        assert " ".join(first_sent) not in text[: text.index(marker)]
        # The status line shows the context's use against the window it was fitted to.
        assert "context" in screen.status_text()


async def test_the_servers_context_window_is_used_without_config(tmp_path, fake_server):
    from apphelpers import make_app

    store, thread = long_thread(tmp_path)
    fake_server.models = ["test-model"]
    fake_server.max_model_len = 2000  # vLLM tells it on /v1/models
    fake_server.script(Reply.text("Fine."))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    assert app.ws.context_window is None
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "the newest question"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.transcript.cut_marker is not None and not screen.generating)
        assert screen.conv.window == 2000
    sent = fake_server.chat_requests[-1].json["messages"]
    assert "question 0" not in str(sent) and sent[-1]["content"] == "the newest question"
    assert sum(estimate_tokens(m["content"]) + 4 for m in sent) <= 2000


@pytest.mark.parametrize("endpoint", ["props", "ollama_show"])
async def test_llama_cpp_and_ollama_windows_are_read_too(tmp_path, fake_server, endpoint):
    from apphelpers import make_app

    store, thread = long_thread(tmp_path, turns=3)
    if endpoint == "props":
        fake_server.props = {"default_generation_settings": {"n_ctx": 1024}}
    else:
        fake_server.ollama_show = {"parameters": "num_ctx                        1024", "model_info": {}}
    fake_server.script(Reply.text("Fine."))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "now"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.thread is not None and not screen.generating
                       and screen.conv.window is not None)
        assert screen.conv.window == 1024 and screen.transcript.cut_marker is not None


async def test_a_configured_window_caps_the_servers(tmp_path, fake_server):
    from apphelpers import make_app

    store, thread = long_thread(tmp_path, turns=2)
    fake_server.models = ["test-model"]
    fake_server.max_model_len = 100_000
    fake_server.script(Reply.text("Fine."))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    app.ws.context_window = 900
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "now"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.conv.window is not None and not screen.generating)
        assert screen.conv.window == 900 and screen.transcript.cut_marker is not None


def test_pipe_mode_notes_what_it_left_out(fake_server, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("context_window = 300\n", encoding="utf-8")
    base = ["--config", str(config), "--base-url", fake_server.base_url, "--db", str(tmp_path / "t.db")]
    fake_server.script(Reply.text("one"), Reply.text("two"))
    assert tuichat("-p", "first " + "long " * 200, *base).returncode == 0
    result = tuichat("-p", "second", "--continue", *base)
    assert result.returncode == 0, result.stderr
    assert "earlier message(s) of the thread were not sent" in result.stderr
    assert [m["content"] for m in fake_server.chat_requests[-1].json["messages"]][-1] == "second"


async def test_the_status_line_shows_how_full_the_context_is(tmp_path, fake_server):
    from apphelpers import make_app
    from tuichat.core.models import Usage
    from tuichat.store import Store

    store = Store(tmp_path / "tuichat.db")
    thread = store.create_thread("default", "test-model")
    store.add_message(thread.id, "user", "q")
    reply = store.add_message(thread.id, "assistant", "", status="streaming", lease="t")
    store.finish_message(reply.id, "t", content="a", reasoning="", status="done", usage=Usage(4000, 200, 4200))
    fake_server.script(Reply.text("b", usage={"prompt_tokens": 8300, "completion_tokens": 200, "total_tokens": 8500}))
    app = make_app(tmp_path, fake_server.base_url, store=store, thread=thread)
    app.ws.context_window = 10_000
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        status = screen.query_one("#status-left")
        await wait_for(pilot, lambda: "context 42%" in str(status.render()))
        screen.composer.text = "more"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "context 85%" in str(status.render()))
