"""The reference for tests/test_sse_decoders.py: how the provider streamed before it
decoded the events itself, i.e. through the SDK's AsyncStream and its pydantic chunk
objects. Kept verbatim (but for names, and reading the usage object's attributes here)
from providers/openai.py as of commit 9c6046c, so the new decoder is held to exactly what
the SDK gave the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from tuichat.core.events import Event, Finished, ReasoningDelta, TextDelta, UsageReport
from tuichat.providers.openai import _USAGE_FIELDS, OpenAIProvider, _content_parts, _reasoning, _usage


class SDKStreamingProvider(OpenAIProvider):
    """OpenAIProvider with the old stream(): the SDK decodes, chunks are SDK objects."""

    async def stream(
        self, messages: list[dict[str, str]], model: str, params: dict[str, Any]
    ) -> AsyncIterator[Event]:
        await self._ready_client()
        import httpx2
        import openai

        kwargs = {k: v for k, v in params.items() if v is not None}
        sdk_stream = await self._open_sdk_stream(messages, model, kwargs)
        started = False
        try:
            async for chunk in sdk_stream:
                started = True
                for event in sdk_events(chunk):
                    yield event
        except (openai.APIError, httpx2.HTTPError, OSError) as exc:
            raise self._map_error(exc, model, started=started) from None
        except ValueError as exc:
            raise self._error(
                "server", "The server sent a malformed reply", f"It could not be read ({exc}). The text so far is kept."
            ) from None
        finally:
            try:
                await sdk_stream.close()
            except Exception:
                pass

    async def _open_sdk_stream(self, messages: list[dict[str, str]], model: str, kwargs: dict[str, Any]) -> Any:
        import openai

        client = await self._ready_client()
        try:
            return await client.chat.completions.create(
                model=model, messages=messages, stream=True, stream_options={"include_usage": True}, **kwargs
            )
        except openai.APIError as exc:
            raise self._map_error(exc, model, started=False) from None


def sdk_events(chunk: Any) -> list[Event]:
    """The events in one SDK chunk object (the old providers.openai._events)."""
    out: list[Event] = []
    choices = getattr(chunk, "choices", None)
    if choices and isinstance(choices, list):
        choice = choices[0]
        delta = getattr(choice, "delta", None)
        if delta is not None:
            extra = getattr(delta, "model_extra", None)
            if extra and isinstance(extra, dict):
                reasoning = _reasoning(extra)
                if reasoning:
                    out.append(ReasoningDelta(reasoning))
            content = getattr(delta, "content", None)
            if content:
                if isinstance(content, str):
                    out.append(TextDelta(content))
                else:
                    _content_parts(content, out)
        reason = getattr(choice, "finish_reason", None)
        if reason:
            out.append(Finished(reason if isinstance(reason, str) else str(reason)))
    usage = getattr(chunk, "usage", None)
    if usage is not None:
        # The old _usage read an SDK object's attributes; the shared one reads JSON.
        fields = usage if isinstance(usage, dict) else {name: getattr(usage, name, None) for name in _USAGE_FIELDS}
        report = _usage(fields)
        if report is not None:
            out.append(UsageReport(report))
    return out
