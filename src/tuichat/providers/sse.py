"""A chat-completions stream's server-sent events, decoded straight to JSON values.

The SDK turns every event into a pydantic object (`ChatCompletionChunk.construct`); that
was two thirds of the CPU a streamed reply cost. This module does what the SDK's
`openai/_streaming.py` does with the bytes, and no more:

- lines end at CR, LF or CRLF, also when a CRLF is split across two network reads;
- a line starting with ":" is a comment; `data:` lines of one event are joined with "\\n";
  `event:`, `id:` and `retry:` are kept as the SSE spec and the SDK keep them (an `id:`
  is not reset between events, so after one every blank line ends an event);
- an event whose data starts with "[DONE]" ends the stream; a `thread.*` event is parsed
  and skipped; an event whose JSON is an object with a truthy "error" raises
  `openai.APIError` with the SDK's message and body;
- bad UTF-8 or JSON raises ValueError, as the SDK's `json.loads` and `bytes.decode` do;
- a read that times out or fails raises `openai.APITimeoutError` or
  `openai.APIConnectionError`, as `AsyncStream._iter_events` maps them;
- after [DONE], the rest of an HTTP/1.1 body is read for at most 0.1 s so the connection
  can be reused.

tests/test_sse_decoders.py runs this and the SDK over the same recorded streams and
checks the app gets the same events and errors from both.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

_DRAIN_SECONDS = 0.1  # the SDK's _DRAIN_TIMEOUT
_STREAM_ERROR = "An error occurred during streaming"


class EventDecoder:
    """Bytes in, (event name, data) out, for each event a blank line ends."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the start of a line not ended yet
        self._skip_lf = False  # the last read ended with CR: a LF opening the next is its CRLF
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> Iterator[tuple[str | None, str]]:
        """The events this read completes, one at a time: a line that cannot be decoded
        raises only once the events before it are out, as in the SDK."""
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return
        if b"\n" not in chunk and b"\r" not in chunk:
            self._pending.append(chunk)  # joined once the line ends: no growing copies
            return
        if self._pending:
            self._pending.append(chunk)
            chunk = b"".join(self._pending)
            self._pending = []
        lines = chunk.splitlines()  # bytes split at CR, LF and CRLF only
        end = chunk[-1]
        if end == 13:
            self._skip_lf = True
        elif end != 10:
            self._pending.append(lines.pop())
        line = self._line
        for raw in lines:
            event = line(raw.decode("utf-8"))
            if event is not None:
                yield event

    def finish(self) -> None:
        """The body ended: a last line without its line end is read, as the SDK reads it
        (it can never end an event, but bad UTF-8 in it is still an error)."""
        if self._pending:
            line = b"".join(self._pending).decode("utf-8")
            self._pending = []
            self._line(line)

    def _line(self, line: str) -> tuple[str | None, str] | None:
        if line.startswith("data: "):  # nearly every line
            self._data.append(line[6:])
            return None
        if not line:
            if not self._event and not self._data and not self._id and self._retry is None:
                return None
            event = (self._event or None, "\n".join(self._data))
            self._event, self._data, self._retry = None, [], None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            try:
                self._retry = int(value)
            except ValueError:
                pass
        return None


async def chunks(response: Any) -> AsyncIterator[Any]:
    """The JSON value of each event of `response` (an unread httpx2.Response), until
    [DONE] or the end of the body."""
    import ssl

    import anyio
    import httpx2
    import openai

    decoder = EventDecoder()
    loads = json.loads
    reads = response.aiter_bytes()
    try:
        async for chunk in reads:
            for name, data in decoder.feed(chunk):
                if data.startswith("[DONE]"):
                    if response.http_version == "HTTP/1.1":
                        await _drain(reads)
                    return
                value = loads(data)
                if name is not None and name.startswith("thread."):
                    continue  # the Assistants API's events: nothing for a chat
                if isinstance(value, dict) and value.get("error"):
                    error = value["error"]
                    message = error.get("message") if isinstance(error, dict) else None
                    if not message or not isinstance(message, str):
                        message = _STREAM_ERROR
                    raise openai.APIError(message, response.request, body=error)
                yield value
        decoder.finish()
    except httpx2.TimeoutException as exc:
        raise openai.APITimeoutError(request=response.request) from exc
    except (httpx2.RequestError, ssl.SSLError, anyio.EndOfStream) as exc:
        raise openai.APIConnectionError(request=response.request) from exc


async def _drain(reads: AsyncIterator[bytes]) -> None:
    try:
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for _ in reads:
                pass
    except (TimeoutError, Exception):  # noqa: BLE001 - the reply is complete; cleanup never fails it
        pass
