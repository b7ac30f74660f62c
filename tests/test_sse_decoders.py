"""The provider's own SSE decoder (providers/sse.py) against the SDK's, over the same
recorded streams: every stream, cut into network reads in several ways, goes through
both the new provider and the old one (tests/sse_reference.py: the SDK's AsyncStream and
its pydantic chunks), and the app must get the same events and the same error."""

from __future__ import annotations

import json
import random

import httpx2
import pytest

from sse_reference import SDKStreamingProvider
from tuichat.core.errors import ProviderError
from tuichat.core.events import Finished, ReasoningDelta, TextDelta, UsageReport
from tuichat.providers.openai import OpenAIProvider
from tuichat.providers.sse import EventDecoder

USER = [{"role": "user", "content": "hi"}]
BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
DONE = b"data: [DONE]\n\n"


def data(obj: object, *, nl: bytes = b"\n") -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + nl + nl


def chunk(delta: object = None, finish: object = None, **extra: object) -> bytes:
    obj = dict(BASE, **extra)
    if delta is not None:
        obj["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return data(obj)


def text_stream(pieces: list[str], *, usage: bool = True) -> bytes:
    body = chunk({"role": "assistant", "content": ""})
    body += b"".join(chunk({"content": p}) for p in pieces)
    body += chunk({}, "stop")
    if usage:
        body += chunk(None, choices=[], usage={"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12})
    return body + DONE


PLAIN = text_stream(["Hello", ", 世界", " 😀", "!\n\n```py\nx = 1\n```"])

STREAMS: dict[str, bytes] = {
    "plain text, finish and usage": PLAIN,
    "CRLF line ends": PLAIN.replace(b"\n", b"\r\n"),
    "CR line ends": PLAIN.replace(b"\n", b"\r"),
    "comments and keep-alives": b": keep-alive\n\n" + PLAIN.replace(b"\n\ndata:", b"\n\n: ping\ndata:"),
    "Azure: empty choices with a prompt filter first": (
        chunk(None, choices=[], prompt_filter_results=[{"prompt_index": 0, "content_filter_results": {}}])
        + PLAIN),
    "usage null on every chunk, then usage only": text_stream(["a", "b"]).replace(b'"model": "m"', b'"model": "m", "usage": null'),
    "no usage": text_stream(["a", "b"], usage=False),
    "reasoning_content then content": (
        chunk({"role": "assistant", "content": None, "reasoning_content": "2+2"})
        + chunk({"content": None, "reasoning_content": "=4"}) + chunk({"content": "4"}) + chunk({}, "stop") + DONE),
    "reasoning (OpenRouter)": chunk({"reasoning": "hmm"}) + chunk({"content": "ok"}) + DONE,
    "both reasoning fields (vLLM)": chunk({"reasoning_content": "a", "reasoning": "a"}) + chunk({"content": "b"}) + DONE,
    "empty reasoning_content, then reasoning": chunk({"reasoning_content": "", "reasoning": "r"}) + DONE,
    "content parts and Mistral thinking": (
        chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Two plus "}]}]})
        + chunk({"content": [{"type": "thinking", "thinking": "two."}]})
        + chunk({"content": [{"type": "text", "text": "The answer "}, "is", {"type": "image_url"}]})
        + chunk({"content": {"type": "text", "text": " 4."}}) + DONE),
    "finish reasons of every type": (
        chunk({"content": "x"}, "length") + chunk({}, 7) + chunk({}, {"odd": True}) + chunk({}, "") + DONE),
    "one event over several data lines": (
        b'data: {"id": "c", "choices": [{"index": 0,\ndata: "delta": {"content": "joined"}}]}\n\n' + DONE),
    "event, id and retry fields": (
        b"event: message\nid: 7\nretry: 3000\n" + chunk({"content": "a"})
        + b"event: thread.run.created\n" + data({"id": "run"}) + b"retry: soon\n" + chunk({"content": "b"}) + DONE),
    "a thread.* event carrying a chat chunk": (
        b"event: thread.message.delta\n" + chunk({"content": "hidden"}) + chunk({"content": "shown"}) + DONE),
    "an id, then a blank line: an empty event": b"id: 1\n" + chunk({"content": "a"}) + b"\n" + DONE,
    "an error event after text": chunk({"content": "partial"}) + data({"error": {"message": "overloaded", "type": "server_error"}}),
    "an error event first": data({"error": {"message": "bad key sk-abcdefgh1234", "code": 401}}),
    "an error without a message": chunk({"content": "x"}) + data({"error": {"type": "server_error"}}),
    "an error whose message is not text": chunk({"content": "x"}) + data({"error": {"message": ["a", 1]}}),
    "an error that is a string": data({"error": "plain words"}),
    "an event named error without an error field": b"event: error\n" + chunk({"content": "fine"}) + DONE,
    "a falsy error field": data(dict(BASE, error=None, choices=[{"index": 0, "delta": {"content": "kept"}}])) + DONE,
    "malformed JSON after text": chunk({"content": "partial"}) + b'data: {"choices": [\n\n' + DONE,
    "invalid UTF-8 after text": chunk({"content": "partial"}) + b'data: {"x": "\xff\xfe"}\n\n' + DONE,
    "no [DONE]: the body just ends": chunk({"content": "a"}) + chunk({}, "stop"),
    "an unfinished last line": chunk({"content": "a"}) + b'data: {"choices": ',
    "bytes after [DONE]": text_stream(["a"]) + chunk({"content": "never"}) + b"garbage\xff\n\n",
    "wrong types everywhere": (
        data(dict(BASE, choices={"0": {"delta": {"content": "no"}}}))
        + data(dict(BASE, choices=["just a string"]))
        + data(dict(BASE, choices=[{"delta": "a string delta", "finish_reason": None}]))
        + data(dict(BASE, choices=[{"delta": {"content": 42}}]))
        + data(dict(BASE, choices=[{"delta": {"content": True, "reasoning_content": 5}}]))
        + data(dict(BASE, choices=[{"delta": None, "finish_reason": "stop"}]))
        + data(dict(BASE, choices=[{}]))
        + data(dict(BASE, choices=[], usage=[1, 2]))
        + data(dict(BASE, choices=[], usage={"prompt_tokens": "12", "completion_tokens": 1.5, "total_tokens": None}))
        + data(dict(BASE, choices=[], usage={"prompt_tokens": True}))
        + data(dict(BASE, choices=[], usage="lots"))
        + chunk({"content": "still here"}) + DONE),
    "Japanese and emoji": text_stream(["日本語の", "テキスト", "👨‍👩‍👧", "と絵文字"]),
    "chunks that are not objects": data([1, 2]) + data(5) + data("text") + data(None) + chunk({"content": "after"}) + DONE,
}

def cuts(body: bytes, how: str) -> list[bytes]:
    """The body as the network might deliver it."""
    if how == "whole":
        return [body]
    if how == "bytes":
        return [body[i:i + 1] for i in range(len(body))]
    if how == "lines":  # at every line end, so a CRLF's CR and LF land in different reads
        pieces, start = [], 0
        for i, b in enumerate(body):
            if b in (10, 13):
                pieces.append(body[start:i + 1])
                start = i + 1
        return [*pieces, body[start:]]
    rng = random.Random(how)
    pieces, i = [], 0
    while i < len(body):
        n = rng.randint(1, 40)
        pieces.append(body[i:i + n])
        i += n
    return pieces


class Pieces(httpx2.AsyncByteStream):
    def __init__(self, pieces: list[bytes], error: Exception | None = None) -> None:
        self.pieces, self.error = pieces, error

    async def __aiter__(self):  # noqa: ANN204
        for piece in self.pieces:
            yield piece
        if self.error is not None:
            raise self.error


def transport(pieces: list[bytes], error: Exception | None = None) -> httpx2.AsyncClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=Pieces(pieces, error))

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


async def outcome(cls: type[OpenAIProvider], pieces: list[bytes], error: Exception | None = None):  # noqa: ANN201
    provider = cls(api_key="sk-test-1234567890", base_url="http://test/v1", timeout=5, max_retries=0,
                   http_client=transport(pieces, error))
    events: list = []
    try:
        async for event in provider.stream(USER, "m", {}):
            events.append(event)
    except ProviderError as exc:
        return events, (exc.kind, exc.title, exc.detail)
    except Exception as exc:  # noqa: BLE001 - an unmapped error is part of the outcome
        return events, ("unmapped", type(exc).__name__)
    finally:
        await provider.aclose()
    return events, None


@pytest.mark.parametrize("how", ["whole", "lines", "bytes", "seed-1", "seed-2"])
@pytest.mark.parametrize("name", list(STREAMS))
async def test_both_decoders_give_the_app_the_same(name, how):
    pieces = cuts(STREAMS[name], how)
    ours = await outcome(OpenAIProvider, pieces)
    sdk = await outcome(SDKStreamingProvider, pieces)
    assert ours == sdk


@pytest.mark.parametrize("error", [httpx2.ReadTimeout("slow"), httpx2.RemoteProtocolError("peer closed"),
                                   httpx2.ReadError("reset")], ids=type)
@pytest.mark.parametrize("name", ["plain text, finish and usage", "reasoning_content then content"])
async def test_a_transport_failure_mid_stream_is_mapped_alike(name, error):
    body = STREAMS[name].replace(DONE, b"")
    pieces = cuts(body, "lines")[:-3]  # cut off inside the reply
    ours = await outcome(OpenAIProvider, pieces, error)
    sdk = await outcome(SDKStreamingProvider, pieces, error)
    assert ours == sdk
    assert ours[1] is not None and ours[1][0] == "disconnected"


@pytest.mark.parametrize("name", [name for name in STREAMS if "error" in name])
async def test_an_error_event_raises_what_the_sdk_raises(name):
    """The error itself (type, message, body), not only what the provider makes of it."""
    import openai

    from tuichat.providers.sse import chunks

    async def sdk() -> tuple | None:
        client = openai.AsyncOpenAI(base_url="http://test/v1", api_key="x", max_retries=0,
                                    http_client=transport([STREAMS[name]]))
        try:
            async for _ in await client.chat.completions.create(model="m", messages=USER, stream=True):
                pass
        except openai.APIError as exc:
            return type(exc), exc.message, exc.body
        finally:
            await client.close()
        return None

    async def ours() -> tuple | None:
        async with transport([STREAMS[name]]) as http:
            response = await http.send(http.build_request("POST", "http://test/v1/chat/completions"), stream=True)
            try:
                async for _ in chunks(response):
                    pass
            except openai.APIError as exc:
                return type(exc), exc.message, exc.body
            finally:
                await response.aclose()
        return None

    expected = await sdk()
    assert await ours() == expected
    assert (expected is None) == (name in ("an event named error without an error field", "a falsy error field"))


async def test_the_comparison_sees_a_difference():
    """The equality above is not vacuous: the streams produce every kind of event and
    error, and a stream that differs by one token gives a different outcome."""
    seen: set[type] = set()
    kinds: set[str] = set()
    for body in STREAMS.values():
        events, error = await outcome(OpenAIProvider, [body])
        seen.update(type(e) for e in events)
        if error:
            kinds.add(error[0])
    assert seen == {TextDelta, ReasoningDelta, Finished, UsageReport}
    assert {"disconnected", "server"} <= kinds
    one = await outcome(OpenAIProvider, [text_stream(["a", "b"])])
    other = await outcome(SDKStreamingProvider, [text_stream(["a", "c"])])
    assert one != other


def test_the_event_decoder_splits_lines_like_the_sdk():
    """The line splitter alone, against the SDK's SSEDecoder, at every cut of a body mixing
    CR, LF and CRLF (the CRLF cut between its two bytes included)."""
    from openai._streaming import SSEDecoder

    body = b"data: a\r\n\r\ndata: b\rdata: c\r\rid: 9\n\n\ndata: d\n: note\n\nevent: x\ndata: e\r\n\r\n"

    def sdk(pieces: list[bytes]) -> list[tuple[str | None, str]]:
        return [(e.event, e.data) for e in SSEDecoder().iter_bytes(iter(pieces))]

    def ours(pieces: list[bytes]) -> list[tuple[str | None, str]]:
        decoder = EventDecoder()
        out = [event for piece in pieces for event in decoder.feed(piece)]
        decoder.finish()
        return out

    expected = sdk([body])
    # After "id: 9", every blank line ends an event, an empty one (the id is never reset).
    assert expected == [(None, "a"), (None, "b\nc"), (None, ""), (None, ""), (None, "d"), ("x", "e")]
    for cut in range(len(body) + 1):
        assert ours([body[:cut], body[cut:]]) == expected, cut
    assert ours(cuts(body, "bytes")) == expected
