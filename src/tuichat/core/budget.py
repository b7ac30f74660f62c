"""The monthly budget: what is spent (from the stored replies, so it survives restarts
and counts pipe runs and other windows) against what config.toml's [budget] allows."""

from __future__ import annotations

import time
from dataclasses import dataclass

from tuichat.core.tokens import money

WARN_AT = 0.8  # a notice once this much of the budget is spent


def month_start(now: float | None = None) -> float:
    """The Unix time the current calendar month began, in local time."""
    local = time.localtime(time.time() if now is None else now)
    return time.mktime((local.tm_year, local.tm_mon, 1, 0, 0, 0, 0, 0, -1))


@dataclass(frozen=True)
class Balance:
    budget_dollars: float | None
    budget_tokens: int | None
    spent_dollars: float
    spent_tokens: int

    @property
    def spent(self) -> float:
        """The larger share spent, of dollars or tokens (0.0 to 1.0 and beyond)."""
        shares = []
        if self.budget_dollars:
            shares.append(self.spent_dollars / self.budget_dollars)
        if self.budget_tokens:
            shares.append(self.spent_tokens / self.budget_tokens)
        return max(shares, default=0.0)

    @property
    def over(self) -> bool:
        return self.spent >= 1.0

    @property
    def low(self) -> bool:
        return self.spent >= WARN_AT

    def short(self) -> str:
        """For the status line: "$7.70 left", "1.2M tokens left" or "over budget"."""
        if self.over:
            return "over budget"
        parts = []
        if self.budget_dollars:
            parts.append(f"{money(max(0.0, self.budget_dollars - self.spent_dollars))} left")
        if self.budget_tokens:
            parts.append(f"{_count(max(0, self.budget_tokens - self.spent_tokens))} tokens left")
        return " · ".join(parts)

    def long(self) -> str:
        """For /balance and pipe mode: every figure, in words."""
        lines = []
        if self.budget_dollars:
            left = self.budget_dollars - self.spent_dollars
            lines.append(f"{money(self.spent_dollars)} of {money(self.budget_dollars)} spent this month; "
                         + (f"{money(left)} left" if left > 0 else "nothing left"))
        if self.budget_tokens:
            left_tokens = self.budget_tokens - self.spent_tokens
            lines.append(f"{self.spent_tokens:,} of {self.budget_tokens:,} tokens spent this month; "
                         + (f"{left_tokens:,} left" if left_tokens > 0 else "nothing left"))
        return "\n".join(lines)


def _count(tokens: int) -> str:
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.1f}M"
    if tokens >= 10_000:
        return f"{tokens / 1000:.0f}k"
    return f"{tokens:,}"
