"""A fake OpenAI-compatible server for tests and benchmarks. Standard library only.

It speaks real HTTP/1.1 and real SSE on 127.0.0.1, so the real `openai` client (and its
parsing, retries and connection pool) runs in every test. The asyncio server runs in a
background thread with its own loop: sync tests, async tests, Textual's `run_test` and
subprocess benchmarks can all talk to it.

    with FakeServer() as server:
        server.script(Reply.text("Hi there", chunk_size=2), Reply.error(429, "slow down"))
        ...  # point a client at server.base_url
        server.requests[0].json["model"]

Run as a script it serves one reply to every request and prints its base URL first:

    python tests/fake_openai.py --port 0 --text-file F --tokens-per-second 50 --chunk-chars 4

`--hostile` serves the hostile payloads (HOSTILE_PAYLOADS) instead, in every reply and in
the model list: point a real terminal at it to see that nothing but text gets through.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TEXT = "Hello from the fake server."
DEFAULT_MODELS = ["fake-model", "fake-model-mini"]

# Hostile mode: what a malicious or broken server could send. Each payload is something
# a terminal acts on or that hides text, if it is written raw. Used in content,
# reasoning, error bodies and model ids (see Reply.hostile, Reply.hostile_error,
# HOSTILE_MODELS and `--hostile`). The lone surrogate goes out as the JSON escape
# "\ud800", as a server would send it.
HOSTILE_PAYLOADS: dict[str, str] = {
    "csi_clear": "clear\x1b[2J\x1b[Hscreen",
    "osc52_clipboard": "clip\x1b]52;c;cm0gLXJmIH4=\x07board",
    "osc0_title": "win\x1b]0;pwned-title\x1b\\dow",
    "osc8_link": "\x1b]8;;https://evil.example/\x1b\\hyper\x1b]8;;\x1b\\link",
    "c1_csi": "c1\x9b2Jcsi",
    "c1_osc": "c1\x9d0;c1-title\x9cosc",
    "bell_del_nul": "bell\x07del\x7fnul\x00",
    "lone_cr": "real text\rfake text",
    "rich_markup": "[bold red]not markup[/] [link=https://evil.example/]nor a link[/link] [@click=app.quit]q[/]",
    "bidi_override": "invoice\u202efdp.exe \u2066isolate\u2069",
    "zero_width": "pay\u200bpal\u2060\ufeff",
    "lone_surrogate": "lone \ud800 surrogate",
}
# Every payload in one text, each on its own line.
HOSTILE_TEXT = "\n".join(f"{name}: {text}" for name, text in HOSTILE_PAYLOADS.items())
# Model ids for GET /models: one per payload kind that can live in an id.
HOSTILE_MODELS = [
    "evil\x1b]52;c;cm0gLXJmIH4=\x07model",
    "evil\x1b[2J\x9b2Jmodel",
    "evil\x1b]0;pwned-title\x07model",
    "[bold red]markup-model[/]",
    "gpt\u202e4o-mini\u200b",
    "lone\ud800model",
]

# Errors that mean "the client went away"; a fake server must shrug them off quietly.
_GONE = (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError)


@dataclass
class Reply:
    """One scripted answer to one POST /v1/chat/completions.

    Content chunks are sent after the reasoning chunks. `disconnect_after`, `stall_after`
    and `error_after` count content chunks only (0 = right after the reasoning, if any).
    `usage` may be a dict, any object with the three token attributes, "auto" (counted
    from the request and the chunks) or None (no usage chunk at all).
    """

    chunks: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    reasoning_field: str = "reasoning_content"  # some servers use "reasoning"
    # Raw `delta` objects sent as they are, after the reasoning and before `chunks`: content
    # as a list of parts (Mistral's {"type": "thinking", ...}), odd or mistyped fields.
    deltas: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0  # seconds between chunks (paced from the start, no drift)
    first_delay: float = 0.0  # after the headers, before the first chunk
    headers_delay: float = 0.0  # before the response headers (a slow server)
    usage: Any = None
    usage_always: bool = False  # send usage even if stream_options did not ask for it
    usage_in_every_chunk: bool = False  # a running count in each content chunk (some servers)
    finish_reason: str | None = "stop"
    status: int = 200
    error_body: dict[str, Any] | None = None
    disconnect_after: int | None = None  # abort the socket: no [DONE], no chunk terminator
    stall_after: int | None = None  # stop sending, keep the socket open until the client leaves
    error_after: int | None = None  # send an in-stream `data: {"error": ...}` event, then end
    empty_choices_first: bool = False  # Azure-style prompt-filter chunk with choices: []
    sse_comments: bool = False  # ": keep-alive" comment lines between events
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, s: str, chunk_size: int = 4, **kw: Any) -> Reply:
        """Split `s` into chunks of `chunk_size` characters (code points, so CJK and most
        emoji stay whole; a multi-code-point emoji may be split, as real servers do)."""
        size = max(1, chunk_size)
        return cls(chunks=[s[i : i + size] for i in range(0, len(s), size)], **kw)

    @classmethod
    def error(
        cls, status: int, message: str, *, type: str | None = None, code: str | None = None, **kw: Any
    ) -> Reply:
        body = {"error": {"message": message, "type": type or _error_type(status), "code": code}}
        return cls(status=status, error_body=body, **kw)

    @property
    def joined(self) -> str:
        return "".join(self.chunks)

    @classmethod
    def hostile(cls, text: str = HOSTILE_TEXT, *, reasoning: str | None = HOSTILE_TEXT,
                chunk_size: int = 3, **kw: Any) -> Reply:
        """A reply whose content (and reasoning, unless None) is hostile text, in small
        chunks so escape sequences arrive split across chunks, as they can in real life."""
        reply = cls.text(text, chunk_size=chunk_size, **kw)
        if reasoning is not None:
            reply.reasoning = cls.text(reasoning, chunk_size=chunk_size).chunks
        return reply

    @classmethod
    def hostile_error(cls, status: int = 500, text: str = HOSTILE_TEXT, **kw: Any) -> Reply:
        """An HTTP error whose body's message is hostile text."""
        return cls.error(status, text, **kw)


