"""OpenAIProvider against the fake server, with the real SDK doing the HTTP and SSE."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest

from fake_openai import FakeServer, Reply
from tuichat.core.errors import ProviderError
from tuichat.core.events import Finished, ReasoningDelta, TextDelta, UsageReport
from tuichat.core.models import Usage
from tuichat.providers.openai import OpenAIProvider

KEY = "sk-test-SECRET123456"
USER = [{"role": "user", "content": "hi"}]
USAGE = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}


@pytest.fixture
async def provider(fake_server: FakeServer):
    p = OpenAIProvider(api_key=KEY, base_url=fake_server.base_url, timeout=5, max_retries=0)
    yield p
    await p.aclose()


async def run(provider: OpenAIProvider, params: dict | None = None, model: str = "fake-model") -> list:
    return [e async for e in provider.stream(USER, model, params or {})]


async def failure(provider: OpenAIProvider, model: str = "fake-model") -> tuple[ProviderError, list]:
    events: list = []
    with pytest.raises(ProviderError) as info:
        async for event in provider.stream(USER, model, {}):
            events.append(event)
    return info.value, events


def text_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_streams_text_finish_and_usage(fake_server, provider):
    fake_server.script(Reply.text("Hello, 世界 😀!", chunk_size=3, usage=USAGE))
    events = await run(provider)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert deltas == Reply.text("Hello, 世界 😀!", chunk_size=3).chunks
    assert events[-2:] == [Finished("stop"), UsageReport(Usage(9, 3, 12))]
    assert all(e.text for e in events if isinstance(e, TextDelta))  # the empty role chunk is dropped


async def test_reasoning_is_kept_apart(fake_server, provider):
    fake_server.script(Reply(chunks=["The answer", " is 4."], reasoning=["2+2", "=4"]))
    events = await run(provider)
    assert [e for e in events if isinstance(e, ReasoningDelta)] == [ReasoningDelta("2+2"), ReasoningDelta("=4")]
    assert text_of(events) == "The answer is 4."
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert all(isinstance(e, ReasoningDelta) for e in events[:first_text])


async def test_reasoning_field_variant(fake_server, provider):
    fake_server.script(Reply(chunks=["ok"], reasoning=["hmm"], reasoning_field="reasoning"))
    events = await run(provider)
    assert ReasoningDelta("hmm") in events and text_of(events) == "ok"


async def test_empty_choices_and_comments_are_ignored(fake_server, provider):
    fake_server.script(Reply.text("abcdef", chunk_size=2, empty_choices_first=True, sse_comments=True))
    events = await run(provider)
    assert events == [TextDelta("ab"), TextDelta("cd"), TextDelta("ef"), Finished("stop")]


async def test_finish_reason_length(fake_server, provider):
    fake_server.script(Reply.text("cut", finish_reason="length"))
    assert (await run(provider))[-1] == Finished("length")


async def test_request_body(fake_server, provider):
    await run(provider, {"temperature": 0.2, "max_tokens": None}, model="my-model")
    body = fake_server.chat_requests[0].json
    assert body["model"] == "my-model"
    assert body["messages"] == USER
    assert body["stream"] is True
    assert body["temperature"] == 0.2
    assert "max_tokens" not in body  # None values are left out
    assert body["stream_options"] == {"include_usage": True}
    assert fake_server.chat_requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_client_is_reused(fake_server, provider):
    await run(provider)
    client = provider._client
    await run(provider)
    assert provider._client is client
    assert fake_server.connections == 1


@pytest.mark.parametrize("status", [400, 422])
async def test_stream_options_rejected_then_dropped(fake_server, provider, status):
    fake_server.script(
        Reply.error(status, "Unrecognized request argument supplied: stream_options"),
        Reply.text("fine"),
        Reply.text("again"),
    )
    assert text_of(await run(provider)) == "fine"
    assert text_of(await run(provider)) == "again"
    sent = [r.json for r in fake_server.chat_requests]
    assert len(sent) == 3
    assert "stream_options" in sent[0]
    assert "stream_options" not in sent[1] and "stream_options" not in sent[2]


@pytest.mark.parametrize(
    ("status", "kind", "hint"),
    [
        (400, "bad_request", "temperature must be"),
        (401, "auth", "OPENAI_API_KEY"),
        (403, "permission", "permission"),
        (404, "not_found", "--model"),
        (500, "server", "Try again"),
        (503, "server", "Try again"),
    ],
)
async def test_http_errors_map_to_kinds(fake_server, provider, status, kind, hint):
    fake_server.script(Reply.error(status, "temperature must be at most 2"))
    err, events = await failure(provider)
    assert (err.kind, err.status) == (kind, status)
    assert hint in err.detail
    assert err.title and events == []


async def test_404_names_the_model(fake_server, provider):
    fake_server.script(Reply.error(404, "The model `nope` does not exist"))
    err, _ = await failure(provider, model="nope")
    assert '"nope"' in err.detail


async def test_rate_limit_after_retries(fake_server):
    provider = OpenAIProvider(api_key=KEY, base_url=fake_server.base_url, timeout=5, max_retries=1)
    fast = {"retry-after-ms": "10"}  # keep the SDK's backoff short
    fake_server.script(Reply.error(429, "slow down", headers=fast), Reply.error(429, "slow down", headers=fast))
    try:
        err, _ = await failure(provider)
    finally:
        await provider.aclose()
    assert err.kind == "rate_limit" and err.status == 429
    assert len(fake_server.chat_requests) == 2  # the SDK retried once


async def test_retry_then_success(fake_server):
    provider = OpenAIProvider(api_key=KEY, base_url=fake_server.base_url, timeout=5, max_retries=1)
    fake_server.script(Reply.error(503, "busy", headers={"retry-after-ms": "10"}), Reply.text("ok"))
    try:
        assert text_of(await run(provider)) == "ok"
    finally:
        await provider.aclose()


async def test_unreachable_server():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = OpenAIProvider(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    try:
        err, _ = await failure(provider)
    finally:
        await provider.aclose()
    assert err.kind == "connection"
    assert f"127.0.0.1:{port}" in err.detail and "running" in err.detail


async def test_timeout_before_first_chunk(fake_server):
    provider = OpenAIProvider(api_key=KEY, base_url=fake_server.base_url, timeout=0.2, max_retries=0)
    fake_server.script(Reply.text("late", first_delay=2))
    try:
        err, events = await failure(provider)
    finally:
        await provider.aclose()
    assert err.kind == "timeout" and events == []


async def test_timeout_before_headers(fake_server):
    provider = OpenAIProvider(api_key=KEY, base_url=fake_server.base_url, timeout=0.2, max_retries=0)
    fake_server.script(Reply.text("late", headers_delay=2))
    try:
        err, _ = await failure(provider)
    finally:
        await provider.aclose()
    assert err.kind == "timeout"


async def test_disconnect_mid_stream_keeps_earlier_text(fake_server, provider):
    fake_server.script(Reply.text("abcdefgh", chunk_size=2, disconnect_after=2))
    err, events = await failure(provider)
    assert err.kind == "disconnected"
    assert text_of(events) == "abcd"


async def test_in_stream_error_event_after_text(fake_server, provider):
    fake_server.script(Reply.text("abcd", chunk_size=2, error_after=1))
    err, events = await failure(provider)
    assert err.kind == "disconnected" and text_of(events) == "ab"
    assert "server had an error" in err.detail


async def test_cancel_during_stall_is_prompt(fake_server, provider):
    fake_server.script(Reply.text("abcdefgh", chunk_size=2, stall_after=2))
    got: list = []
    two = asyncio.Event()

    async def consume() -> None:
        async for event in provider.stream(USER, "m", {}):
            got.append(event)
            if len(got) == 2:
                two.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two.wait(), 2)
    # The server now sends nothing more and keeps the socket open: cancelling must end
    # the stream anyway (a generous bound, not a timing claim: without it, it hangs).
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)
    assert text_of(got) == "abcd"
    for _ in range(100):  # the connection was closed, so the server saw the client leave
        if fake_server.disconnects:
            break
        await asyncio.sleep(0.01)
    assert fake_server.disconnects == 1
    fake_server.script(Reply.text("next"))  # and the provider still works
    assert text_of(await run(provider)) == "next"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
async def test_key_never_in_error_text(fake_server, provider, status):
    fake_server.script(Reply.error(status, f"Incorrect API key provided: {KEY}. Also sk-proj-****abcd1234."))
    err, _ = await failure(provider)
    text = f"{err.title} {err.detail} {err}"
    assert KEY not in text and "SECRET" not in text and "sk-proj-****abcd1234" not in text
    assert "Incorrect API key provided" in text  # the server's message itself is still shown


async def test_auth_without_key_says_so(fake_server):
    provider = OpenAIProvider(api_key="", base_url=fake_server.base_url, max_retries=0, api_key_env="MY_KEY")
    fake_server.script(Reply.error(401, "missing key"))
    try:
        err, _ = await failure(provider)
    finally:
        await provider.aclose()
    assert err.kind == "auth" and "No API key is set" in err.detail and "MY_KEY" in err.detail


async def test_list_models(fake_server, provider):
    fake_server.models = ["zeta", "alpha"]
    assert await provider.list_models() == ["alpha", "zeta"]
    fake_server.models = None
    assert await provider.list_models() == []


async def test_list_models_unreachable():
    provider = OpenAIProvider(api_key=KEY, base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=2)
    assert await provider.list_models() == []
    await provider.aclose()


async def test_azure_client(fake_server):
    provider = OpenAIProvider(api_key=KEY, base_url=f"http://127.0.0.1:{fake_server.port}", azure_api_version="2024-10-21", max_retries=0)
    fake_server.script(Reply.text("azure ok"))
    try:
        assert text_of(await run(provider, model="my-deployment")) == "azure ok"
    finally:
        await provider.aclose()
    req = fake_server.chat_requests[0]
    assert req.path == "/openai/deployments/my-deployment/chat/completions"
    assert req.headers["api-key"] == KEY


def test_import_does_not_load_the_sdk():
    code = "import sys, tuichat.providers.openai; print('openai' in sys.modules, 'httpx2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env())
    assert out.stdout.split() == ["False", "False"]


def _env() -> dict[str, str]:
    import os
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}


# --- content parts, reasoning fields and usage of any shape ---------------------------------


def reasoning_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


MISTRAL_THINKING = [
    {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Two plus "},
                                                   {"type": "text", "text": "two…"}]}]},
    {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": " is four."}]}]},
    {"content": [{"type": "text", "text": "The answer "}]},
    {"content": [{"type": "text", "text": "is 4."}]},
]


async def test_content_parts_split_into_reasoning_and_answer(fake_server, provider):
    fake_server.script(Reply(deltas=MISTRAL_THINKING, usage=USAGE))
    events = await run(provider)
    assert reasoning_of(events) == "Two plus two… is four."
    assert text_of(events) == "The answer is 4."
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert all(not isinstance(e, TextDelta) for e in events[:first_text])
    assert events[-2:] == [Finished("stop"), UsageReport(Usage(9, 3, 12))]


async def test_strings_and_parts_mix_in_one_stream(fake_server, provider):
    fake_server.script(Reply(deltas=[{"content": "plain, "}, {"content": [{"type": "text", "text": "parts, "}]}],
                             chunks=["plain again"]))
    assert text_of(await run(provider)) == "plain, parts, plain again"


@pytest.mark.parametrize(
    "delta",
    [
        {"content": [{"type": "image_url", "image_url": {"url": "data:x"}}]},
        {"content": [{"type": "reference", "reference_ids": [1]}]},
        {"content": [{"no_type": True}]},
        {"content": [5, None, ["x"], True]},
        {"content": [{"type": "text", "text": 7}, {"type": "text"}]},
        {"content": [{"type": "thinking", "thinking": 7}]},
        {"content": [{"type": "thinking", "thinking": [{"type": "image"}, 3]}]},
        {"content": 5},
        {"content": True},
        {"content": {"type": "future_part", "data": "?"}},
        {"content": None, "reasoning_content": {"text": "not a string"}},
        {"content": None, "reasoning": ["x"]},
    ],
)
async def test_unknown_or_malformed_parts_are_skipped_never_fatal(fake_server, provider, delta):
    fake_server.script(Reply(deltas=[delta], chunks=["still ", "here"]))
    events = await run(provider)
    assert text_of(events) == "still here" and reasoning_of(events) == ""
    assert events[-1] == Finished("stop")


async def test_thinking_as_plain_string_and_single_part_object(fake_server, provider):
    fake_server.script(Reply(deltas=[{"content": [{"type": "thinking", "thinking": "hmm"}]},
                                     {"content": {"type": "text", "text": "one part"}}]))
    events = await run(provider)
    assert (reasoning_of(events), text_of(events)) == ("hmm", "one part")


async def test_reasoning_field_alone_and_reasoning_content_first(fake_server, provider):
    fake_server.script(Reply(deltas=[{"content": None, "reasoning": "via reasoning"},
                                     {"content": None, "reasoning_content": "rc", "reasoning": "dup"}],
                             chunks=["ok"]))
    events = await run(provider)
    # vLLM may send both fields with the same text: only the first counts.
    assert reasoning_of(events) == "via reasoningrc" and text_of(events) == "ok"


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        ({"prompt_tokens": "12", "completion_tokens": 3, "total_tokens": None}, Usage(12, 3, 15)),
        ({"prompt_tokens": None, "completion_tokens": None, "total_tokens": 7}, Usage(0, 0, 7)),
        ({"prompt_tokens": 1.0, "completion_tokens": 2.9, "total_tokens": "x"}, Usage(1, 2, 3)),
        ({"prompt_tokens": [1], "completion_tokens": {"n": 2}, "total_tokens": True}, None),
        ({"prompt_tokens": -5, "completion_tokens": 10**30, "total_tokens": "1e9"}, None),
        ({"prompt_tokens": "many", "completion_tokens": 4, "total_tokens": -1}, Usage(0, 4, 4)),
    ],
)
async def test_usage_fields_of_the_wrong_type_are_coerced_or_ignored(fake_server, provider, usage, expected):
    fake_server.script(Reply.text("answer", usage=usage))
    events = await run(provider)
    assert text_of(events) == "answer"
    reports = [e.usage for e in events if isinstance(e, UsageReport)]
    assert reports == ([expected] if expected else [])


def test_no_pydantic_object_is_built_per_chunk(fake_server):
    """A pydantic chunk object per token was two thirds of a long reply's CPU: the body
    is decoded to plain JSON instead (sse.py), so streaming builds none."""
    from openai.types.chat import ChatCompletionChunk

    built: list[object] = []
    original = ChatCompletionChunk.construct

    def spy(*args, **kwargs):
        built.append(args)
        return original(*args, **kwargs)

    fake_server.script(Reply.text("one two three", chunk_size=2, usage=USAGE))

    async def main() -> list:
        provider = OpenAIProvider(api_key=KEY, base_url=fake_server.base_url, timeout=5, max_retries=0)
        try:
            return await run(provider)
        finally:
            await provider.aclose()

    ChatCompletionChunk.construct = classmethod(lambda cls, *a, **k: spy(*a, **k))  # type: ignore[method-assign]
    try:
        events = asyncio.run(main())
    finally:
        ChatCompletionChunk.construct = original  # type: ignore[method-assign]
    assert text_of(events) == "one two three"
    assert built == []


def test_pipe_mode_prints_the_whole_answer_and_no_reasoning(fake_server, tmp_path):
    fake_server.script(Reply(deltas=MISTRAL_THINKING, chunks=[" Done."], usage="auto"))
    result = subprocess.run(
        [sys.executable, "-m", "tuichat", "-p", "what is 2+2?", "--base-url", fake_server.base_url,
         "--db", str(tmp_path / "h.db")],
        capture_output=True, text=True, timeout=60, env={**_env(), "PYTHONIOENCODING": "utf-8"},
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "The answer is 4. Done.\n"
    from tuichat.store import Store

    with Store(tmp_path / "h.db") as store:
        reply = store.messages(store.latest_thread().id)[-1]
    assert (reply.content, reply.reasoning, reply.status) == ("The answer is 4. Done.", "Two plus two… is four.", "done")
