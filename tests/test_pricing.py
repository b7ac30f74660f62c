"""What a reply cost: config.toml's prices first, then the bundled price table for the
cloud servers it knows, and no cost (never a wrong one) for anything else."""

from __future__ import annotations

import json

import pytest

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from test_cli import tuichat
from tuichat.config import Price
from tuichat.core.models import Usage
from tuichat.core.tokens import money, stats_line
from tuichat.session.pricing import Cost, Pricing

USAGE = {"prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1_500_000}


def test_a_configured_price_wins_and_prices_any_server():
    pricing = Pricing({"qwen3:8b": Price(0.2, 0.6)}, "http://localhost:11434/v1")
    assert pricing.cost("qwen3:8b", Usage(2_000_000, 1_000_000, 3_000_000)) == Cost(0.4 + 0.6, False)
    assert pricing.cost("qwen3:8b", Usage(1_000_000, 0, 1_000_000, estimated=True)) == Cost(0.2, True)
    assert pricing.cost("llama3", Usage(10, 10, 20)) is None  # a local model without a price: none
    assert pricing.cost("qwen3:8b", None) is None


def test_the_price_table_prices_cloud_models_only():
    pytest.importorskip("genai_prices")
    openai = Pricing({}, None)  # no base URL: OpenAI itself
    cost = openai.cost("gpt-4o", Usage(1_000_000, 1_000_000, 2_000_000))
    assert cost is not None and 5 < cost.dollars < 50
    assert openai.cost("not-a-real-model-xyz", Usage(10, 10, 20)) is None
    # The same model name on a local server is not priced as OpenAI's.
    assert Pricing({}, "http://127.0.0.1:8080/v1").cost("gpt-4o", Usage(10, 10, 20)) is None
    assert Pricing({}, "https://openrouter.ai/api/v1").provider == "openrouter"


def test_money_and_the_line_under_a_reply():
    assert [money(x) for x in (12.3, 0.0123, 0.00001, 0)] == ["$12.30", "$0.0123", "<$0.0001", "$0"]
    line = stats_line(Usage(1000, 50, 1050, estimated=True), 400, 1400, 0.0021)
    assert line == "≈ 1,000 in · 50 out · $0.0021 · first token 0.4 s · 50 tok/s"


async def test_the_reply_shows_and_keeps_its_cost(tmp_path, fake_server):
    fake_server.script(Reply.text("Priced.", usage=USAGE))
    app = make_app(tmp_path, fake_server.base_url, prices={"test-model": Price(2.0, 8.0)})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.composer.text = "How much?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "1,000,000 in · 500,000 out · $6.00" in screen.transcript.all_text())
        screen.composer.text = "/usage"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "500,000 out · $6.00" in screen.transcript.all_text().split("This thread:")[-1])
        thread = screen.thread
    assert peek(app).messages(thread.id)[-1].cost == pytest.approx(6.0)


def test_pipe_json_carries_the_cost(fake_server, tmp_path):
    fake_server.script(Reply.text("Priced.", usage=USAGE))
    config = tmp_path / "config.toml"
    config.write_text('[prices."m1"]\ninput = 2\noutput = 8\n', encoding="utf-8")
    result = tuichat("-p", "How much?", "--json", "--config", str(config), "--base-url", fake_server.base_url,
                     "--model", "m1", "--db", str(tmp_path / "t.db"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["cost"] == pytest.approx(6.0)
