"""The provider for OpenAI-compatible servers (OpenAI, Azure, llama.cpp, vLLM, Ollama, ...).

The `openai` SDK is imported lazily, on the first request: loading it takes long enough
to delay the first screen, and nothing needs it before a message is sent. Keep every
`import openai` inside a function. The SDK builds, sends and retries the request and maps
HTTP errors; the streamed body is decoded by sse.py.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from tuichat.core.errors import ProviderError
from tuichat.core.events import Event, Finished, ReasoningDelta, TextDelta, UsageReport
from tuichat.core.models import Usage
from tuichat.core.text import encodable, mask_url, mask_urls, url_secrets

if TYPE_CHECKING:
    import ssl

    from openai import AsyncOpenAI

    from tuichat.servers import Server

# The SDK refuses an empty key, but local servers usually need none: send a dummy one.
_NO_KEY = "no-key"
# Anything that looks like an OpenAI-style key, e.g. the "sk-proj-****abcd" servers echo.
_KEY_RE = re.compile(r"sk-[A-Za-z0-9_*\-]{6,}")
# Where the reasoning text may be, in order: llama.cpp/DeepSeek/vLLM use reasoning_content;
# OpenRouter and newer vLLM use reasoning (vLLM may send both, so take only the first).
_REASONING_FIELDS = ("reasoning_content", "reasoning")


class OpenAIProvider:
    """Streams chat completions through the official SDK. Raises only `ProviderError`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None,
        timeout: float = 60.0,
        max_retries: int = 2,
        azure_api_version: str | None = None,
        azure: bool = False,
        api_key_env: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        ca_bundle: str | None = None,
        stream_usage: bool = True,
        http_client: Any = None,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._max_retries = max_retries
        # Azure OpenAI: a dated API version goes through AsyncAzureOpenAI (deployment URLs,
        # ?api-version=); without one, the v1 API, which is OpenAI's API at .../openai/v1/.
        self._azure = azure or azure_api_version is not None
        self._azure_api_version = azure_api_version
        self._headers = dict(headers)
        self._ca_bundle = ca_bundle
        # Only used to tell the user which variable to check after a 401.
        self._api_key_env = api_key_env or ("AZURE_OPENAI_API_KEY" if self._azure else "OPENAI_API_KEY")
        self._client: AsyncOpenAI | None = None
        self._http_client = http_client  # an httpx2.AsyncClient for the SDK (tests: a MockTransport)
        # warm_up builds the client in a worker thread; the event loop may ask at once.
        self._client_lock = threading.Lock()
        # Some servers answer 400 or 422 to stream_options; after one such answer, stop
        # sending it to this server (the reply's tokens are then estimated, marked "≈").
        self._send_stream_options = stream_usage
        self._windows: dict[str, asyncio.Future[int | None]] = {}  # model -> its context window, asked once

    @classmethod
    def for_server(cls, server: Server, api_key: str, **kwargs: Any) -> OpenAIProvider:
        """The provider for a configured server (servers.py), with its own key."""
        options: dict[str, Any] = dict(
            api_key=api_key, base_url=server.base_url, timeout=server.timeout, azure=server.azure,
            azure_api_version=server.api_version, api_key_env=server.api_key_env, headers=server.headers,
            ca_bundle=server.ca_bundle, stream_usage=server.streams_usage,
        )
        return cls(**{**options, **kwargs})

    # --- client ----------------------------------------------------------------------

    def _get_client(self) -> AsyncOpenAI:
        with self._client_lock:
            return self._build_client()

    def _build_client(self) -> AsyncOpenAI:
        if self._client is None:
            import openai  # lazy: see the module docstring

            # A read timeout of `timeout` also catches a stream that goes silent; connecting
            # should never take that long, so fail fast on an unreachable host.
            timeout = openai.Timeout(self._timeout, connect=min(self._timeout, 10.0))
            common: dict[str, Any] = {
                "api_key": self._api_key or _NO_KEY,
                "timeout": timeout,
                "max_retries": self._max_retries,
            }
            headers = dict(self._headers)
            if self._http_client is not None:
                common["http_client"] = self._http_client
            elif self._ca_bundle:
                common["http_client"] = _client_trusting(self._ca_bundle)
            try:
                if self._azure_api_version:
                    self._client = openai.AsyncAzureOpenAI(
                        azure_endpoint=self._base_url, api_version=self._azure_api_version,
                        default_headers=headers or None, **common
                    )
                elif self._azure:
                    from tuichat.servers import azure_v1_url

                    # Azure's v1 API takes the key as `api-key` (as the dated API does); the
                    # bearer header the SDK adds carries the same key to the same server.
                    headers["api-key"] = self._api_key or _NO_KEY
                    self._client = openai.AsyncOpenAI(base_url=azure_v1_url(self._base_url or ""),
                                                      default_headers=headers, **common)
                else:
                    self._client = openai.AsyncOpenAI(base_url=self._base_url, default_headers=headers or None,
                                                      **common)
            except (openai.OpenAIError, ValueError) as exc:
                raise self._error("config", "The server settings are incomplete", str(exc)) from None
        return self._client

    async def _ready_client(self) -> AsyncOpenAI:
        """The client, built in a worker thread the first time: importing the SDK takes
        ~0.4 s, which must never freeze the UI loop, even if the warm-up has not run."""
        if self._client is not None:
            return self._client
        return await asyncio.to_thread(self._get_client)

    def warm_up(self) -> None:
        try:
            client = self._get_client()
            # The resources and the streaming types load lazily on the first request.
            client.chat.completions  # noqa: B018
            client.models  # noqa: B018
            import openai.types.chat  # noqa: F401
        except ProviderError:
            pass  # the first send reports it properly

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def list_models(self) -> list[str]:
        """The model ids the server offers, sorted; [] if it has no list or fails."""
        try:
            client = await self._ready_client()
            ids = {
                encodable(m.id)  # stored with the thread when picked: UTF-8 must hold it
                async for m in client.models.list(timeout=min(self._timeout, 10.0))
                if getattr(m, "id", None)
            }
        except Exception:  # a missing model list must never break anything
            return []
        return sorted(ids)

    def context_window(self, model: str) -> asyncio.Future[int | None]:
        """The model's context window as this server tells it (vLLM, llama.cpp, Ollama,
        OpenRouter; see context.py), asked once per model, with this server's own key;
        None when it does not tell. OpenAI and Azure are not asked: they have no such
        endpoint (the price table knows their models)."""
        found = self._windows.get(model)
        if found is None:
            found = asyncio.ensure_future(self._ask_window(model))
            self._windows[model] = found
        return found

    async def _ask_window(self, model: str) -> int | None:
        from tuichat.servers import is_openai

        if self._azure or is_openai(self._base_url):
            return None
        from tuichat.providers.context import context_window

        try:
            window = await context_window(self._base_url, self._api_key, model, min(self._timeout, 10.0),
                                          headers=self._headers, ca_bundle=self._ca_bundle)
        except Exception:  # noqa: BLE001 - a hint only; never worth an error
            return None
        return window.tokens if window is not None else None

    # --- streaming -------------------------------------------------------------------

    async def stream(
        self, messages: list[dict[str, str]], model: str, params: dict[str, Any]
    ) -> AsyncIterator[Event]:
        await self._ready_client()  # also imports the SDK, off the event loop
        import openai

        from tuichat.providers.sse import chunks

        kwargs = {k: v for k, v in params.items() if v is not None}
        response = await self._open(messages, model, kwargs)
        started = False
        try:
            # The SDK built, sent (and retried) the request and checked the status; the
            # body's events are decoded here, to plain JSON (see sse.py): a pydantic
            # object per token was two thirds of a streamed reply's CPU.
            async for chunk in chunks(response.http_response):
                started = True
                for event in _events(chunk):
                    yield event
        except (openai.APIError, OSError) as exc:
            raise self._map_error(exc, model, started=started) from None
        except ValueError as exc:  # malformed JSON or UTF-8 in a data: line
            raise self._error(
                "server", "The server sent a malformed reply", f"It could not be read ({exc}). The text so far is kept."
            ) from None
        finally:
            # Always release the connection, above all on cancellation (Escape during a
            # stall): closing the response closes the socket instead of waiting on it.
            try:
                await response.close()
            except Exception:
                pass

    async def _open(self, messages: list[dict[str, str]], model: str, kwargs: dict[str, Any]) -> Any:
        """Send the request and return the response with its body unread. The SDK retries
        connection errors, 429 and 5xx here, before any text has arrived, which is the
        only time a retry is safe."""
        import openai

        client = await self._ready_client()
        while True:
            extra: dict[str, Any] = {}
            if self._send_stream_options:
                extra["stream_options"] = {"include_usage": True}
            try:
                request = client.chat.completions.with_streaming_response.create(
                    model=model, messages=messages, stream=True, **extra, **kwargs
                )
                # Entering sends the request; `stream` closes the response (what leaving
                # the context would do) in every outcome.
                return await request.__aenter__()
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if extra and _rejects_stream_options(exc):
                    self._send_stream_options = False
                    continue
                raise self._map_error(exc, model, started=False) from None
            except openai.APIError as exc:
                raise self._map_error(exc, model, started=False) from None

    # --- errors ----------------------------------------------------------------------

    def _map_error(self, exc: BaseException, model: str, *, started: bool) -> ProviderError:
        import openai

        said = _server_says(exc)
        if isinstance(exc, openai.APIStatusError):
            return self._status_error(exc.status_code, said, model)
        url = _display_url(self._base_url)
        if started:
            if isinstance(exc, openai.APITimeoutError):
                why = f"No data came for {self._timeout:g} s"
            elif isinstance(exc, openai.APIConnectionError) or not said:
                why = "The connection dropped"
            else:  # an error event inside the stream
                why = f"The server reported an error ({_sentence(said)[:-1]})"
            return self._error(
                "disconnected",
                "The reply was cut off",
                f"{why} before the reply was complete; the text so far is kept. Try again.",
            )
        if isinstance(exc, openai.APITimeoutError):
            return self._error(
                "timeout",
                "The server took too long",
                f"No answer from {url} within {self._timeout:g} s. The model may still be loading: "
                "try again, or raise the timeout.",
            )
        if isinstance(exc, openai.APIConnectionError):
            import httpx2

            if "CERTIFICATE_VERIFY_FAILED" in str(exc.__cause__):
                return self._error("connection", "The server's certificate is not trusted",
                                   f"{url} presented a TLS certificate no trusted CA signed. Behind a company "
                                   "proxy, set ca_bundle in config.toml to the company's CA certificate (PEM).")
            if isinstance(exc.__cause__, httpx2.ConnectError):
                detail = f"Nothing answered at {url}. Is the server running, and is the base URL right?"
            else:
                detail = f"The server at {url} closed the connection before answering. Is the base URL right?"
            return self._error("connection", "Cannot reach the server", detail)
        # An in-stream error event before any chunk, or a transport error outside the SDK.
        return self._error("server", "The server reported an error", said or str(exc) or type(exc).__name__)

    def _status_error(self, status: int, said: str, model: str) -> ProviderError:
        tail = f" Server said: {_sentence(said)}" if said else ""
        if status == 401:
            if not self._api_key:
                detail = f"No API key is set: set {self._api_key_env} and try again."
            else:
                detail = f"Check {self._api_key_env} (or the api_key setting) and try again."
            return self._error("auth", "The server rejected the API key", detail + tail, status)
        if status == 403:
            return self._error(
                "permission",
                "Access denied",
                "The API key works but may not use this model or endpoint. Check the key's permissions, "
                "or pick another model with --model." + tail,
                status,
            )
        if status == 404:
            return self._error(
                "not_found",
                "Model not found",
                f'The server does not know the model "{model}" (or the base URL is wrong: it usually ends '
                "in /v1). Pick one from the server's model list with --model." + tail,
                status,
            )
        if status == 429:
            return self._error(
                "rate_limit",
                "Rate limited",
                "The server is limiting requests, or the account is out of quota. Wait a moment and try "
                "again." + tail,
                status,
            )
        if status >= 500:
            return self._error(
                "server",
                f"Server error ({status})",
                "The server failed while answering. Try again; if it keeps failing, check the server's logs."
                + tail,
                status,
            )
        return self._error(
            "bad_request",
            "The server rejected the request",
            _sentence(said or f"HTTP {status}") + " Check the model name and the parameters (temperature, max_tokens).",
            status,
        )

    def _error(self, kind: str, title: str, detail: str, status: int | None = None) -> ProviderError:
        return ProviderError(kind, self._redact(title), self._redact(detail), status)

    def _redact(self, text: str) -> str:
        if self._api_key and len(self._api_key) >= 4:
            text = text.replace(self._api_key, "[redacted]")
        # A server (or the SDK) may quote the base URL: never its user:password@.
        text = mask_urls(text, url_secrets(self._base_url))
        return encodable(_KEY_RE.sub("sk-[redacted]", text))  # a lone surrogate must not crash a write


