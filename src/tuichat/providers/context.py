"""How many tokens a model's context holds, where the server tells: vLLM's `/v1/models`
(`max_model_len`), OpenRouter's (`context_length`), llama.cpp's `/props` (`n_ctx`) and
Ollama's `/api/show` (the model's `*.context_length`, and `num_ctx` when set, which is
what Ollama actually uses). Only the configured server is asked, with its own key.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ContextWindow:
    tokens: int
    source: str  # where it was read, for the doctor's report


async def context_window(base_url: str | None, api_key: str, model: str, timeout: float = 10.0, *,
                         headers: tuple[tuple[str, str], ...] = (), ca_bundle: str | None = None) -> ContextWindow | None:
    base = (base_url or "https://api.openai.com/v1").rstrip("/")
    root = re.sub(r"/v1$", "", base)
    sent = {**dict(headers), **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
    # Importing httpx2 and loading the certificates take tens of milliseconds: never on
    # the event loop (this may run while the user types).
    client = await asyncio.to_thread(_client, sent, timeout, ca_bundle)
    import httpx2

    async with client as http:
        for probe in (_from_models, _from_props, _from_ollama):
            try:
                found = await probe(http, base, root, model)
            except (httpx2.HTTPError, ValueError, OSError):
                found = None
            if found is not None:
                return found
    return None


def _client(headers: dict[str, str], timeout: float, ca_bundle: str | None) -> Any:
    import httpx2

    from tuichat.providers.openai import trusting

    return httpx2.AsyncClient(timeout=timeout, headers=headers, verify=trusting(ca_bundle) if ca_bundle else True)


async def _from_models(http: Any, base: str, root: str, model: str) -> ContextWindow | None:
    response = await http.get(f"{base}/models")
    if response.status_code != 200:
        return None
    for entry in response.json().get("data") or []:
        if isinstance(entry, dict) and entry.get("id") == model:
            for key in ("max_model_len", "context_length", "context_window"):
                if (tokens := _count(entry.get(key))) is not None:
                    return ContextWindow(tokens, f"{base}/models ({key})")
    return None


async def _from_props(http: Any, base: str, root: str, model: str) -> ContextWindow | None:
    response = await http.get(f"{root}/props")
    if response.status_code != 200:
        return None
    props = response.json()
    settings = props.get("default_generation_settings") if isinstance(props, dict) else None
    for value in (settings.get("n_ctx") if isinstance(settings, dict) else None, props.get("n_ctx")):
        if (tokens := _count(value)) is not None:
            return ContextWindow(tokens, f"{root}/props (n_ctx)")
    return None


async def _from_ollama(http: Any, base: str, root: str, model: str) -> ContextWindow | None:
    response = await http.post(f"{root}/api/show", json={"model": model})
    if response.status_code != 200:
        return None
    shown = response.json()
    if not isinstance(shown, dict):
        return None
    # num_ctx, when set, is what Ollama uses; the model's own length is only its maximum.
    if match := re.search(r"^num_ctx\s+(\d+)", str(shown.get("parameters") or ""), re.MULTILINE):
        return ContextWindow(int(match.group(1)), f"{root}/api/show (num_ctx)")
    info = shown.get("model_info")
    if isinstance(info, dict):
        for key, value in info.items():
            if key.endswith(".context_length") and (tokens := _count(value)) is not None:
                return ContextWindow(tokens, f"{root}/api/show ({key}; Ollama may use less: see num_ctx)")
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < 2**40 else None
