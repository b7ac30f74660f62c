"""What a reply cost, in US dollars.

config.toml's `[prices."MODEL"]` wins; otherwise the price table of genai-prices (an
optional extra, `pip install 'tuichat[prices]'`: its data is bundled, so it works offline)
prices the models of the cloud servers it knows, told apart by the base URL's host. A
model neither knows, above all one on a local server, has no cost rather than a wrong one
(a local "llama3" must not be priced as some cloud's).

genai-prices takes a noticeable time to import, so `cost` is called off the event loop,
after the reply (see session/send.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tuichat.core.models import Usage

if TYPE_CHECKING:
    from tuichat.config import Price

# Hosts whose model names genai-prices knows, and its id for each.
PROVIDERS = {
    "api.openai.com": "openai",
    "openrouter.ai": "openrouter",
    "api.mistral.ai": "mistral",
    "api.deepseek.com": "deepseek",
    "api.groq.com": "groq",
    "api.x.ai": "x-ai",
    "api.together.xyz": "together",
    "api.fireworks.ai": "fireworks",
    "api.cerebras.ai": "cerebras",
    "generativelanguage.googleapis.com": "google",
}


@dataclass(frozen=True)
class Cost:
    dollars: float
    estimated: bool  # from estimated token counts: shown with "≈"


class Pricing:
    def __init__(self, prices: dict[str, Price] | None = None, base_url: str | None = None) -> None:
        self.prices = prices or {}
        host = (urlsplit(base_url).hostname or "") if base_url else "api.openai.com"
        self.provider = PROVIDERS.get(host.lower())

    def warm_up(self) -> None:
        """Load the price table now (a worker thread, while the user types), if this
        server's models can be in it: the first reply's cost is then quick."""
        if self.provider is not None:
            self.cost("gpt-4o-mini", Usage(1, 1, 2))

    def context_window(self, model: str) -> int | None:
        """The model's context window from the price table's data, when this server's
        models can be in it and the table is loaded already (the app's warm-up loads it;
        a send never waits a second for the import)."""
        if self.provider is None or "genai_prices" not in sys.modules:
            return None
        try:
            window = _table_model(model, self.provider).context_window
        except Exception:  # noqa: BLE001 - an unknown model or odd data: not known
            return None
        return window if isinstance(window, int) and window > 0 else None

    def cost(self, model: str | None, usage: Usage | None) -> Cost | None:
        if usage is None or not model or not (usage.prompt_tokens or usage.completion_tokens):
            return None
        price = self.prices.get(model)
        if price is not None:
            dollars: float | None = (usage.prompt_tokens * price.input + usage.completion_tokens * price.output) / 1e6
        elif self.provider is not None:
            dollars = _table_price(model, self.provider, usage)
        else:
            return None
        return None if dollars is None else Cost(dollars, usage.estimated)


def _table_model(model: str, provider: str):  # noqa: ANN202
    from genai_prices import data_snapshot

    return data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)[1]


def _table_price(model: str, provider: str, usage: Usage) -> float | None:
    try:
        from genai_prices import Usage as Counted
        from genai_prices import calc_price
    except ImportError:
        return None  # the optional extra is not installed: no cost shown
    try:
        price = calc_price(Counted(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens),
                           model_ref=model, provider_id=provider)
    except Exception:  # noqa: BLE001 - an unknown model (LookupError) or odd data: no cost, never a crash
        return None
    return float(price.total_price)

