"""The fake server, checked with the real openai client so the wire format stays honest."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai
import pytest

from fake_openai import DEFAULT_TEXT, FakeServer, Reply

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def client(fake_server: FakeServer):
    c = openai.AsyncOpenAI(base_url=fake_server.base_url, api_key="test", max_retries=0, timeout=5)
    yield c
    await c.close()


async def collect(client: openai.AsyncOpenAI, **kw):
    kw.setdefault("model", "fake-model")
    kw.setdefault("messages", USER)
    stream = await client.chat.completions.create(stream=True, **kw)
    return [chunk async for chunk in stream]


def texts(chunks) -> list[str]:
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


def test_reply_text_splits_by_character():
    assert Reply.text("こんにちは世界", chunk_size=3).chunks == ["こんに", "ちは世", "界"]
    assert Reply.text("a😀b", chunk_size=1).chunks == ["a", "😀", "b"]
    assert Reply.text("", chunk_size=2).chunks == []


async def test_content_arrives_in_pieces_in_order(fake_server, client):
    fake_server.script(Reply.text("日本語と emoji 😀 ok", chunk_size=3))
    chunks = await collect(client)
    assert texts(chunks) == Reply.text("日本語と emoji 😀 ok", chunk_size=3).chunks
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.object == "chat.completion.chunk" and c.model == "fake-model" for c in chunks)


async def test_default_reply_when_queue_empty(fake_server, client):
    assert "".join(texts(await collect(client))) == DEFAULT_TEXT


async def test_usage_chunk_only_when_asked(fake_server, client):
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    fake_server.script(Reply.text("ab", usage=usage), Reply.text("ab", usage=usage))
    asked = await collect(client, stream_options={"include_usage": True})
    assert asked[-1].choices == [] and asked[-1].usage.total_tokens == 7
    assert all(c.usage is None for c in asked[:-1])
    not_asked = await collect(client)
    assert all(c.usage is None for c in not_asked)


async def test_usage_always(fake_server, client):
    fake_server.script(Reply.text("ab", usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}, usage_always=True))
    chunks = await collect(client)
    assert chunks[-1].usage.prompt_tokens == 1


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_before_content(fake_server, client, field):
    fake_server.script(Reply(chunks=["Answer"], reasoning=["Let me ", "think"], reasoning_field=field))
    chunks = await collect(client)
    reasoning = [c.choices[0].delta.model_extra.get(field) for c in chunks if c.choices]
    assert [r for r in reasoning if r] == ["Let me ", "think"]
    assert texts(chunks) == ["Answer"]


async def test_empty_choices_and_comments_are_valid_sse(fake_server, client):
    fake_server.script(Reply.text("abcd", chunk_size=2, empty_choices_first=True, sse_comments=True))
    chunks = await collect(client)
    assert chunks[0].choices == [] and chunks[0].model_extra["prompt_filter_results"]
    assert texts(chunks) == ["ab", "cd"]


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
async def test_error_statuses_raise_sdk_exceptions(fake_server, client, status, exc):
    fake_server.script(Reply.error(status, f"boom {status}"))
    with pytest.raises(exc) as info:
        await collect(client)
    assert info.value.status_code == status
    assert info.value.body["message"] == f"boom {status}"


async def test_disconnect_mid_stream_raises_after_text(fake_server, client):
    fake_server.script(Reply.text("abcdef", chunk_size=2, disconnect_after=2))
    got: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                got.append(chunk.choices[0].delta.content)
    assert got == ["ab", "cd"]


async def test_in_stream_error_event(fake_server, client):
    fake_server.script(Reply.text("abcd", chunk_size=2, error_after=1))
    with pytest.raises(openai.APIError, match="server had an error"):
        await collect(client)


async def test_stall_hangs_until_client_leaves(fake_server, client):
    fake_server.script(Reply.text("abcd", chunk_size=2, stall_after=1))
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    got = []
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    got.append(chunk.choices[0].delta.content)
    assert got == ["ab"]
    await stream.close()
    for _ in range(100):  # the server notices the closed socket
        if fake_server.disconnects:
            break
        await asyncio.sleep(0.01)
    assert fake_server.disconnects == 1


async def test_delays_pace_the_chunks(fake_server, client):
    fake_server.script(Reply.text("abcd", chunk_size=1, first_delay=0.2, delay=0.05))
    start = time.monotonic()
    stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
    arrivals = [time.monotonic() - start async for c in stream if c.choices and c.choices[0].delta.content]
    assert arrivals[0] >= 0.18
    assert arrivals[-1] - arrivals[0] >= 0.13  # three gaps of 0.05 s


async def test_requests_are_recorded(fake_server, client):
    await collect(client, model="my-model", temperature=0.3, stream_options={"include_usage": True})
    (req,) = fake_server.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == "Bearer test"
    assert req.headers["content-type"] == "application/json"
    assert req.json["model"] == "my-model"
    assert req.json["messages"] == USER
    assert req.json["stream"] is True
    assert req.json["temperature"] == 0.3
    assert req.json["stream_options"] == {"include_usage": True}


async def test_keep_alive_reuses_one_connection(fake_server, client):
    for _ in range(3):
        await collect(client)
    await client.chat.completions.create(model="m", messages=USER)
    assert len(fake_server.requests) == 4
    assert fake_server.connections == 1


async def test_non_streaming_completion(fake_server, client):
    fake_server.script(Reply.text("A short title", usage="auto"))
    result = await client.chat.completions.create(model="m", messages=USER)
    assert result.object == "chat.completion"
    assert result.choices[0].message.content == "A short title"
    assert result.usage.completion_tokens == 4


async def test_models_list_and_404(fake_server, client):
    fake_server.models = ["a", "b"]
    assert [m.id async for m in client.models.list()] == ["a", "b"]
    fake_server.models = None
    with pytest.raises(openai.NotFoundError):
        await client.models.list()


def test_usable_from_sync_code():
    with FakeServer() as server:
        server.script(Reply.text("sync ok", chunk_size=3))
        body = json.dumps({"model": "m", "messages": USER, "stream": True}).encode()
        req = urllib.request.Request(server.base_url + "/chat/completions", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read().decode()
    events = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    pieces = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[:-1]]
    assert "".join(p for p in pieces if p) == "sync ok"


def test_cli_serves_text_file(tmp_path: Path):
    text = tmp_path / "reply.txt"
    text.write_text("From the file ✓", encoding="utf-8")
    script = Path(__file__).with_name("fake_openai.py")
    warm = tmp_path / "warm.txt"
    warm.write_text("Warm ✓", encoding="utf-8")
    args = [sys.executable, str(script), "--port", "0", "--text-file", str(text),
            "--tokens-per-second", "1000", "--chunk-chars", "2", "--warmup-text-file", str(warm)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as proc:
        try:
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            with openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=5) as client:
                def ask(messages: list[dict[str, str]]) -> str:
                    stream = client.chat.completions.create(model="m", messages=messages, stream=True)
                    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

                for _ in range(2):  # --repeat is the default
                    assert ask(USER) == "From the file ✓"
                # The benchmarks' warm-up prompt gets its own reply; the others do not.
                assert ask([{"role": "user", "content": "WARM-UP please"}]) == "Warm ✓"
                assert ask([{"role": "user", "content": "WARM-UP"}, {"role": "assistant", "content": "x"},
                            {"role": "user", "content": "now"}]) == "From the file ✓"
        finally:
            proc.terminate()
    assert proc.returncode == 0  # SIGTERM stops it cleanly
