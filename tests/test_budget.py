"""The monthly budget ([budget] in config.toml): spending comes from the stored replies
(so it survives restarts and counts pipe runs); the status line and /balance show what is
left; 80% and 100% are said once; over budget, sending asks first, and pipe mode refuses
unless --over-budget."""

from __future__ import annotations

import time

import pytest

from apphelpers import make_app, peek, wait_for
from fake_openai import Reply
from test_cli import tuichat
from tuichat.config import Budget, Price
from tuichat.core.budget import Balance, month_start
from tuichat.core.models import Usage
from tuichat.store import Store
from tuichat.ui.screens.dialogs import ConfirmDialog

USAGE = {"prompt_tokens": 100_000, "completion_tokens": 100_000, "total_tokens": 200_000}


def test_the_balance_takes_the_larger_share_of_dollars_or_tokens():
    balance = Balance(20.0, 1_000_000, 5.0, 850_000)
    assert balance.spent == pytest.approx(0.85) and balance.low and not balance.over
    assert balance.short() == "$15.00 left · 150k tokens left"
    assert balance.long() == ("$5.00 of $20.00 spent this month; $15.00 left\n"
                              "850,000 of 1,000,000 tokens spent this month; 150,000 left")
    over = Balance(1.0, None, 1.5, 0)
    assert over.over and over.short() == "over budget" and "nothing left" in over.long()


def test_the_month_starts_on_the_first_at_midnight_local_time():
    now = time.mktime((2026, 12, 5, 13, 30, 0, 0, 0, -1))
    start = time.localtime(month_start(now))
    assert (start.tm_year, start.tm_mon, start.tm_mday, start.tm_hour, start.tm_min) == (2026, 12, 1, 0, 0)


def spent(store: Store, dollars: float, tokens: int, *, when: float | None = None) -> None:
    thread = store.create_thread("default", "test-model")
    store.add_message(thread.id, "user", "q")
    reply = store.add_message(thread.id, "assistant", "", status="streaming", lease="t")
    half = tokens // 2
    store.finish_message(reply.id, "t", content="a", reasoning="", status="done", usage=Usage(half, half, tokens))
    store.set_cost(reply.id, dollars)
    if when is not None:
        store._conn.execute("UPDATE messages SET created_at = ? WHERE id = ?", (when, reply.id))
        store._conn.commit()


def test_spending_counts_this_months_replies_in_every_thread(tmp_path):
    store = Store(tmp_path / "t.db")
    spent(store, 0.5, 1000)
    spent(store, 0.25, 500)
    spent(store, 9.0, 90_000, when=month_start() - 3600)  # last month
    assert store.spending_since(month_start()) == (pytest.approx(0.75), 1500)


async def test_the_status_line_balance_and_the_question_when_over(tmp_path, fake_server):
    store = Store(tmp_path / "tuichat.db")
    spent(store, 0.85, 1000)
    fake_server.script(Reply.text("Costly.", usage=USAGE))
    app = make_app(tmp_path, fake_server.base_url, store=store, budget=Budget(dollars=1.0),
                   prices={"test-model": Price(1.0, 1.0)})
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        status = screen.query_one("#status-left")
        await wait_for(pilot, lambda: "$0.1500 left" in str(status.render()))
        screen.composer.text = "/balance"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "$0.8500 of $1.00 spent this month; $0.1500 left" in screen.transcript.all_text())
        # This reply costs $0.20: the budget is spent, which is said, and shown.
        screen.composer.text = "one more"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "over budget" in str(status.render()))
        assert screen.balance is not None and screen.balance.over
        # Sending now asks first; "Cancel" keeps the text in the composer, unsent.
        requests = len(fake_server.chat_requests)
        screen.composer.text = "and another"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.composer.text == "and another" and len(fake_server.chat_requests) == requests
        fake_server.script(Reply.text("Sent anyway.", usage=USAGE))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.click("#confirm")
        await wait_for(pilot, lambda: "Sent anyway." in screen.transcript.all_text())
    assert peek(app).spending_since(month_start())[0] == pytest.approx(0.85 + 0.2 + 0.2)


def test_pipe_mode_refuses_over_budget_unless_told(fake_server, tmp_path):
    db = tmp_path / "t.db"
    spent(Store(db), 2.0, 1000)
    config = tmp_path / "config.toml"
    config.write_text("[budget]\ndollars = 1\n", encoding="utf-8")
    args = ["-p", "hi", "--config", str(config), "--base-url", fake_server.base_url, "--db", str(db)]
    refused = tuichat(*args)
    assert refused.returncode == 1
    assert "This month's budget is spent" in refused.stderr and "--over-budget" in refused.stderr
    assert fake_server.chat_requests == []
    sent = tuichat(*args, "--over-budget")
    assert sent.returncode == 0, sent.stderr
    assert len(fake_server.chat_requests) == 1