def _events(chunk: Any) -> list[Event]:
    """The events in one decoded chunk (JSON). Chunks with no choices (usage, Azure's
    prompt filter) only carry usage, if anything.

    Nothing in a chunk is validated, so every field may hold any JSON type: a value of an
    unexpected shape is skipped, never fatal. The common case (content a string, no
    extra fields) is kept to a few dict reads: this runs for every token.
    """
    out: list[Event] = []
    if not isinstance(chunk, dict):
        return out
    choices = chunk.get("choices")
    if choices and isinstance(choices, list):
        choice = choices[0]  # n is never set, so there is one choice
        if isinstance(choice, dict):
            delta = choice.get("delta")
            if isinstance(delta, dict):
                reasoning = _reasoning(delta)
                if reasoning:
                    out.append(ReasoningDelta(reasoning))
                content = delta.get("content")
                if content:
                    if isinstance(content, str):
                        out.append(TextDelta(content))
                    else:
                        _content_parts(content, out)
            reason = choice.get("finish_reason")
            if reason:
                out.append(Finished(reason if isinstance(reason, str) else str(reason)))
    usage = chunk.get("usage")
    if usage is not None:
        report = _usage(usage)
        if report is not None:
            out.append(UsageReport(report))
    return out


def _reasoning(extra: dict[str, Any]) -> str:
    for name in _REASONING_FIELDS:
        value = extra.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _content_parts(content: Any, out: list[Event]) -> None:
    """`content` as a list of parts: {"type": "text", "text": ...} is answer text;
    {"type": "thinking", "thinking": [{"type": "text", "text": ...}]} (Mistral's reasoning
    models; a plain string there too) is reasoning. Other part types (images, references,
    anything new) are skipped."""
    parts = [content] if isinstance(content, dict) else content
    if not isinstance(parts, list):
        return  # a number or a bool where text belongs: nothing to show
    text: list[str] = []
    thinking: list[str] = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
        elif isinstance(part, dict):
            kind = part.get("type")
            if kind == "text":
                value = part.get("text")
                if isinstance(value, str):
                    text.append(value)
            elif kind == "thinking":
                thinking.append(_thinking_text(part.get("thinking")))
    if reasoning := "".join(thinking):
        out.append(ReasoningDelta(reasoning))
    if answer := "".join(text):
        out.append(TextDelta(answer))


