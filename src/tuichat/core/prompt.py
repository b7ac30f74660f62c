"""Build the messages list sent to the model from a persona and a thread's history."""

from __future__ import annotations

from tuichat.core.models import DONE, INTERRUPTED, STOPPED, SUPERSEDED, Message, Persona
from tuichat.core.tokens import message_tokens

# A stopped or interrupted reply is still what the user saw and may refer to; an errored
# or still streaming one is not a real answer, so sending it would put words in the
# model's mouth.
_SENDABLE_REPLY = (DONE, STOPPED, INTERRUPTED)


def _include(message: Message) -> bool:
    if message.status == SUPERSEDED:
        # Replaced by a regenerated reply or an edited prompt: kept for the user's history,
        # but the conversation the model sees is the one that replaced it.
        return False
    if message.role == "user":
        return True
    if message.role == "assistant":
        return message.status in _SENDABLE_REPLY and bool(message.content.strip())
    # Stored "system" rows are notes for the user (errors, persona switches), and the
    # persona supplies the one system prompt that counts.
    return False


def sendable(history: list[Message]) -> list[Message]:
    """The messages of `history` that build_messages sends, in order."""
    return [m for m in history if _include(m)]


def build_messages(persona: Persona | None, history: list[Message]) -> list[dict[str, str]]:
    """The persona's system prompt, then the thread in order, as {"role", "content"}.

    Reasoning text is never sent back: it is the model's scratch work, not the reply.
    """
    messages: list[dict[str, str]] = []
    if persona is not None and persona.system_prompt.strip():
        messages.append({"role": "system", "content": persona.system_prompt})
    messages.extend({"role": m.role, "content": m.content} for m in sendable(history))
    return messages


def fit_context(messages: list[dict[str, str]], window: int, reserve: int) -> tuple[list[dict[str, str]], int]:
    """The messages that fit a context of `window` tokens with `reserve` left for the
    reply, and how many were left out. The oldest go first, a turn at a time; the system
    prompt and the newest message always stay (servers that cut a prompt themselves cut
    its start, the system prompt first: this keeps it)."""
    budget = window - reserve
    cost = [message_tokens(m["content"]) for m in messages]
    if sum(cost) <= budget:
        return messages, 0
    head = 1 if messages and messages[0]["role"] == "system" else 0
    start = head
    total = sum(cost)
    last = len(messages) - 1
    while total > budget and start < last:
        total -= cost[start]
        start += 1
        # Never begin with a reply whose question was left out.
        while start < last and messages[start]["role"] == "assistant":
            total -= cost[start]
            start += 1
    return messages[:head] + messages[start:], start - head
