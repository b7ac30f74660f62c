"""Token counts when the server gives none: an estimate from the text, shown with "≈".

Real tokenizers differ by model; this only has to be the right size. English runs about
four characters to a token; Japanese, Chinese and emoji about one (or more) each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tuichat.core.models import Message, Usage

_PER_MESSAGE = 4  # role and separators, as chat formats add them


def estimate_tokens(text: str) -> int:
    ascii_chars = len(text.encode("ascii", "ignore"))
    return -(-ascii_chars // 4) + (len(text) - ascii_chars)


def message_tokens(text: str) -> int:
    """One message of a prompt: its text and the chat format's overhead."""
    return estimate_tokens(text) + _PER_MESSAGE


def estimate_usage(sent: Iterable[str], reply: str) -> Usage:
    """Usage for a reply the server did not count: the messages sent, and the reply."""
    prompt = sum(message_tokens(text) for text in sent)
    completion = estimate_tokens(reply)
    return Usage(prompt, completion, prompt + completion, estimated=True)


def stats_line(
    usage: Usage | None, first_token_ms: int | None, duration_ms: int | None, cost: float | None = None
) -> str | None:
    """The line under a reply: "1,234 in · 567 out · $0.0123 · first token 0.8 s · 45 tok/s"
    ("≈" first when the counts, and so the cost, are estimated); None when there is
    nothing to say."""
    parts = []
    if usage is not None and (usage.prompt_tokens or usage.completion_tokens):
        mark = "≈ " if usage.estimated else ""
        parts.append(f"{mark}{usage.prompt_tokens:,} in · {usage.completion_tokens:,} out")
        if cost is not None:
            parts.append(money(cost))
    if first_token_ms is not None:
        parts.append(f"first token {first_token_ms / 1000:.1f} s")
        if usage is not None and duration_ms is not None and usage.completion_tokens:
            seconds = (duration_ms - first_token_ms) / 1000
            if seconds >= 0.05:
                parts.append(f"{usage.completion_tokens / seconds:,.0f} tok/s")
    return " · ".join(parts) or None


def reply_stats(message: Message) -> str | None:
    """The line under a stored (or just finished) reply."""
    return stats_line(message.usage, message.first_token_ms, message.duration_ms, message.cost)


def money(dollars: float) -> str:
    """US dollars, to the cent from $1, else to four decimals: "$12.30", "$0.0123"."""
    if dollars >= 1:
        return f"${dollars:,.2f}"
    if dollars >= 0.0001:
        return f"${dollars:.4f}"
    return "<$0.0001" if dollars > 0 else "$0"


@dataclass(frozen=True)
class Totals:
    """A thread's replies, counted: for /usage."""

    replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated: int = 0  # replies whose counts are estimates
    speed: float | None = None  # completion tokens per second of generation, all replies
    cost: float | None = None  # US dollars, of the replies whose model has a price


def totals(messages: Iterable[Message]) -> Totals:
    """What a thread's replies used (the versions shown and the ones replaced alike: all
    were paid for)."""
    replies = prompt = completion = estimated = 0
    generated, seconds = 0, 0.0
    cost: float | None = None
    for message in messages:
        usage = message.usage
        if message.role != "assistant" or usage is None:
            continue
        replies += 1
        prompt += usage.prompt_tokens
        completion += usage.completion_tokens
        estimated += usage.estimated
        if message.cost is not None:
            cost = (cost or 0.0) + message.cost
        if message.first_token_ms is not None and message.duration_ms is not None:
            generated += usage.completion_tokens
            seconds += max(0, message.duration_ms - message.first_token_ms) / 1000
    return Totals(replies, prompt, completion, estimated, generated / seconds if seconds >= 0.05 else None, cost)


# A server that reports far fewer prompt tokens than were sent has cut the prompt (Ollama
# keeps only the end of a prompt longer than num_ctx, dropping the system prompt first).
# Estimates are rough, so only a clear gap on a prompt of some length counts.
_TRUNCATION_RATIO = 0.6
_TRUNCATION_MIN = 1000


def truncated_prompt(sent: Iterable[str], usage: Usage | None) -> int | None:
    """About how many prompt tokens were sent, when the server's own count says it read
    clearly fewer (it cut the prompt); None when nothing points to that."""
    if usage is None or usage.estimated or not usage.prompt_tokens:
        return None
    expected = estimate_usage(sent, "").prompt_tokens
    if expected >= _TRUNCATION_MIN and usage.prompt_tokens < expected * _TRUNCATION_RATIO:
        return expected
    return None


def truncation_advice(expected: int, counted: int) -> str:
    return (f"The server read only {counted:,} prompt tokens, but about {expected:,} were sent: it cut the "
            "start of the conversation, and with it the persona's instructions. Raise its context length "
            "(Ollama: the num_ctx parameter or OLLAMA_CONTEXT_LENGTH; llama.cpp: --ctx-size; vLLM: "
            "--max-model-len), or start a fresh thread.")


def context_used(messages: Iterable[Message]) -> int | None:
    """Tokens the thread's context held at its last counted reply (its prompt and its
    reply), or None when no reply was counted."""
    used = None
    for message in messages:
        if message.role == "assistant" and message.usage is not None and message.status != "superseded":
            used = message.usage.prompt_tokens + message.usage.completion_tokens
    return used