def _thinking_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            item["text"]
            for item in value
            if isinstance(item, dict) and item.get("type", "text") == "text" and isinstance(item.get("text"), str)
        )
    return ""


def _usage(usage: Any) -> Usage | None:
    """Token counts from a chunk's usage object; a count of the wrong type ("12", null,
    1.5, a list) is coerced when it is plainly a number and taken as 0 otherwise. None
    when it is not an object or no count at all could be read."""
    if not isinstance(usage, dict):
        return None
    prompt, completion, total = (_tokens(usage.get(name)) for name in _USAGE_FIELDS)
    if prompt is None and completion is None and total is None:
        return None
    prompt, completion = prompt or 0, completion or 0
    return Usage(prompt, completion, total or prompt + completion)


_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
_MAX_TOKENS = 2**62  # within SQLite's integer range, with room for sums


def _tokens(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 18:
            return None
        value = int(value)
    if isinstance(value, int):
        return value if 0 <= value < _MAX_TOKENS else None
    if isinstance(value, float):
        return int(value) if 0 <= value < _MAX_TOKENS else None  # false for nan
    return None


def _server_says(exc: BaseException) -> str:
    """The server's own error message, short and on one line, or ""."""
    body = getattr(exc, "body", None)
    message = ""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            message = str(inner.get("message") or "")
        elif isinstance(inner, str):
            message = inner
    elif isinstance(body, str) and not body.lstrip().startswith("<"):  # skip HTML error pages
        message = body
    message = " ".join(message.split())
    return message[:300] + ("…" if len(message) > 300 else "")


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _client_trusting(ca_bundle: str) -> Any:
    """The SDK's HTTP client (its limits and redirects; proxies from HTTPS_PROXY/NO_PROXY,
    as always), trusting the certificates in `ca_bundle` as well as the system's own."""
    import openai

    return openai.DefaultAsyncHttpxClient(verify=trusting(ca_bundle))


def trusting(ca_bundle: str) -> ssl.SSLContext:
    """A TLS context trusting the system's certificates and those in `ca_bundle` (config's
    ca_bundle: a company's CA). ProviderError, in plain words, when the file cannot be used."""
    import ssl
    from pathlib import Path

    path = Path(ca_bundle).expanduser()
    try:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=str(path))
    except (OSError, ssl.SSLError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ProviderError("config", "The CA bundle cannot be used",
                            f"ca_bundle {mask_urls(str(path))} in config.toml: {why}. Point it at a PEM file of "
                            "certificates.") from None
    return context


def _rejects_stream_options(exc: BaseException) -> bool:
    text = f"{_server_says(exc)} {getattr(exc, 'message', '')}".lower()
    return "stream_options" in text or "include_usage" in text


def _display_url(url: str | None) -> str:
    if not url:
        return "the default OpenAI address"
    return mask_url(url)  # user:password@ shown as ***@