def _error_type(status: int) -> str:
    if status == 401:
        return "invalid_request_error"
    if status == 429:
        return "rate_limit_exceeded"
    return "server_error" if status >= 500 else "invalid_request_error"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # the decoded body, or None
    at: float = 0.0  # time.monotonic() when the request's head had arrived (benchmarks)
    query: str = ""  # what followed "?" in the target

    @property
    def params(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.query))


_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    408: "Request Timeout", 409: "Conflict", 422: "Unprocessable Entity", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}


class FakeServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: Any = None) -> None:
        self.host = host
        self.port = port
        self.tls = tls  # an ssl.SSLContext: serve HTTPS (tests of ca_bundle)
        self.models: list[str] | None = list(DEFAULT_MODELS)  # None: GET /models answers 404
        self.models_delay = 0.0  # seconds before answering GET /models (a slow server)
        # Context windows, as servers tell them (None: the endpoint answers 404):
        self.max_model_len: int | None = None  # vLLM: "max_model_len" on each /v1/models entry
        self.props: dict[str, Any] | None = None  # llama.cpp: GET /props
        self.ollama_show: dict[str, Any] | None = None  # Ollama: POST /api/show
        self.default_reply = Reply.text(DEFAULT_TEXT, usage="auto")
        # Picks a reply from the request's body before the queue is consulted (None: the
        # queue decides). Benchmarks use it to answer a warm-up prompt differently.
        self.reply_for: Callable[[dict[str, Any]], Reply | None] | None = None
        # Azure OpenAI's URL shapes: "v1" serves only /openai/v1/..., "dated" only
        # /openai/deployments/NAME/chat/completions?api-version=...; both want the key in
        # an `api-key` header. Dated versions before 2024-09-01 refuse stream_options, as
        # Azure did. None: a plain OpenAI-style server at /v1.
        self.azure: str | None = None
        # When set, a request without this key (Bearer, or api-key for Azure) gets a 401.
        self.require_key: str | None = None
        self._queue: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self.connections = 0  # accepted TCP connections (keep-alive reuses them)
        self.disconnects = 0  # clients that went away mid-response

    # --- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/v1"

    def start(self) -> FakeServer:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, self.host, self.port, ssl=self.tls)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # report bind errors to the caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        with contextlib.suppress(Exception):
            fut.result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._conns)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting and inspection ------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue replies, one per chat request. A plain string means `Reply.text(s)`."""
        with self._lock:
            self._queue.extend(Reply.text(r) if isinstance(r, str) else r for r in replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._queue.clear()

    def _next_reply(self) -> Reply:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default_reply

    # --- HTTP --------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self.connections += 1
        try:
            while True:  # keep-alive: one connection, many requests
                req = await self._read_request(reader)
                if req is None:
                    break
                with self._lock:
                    self._requests.append(req)
                keep = await self._respond(req, reader, writer)
                if not keep or req.headers.get("connection", "").lower() == "close":
                    break
        except asyncio.CancelledError:
            pass  # server shutting down
        except _GONE:
            pass  # the client went away; nothing to report
        except Exception as exc:  # a bug or a malformed request: one line, no traceback
            print(f"fake_openai: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            self._conns.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> RecordedRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None  # clean close between requests
        at = time.monotonic()
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        path, _, query = target.partition("?")
        return RecordedRequest(method, path, headers, body, parsed, at, query)

    async def _respond(self, req: RecordedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request. Returns False when the connection must not be reused."""
        if (refused := self._refuse(req)) is not None:
            return await _send_json(writer, *refused)
        if req.method == "GET" and req.path.endswith("/models"):
            if self.models_delay:
                await asyncio.sleep(self.models_delay)
            if self.models is None:
                return await _send_json(writer, 404, _not_found("models"))
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]
            if self.max_model_len is not None:
                for entry in data:
                    entry["max_model_len"] = self.max_model_len
            return await _send_json(writer, 200, {"object": "list", "data": data})
        if req.method == "GET" and req.path == "/props":
            if self.props is None:
                return await _send_json(writer, 404, _not_found("props"))
            return await _send_json(writer, 200, self.props)
        if req.method == "POST" and req.path == "/api/show":
            if self.ollama_show is None:
                return await _send_json(writer, 404, _not_found("api/show"))
            return await _send_json(writer, 200, self.ollama_show)
        if req.method == "POST" and req.path.endswith("/chat/completions"):
            chosen = self.reply_for(req.json) if self.reply_for and isinstance(req.json, dict) else None
            reply = chosen or self._next_reply()
            if reply.headers_delay:
                await asyncio.sleep(reply.headers_delay)
            if reply.status != 200:
                body = reply.error_body or {"error": {"message": "error", "type": _error_type(reply.status), "code": None}}
                return await _send_json(writer, reply.status, body, reply.headers)
            body = req.json if isinstance(req.json, dict) else {}
            if body.get("stream"):
                return await self._stream(reply, body, reader, writer)
            if reply.first_delay:
                await asyncio.sleep(reply.first_delay)
            return await _send_json(writer, 200, _completion(reply, body), reply.headers)
        return await _send_json(writer, 404, _not_found(req.path))

    def _refuse(self, req: RecordedRequest) -> tuple[int, dict[str, Any]] | None:
        """(status, body) for a request this server's shape or key check refuses."""
        if self.require_key is not None:
            given = req.headers.get("api-key") if self.azure else req.headers.get("authorization", "")
            expected = self.require_key if self.azure else f"Bearer {self.require_key}"
            if given != expected:
                return 401, {"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}}
        if self.azure == "v1" and not req.path.startswith("/openai/v1/"):
            return 404, _not_found(req.path)
        if self.azure == "dated":
            if not re.fullmatch(r"/openai/deployments/[^/]+/chat/completions|/openai/models", req.path):
                return 404, _not_found(req.path)
            version = req.params.get("api-version", "")
            if not version:
                return 404, {"error": {"code": "404", "message": "Resource not found"}}
            body = req.json if isinstance(req.json, dict) else {}
            if "stream_options" in body and version[:10] < "2024-09-01":
                return 400, {"error": {"code": None, "type": "invalid_request_error", "param": None,
                                       "message": "Unrecognized request argument supplied: stream_options"}}
        return None

    async def _stream(self, reply: Reply, body: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        model = str(body.get("model") or "fake-model")
        opts = body.get("stream_options")
        want_usage = reply.usage is not None and (
            reply.usage_always or (isinstance(opts, dict) and bool(opts.get("include_usage")))
        )
        # OpenAI adds "usage": null to every chunk once include_usage is asked for.
        base: dict[str, Any] = {
            "id": f"chatcmpl-fake{int(time.time() * 1000)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        if want_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> bytes:
            obj = dict(base, **extra)
            if delta is not None:
                obj["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
            return _event(obj, reply.sse_comments)

        head = ["HTTP/1.1 200 OK", "Content-Type: text/event-stream; charset=utf-8",
                "Cache-Control: no-cache", "Transfer-Encoding: chunked"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()

        if reply.first_delay:
            await asyncio.sleep(reply.first_delay)
        pace = _Pacer(reply.delay)
        if reply.empty_choices_first:
            pf = [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}}}]
            await _send_chunk(writer, chunk(None, choices=[], prompt_filter_results=pf))
        await _send_chunk(writer, chunk({"role": "assistant", "content": "", "refusal": None}))
        for piece in reply.reasoning:
            await pace.next()
            await _send_chunk(writer, chunk({"content": None, reply.reasoning_field: piece}))
        for raw in reply.deltas:
            await pace.next()
            await _send_chunk(writer, chunk(raw))
        for i, piece in enumerate(reply.chunks):
            if await self._interrupt(reply, i, reader, writer):
                return False
            await pace.next()
            if want_usage and reply.usage_in_every_chunk:
                final = _usage(reply, body)
                running = {"prompt_tokens": final["prompt_tokens"], "completion_tokens": i + 1,
                           "total_tokens": final["prompt_tokens"] + i + 1}
                await _send_chunk(writer, chunk({"content": piece}, usage=running))
            else:
                await _send_chunk(writer, chunk({"content": piece}))
        if await self._interrupt(reply, len(reply.chunks), reader, writer):
            return False
        await _send_chunk(writer, chunk({}, reply.finish_reason))
        if want_usage:
            await _send_chunk(writer, chunk(None, choices=[], usage=_usage(reply, body)))
        await _send_chunk(writer, b"data: [DONE]\n\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _interrupt(self, reply: Reply, sent: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Carry out disconnect/stall/error once `sent` content chunks are out."""
        if reply.disconnect_after == sent:
            self.disconnects += 1
            writer.transport.abort()  # RST, no terminating chunk: a truncated body
            return True
        if reply.error_after == sent:
            err = reply.error_body or {"error": {"message": "The server had an error while processing your request.", "type": "server_error", "code": None}}
            await _send_chunk(writer, _event(err, False))
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        if reply.stall_after == sent:
            # Hang until the client closes its side (or the server stops).
            with contextlib.suppress(*_GONE):
                while await reader.read(65536):
                    pass
            self.disconnects += 1
            return True
        return False


class _Pacer:
    """Data chunk k goes out at start + k * delay: no drift, and at high rates several
    chunks go out back to back instead of each paying asyncio.sleep's overhead."""

    def __init__(self, delay: float) -> None:
        self.start, self.delay, self.k = time.monotonic(), delay, 0

    async def next(self) -> None:
        due = self.start + self.k * self.delay
        self.k += 1
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)


def _json(obj: Any, **kw: Any) -> str:
    # ensure_ascii=False keeps CJK readable on the wire but leaves a lone surrogate raw,
    # which UTF-8 cannot encode: send it as the JSON escape a real server would.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(obj, ensure_ascii=False, **kw))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _event(obj: Any, comments: bool) -> bytes:
    data = f"data: {_json(obj, separators=(',', ':'))}\n\n".encode()
    return (b": keep-alive\n\n" + data) if comments else data


async def _send_chunk(writer: asyncio.StreamWriter, payload: bytes) -> None:
    if writer.is_closing():
        raise ConnectionResetError("client went away")
    writer.write(b"%x\r\n%s\r\n" % (len(payload), payload))
    await writer.drain()


async def _send_json(writer: asyncio.StreamWriter, status: int, obj: Any, extra: dict[str, str] | None = None) -> bool:
    payload = _json(obj).encode()
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", "Content-Type: application/json",
            f"Content-Length: {len(payload)}"]
    head += [f"{k}: {v}" for k, v in (extra or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
    await writer.drain()
    return True


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers expected
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)


def _not_found(what: str) -> dict[str, Any]:
    return {"error": {"message": f"Not found: {what}", "type": "invalid_request_error", "code": "not_found"}}


def _usage(reply: Reply, body: dict[str, Any]) -> dict[str, int]:
    u = reply.usage
    if u == "auto":
        chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []) if isinstance(m, dict))
        prompt, completion = max(1, chars // 4), len(reply.chunks) + len(reply.reasoning)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if dataclasses.is_dataclass(u) and not isinstance(u, type):
        u = dataclasses.asdict(u)
    if not isinstance(u, dict):
        u = {k: getattr(u, k, 0) for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
    return dict(u)


def _completion(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.joined, "refusal": None}
    if reply.reasoning:
        message[reply.reasoning_field] = "".join(reply.reasoning)
    out: dict[str, Any] = {
        "id": f"chatcmpl-fake{int(time.time() * 1000)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model") or "fake-model"),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
    }
    if reply.usage is not None:
        out["usage"] = _usage(reply, body)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Fake OpenAI-compatible server (prints its base URL first).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--text", default=None, help="the reply text (default: a greeting)")
    p.add_argument("--text-file", type=Path, default=None, help="read the reply text from a file")
    p.add_argument("--reasoning-file", type=Path, default=None, help="reasoning text sent before the reply")
    p.add_argument("--tokens-per-second", type=float, default=0.0, help="chunks per second (0 = as fast as possible)")
    p.add_argument("--chunk-chars", type=int, default=4, help="characters per chunk")
    p.add_argument("--first-delay", type=float, default=0.0, help="seconds before the first chunk")
    p.add_argument("--hostile", action="store_true",
                   help="hostile mode: escape sequences, C1 controls, markup, bidi, zero-width and lone "
                        "surrogates in every reply's content and reasoning and in the model ids")
    p.add_argument("--warmup-text-file", type=Path, default=None,
                   help="the reply, at full speed, to a request whose last message starts with WARM-UP")
    p.add_argument("--repeat", action=argparse.BooleanOptionalAction, default=True,
                   help="serve the reply to every request (--no-repeat: once, then the default greeting)")
    args = p.parse_args(argv)

    text = args.text_file.read_text(encoding="utf-8") if args.text_file else (args.text or DEFAULT_TEXT)
    reply = Reply.text(text, chunk_size=args.chunk_chars, usage="auto", first_delay=args.first_delay,
                       delay=1.0 / args.tokens_per_second if args.tokens_per_second > 0 else 0.0)
    if args.reasoning_file:
        r = args.reasoning_file.read_text(encoding="utf-8")
        reply.reasoning = Reply.text(r, chunk_size=args.chunk_chars).chunks

    server = FakeServer(args.host, args.port)
    if args.warmup_text_file:
        warm = Reply.text(args.warmup_text_file.read_text(encoding="utf-8"), chunk_size=args.chunk_chars,
                          usage="auto")

        def reply_for(body: dict[str, Any]) -> Reply | None:
            messages = body.get("messages") or [{}]
            last = messages[-1].get("content") if isinstance(messages[-1], dict) else None
            return warm if isinstance(last, str) and last.startswith("WARM-UP") else None

        server.reply_for = reply_for
    if args.hostile:
        reply = Reply.hostile(chunk_size=args.chunk_chars, usage="auto")
        server.models = list(HOSTILE_MODELS)
    if args.repeat:
        server.default_reply = reply
    else:
        server.script(reply)
    server.start()
    print(server.base_url, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
