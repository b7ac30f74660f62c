"""Build the messages list sent to the model from a persona and a thread's history."""

from __future__ import annotations

from tuichat.core.models import DONE, INTERRUPTED, STOPPED, SUPERSEDED, Message, Persona
from tuichat.core.tokens import message_tokens

# A stopped or interrupted reply is still what the user saw and may refer to; an errored
# or still streaming one is not a real answer, so sending it would put words in the
# model's mouth.
_SENDABLE_REPLY = (DONE, STOPPED, INTERRUPTED)


# A /compact summary goes into the system prompt, not in a message of its own: one system
# message at the start is what every server's chat template accepts (some refuse a second
# one, or two user messages in a row), and the context fit never leaves it out.
SUMMARY_HEADER = "Summary of the earlier part of this conversation (it stands for the messages before it):"
SUMMARISE_SYSTEM = (
    "You summarise conversations. Write a concise summary of the conversation you are given that keeps every "
    "fact, decision, name, number, code identifier, instruction and open question needed to carry on with it. "
    "Write it in the language the conversation uses. Reply with the summary only."
)
SUMMARISE_PROMPT = "Summarise the conversation above, as instructed."
# /compact keeps the newest turns as they are: the model sees the latest exchange verbatim.
KEEP_TURNS = 2


def active_summary(history: list[Message]) -> Message | None:
    """The /compact summary in force: the newest finished one not undone."""
    for message in reversed(history):
        if message.summary_of is not None and message.status == DONE and message.content.strip():
            return message
    return None


def _include(message: Message) -> bool:
    if message.summary_of is not None:
        return False  # a summary is sent in the system prompt (build_messages), in place of what it covers
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
    """The messages of `history` that build_messages sends, in order: none of those a
    summary in force stands for."""
    summary = active_summary(history)
    after = summary.summary_of if summary is not None and summary.summary_of is not None else 0
    return [m for m in history if _include(m) and m.id > after]


def compact_range(history: list[Message]) -> tuple[int, int] | None:
    """What /compact would summarise: (the id of the last message covered, how many are
    covered), everything sent now but the newest KEEP_TURNS turns; None when that is
    fewer than two messages."""
    sent = sendable(history)
    prompts = [i for i, m in enumerate(sent) if m.role == "user"]
    if len(prompts) <= KEEP_TURNS:
        return None
    covered = sent[: prompts[-KEEP_TURNS]]
    if len(covered) < 2:
        return None
    return covered[-1].id, len(covered)


def summary_request(history: list[Message], upto: int) -> list[dict[str, str]]:
    """The request that summarises the messages sent now up to id `upto` (an earlier
    summary in force included)."""
    system = SUMMARISE_SYSTEM
    if (earlier := active_summary(history)) is not None:
        system += f"\n\n{SUMMARY_HEADER}\n{earlier.content}"
    messages = [{"role": "system", "content": system}]
    messages.extend({"role": m.role, "content": m.content} for m in sendable(history) if m.id <= upto)
    messages.append({"role": "user", "content": SUMMARISE_PROMPT})
    return messages


def build_messages(persona: Persona | None, history: list[Message]) -> list[dict[str, str]]:
    """The persona's system prompt, then the thread in order, as {"role", "content"}.

    Reasoning text is never sent back: it is the model's scratch work, not the reply.
    """
    messages: list[dict[str, str]] = []
    system = persona.system_prompt if persona is not None and persona.system_prompt.strip() else ""
    if (summary := active_summary(history)) is not None:
        summarised = f"{SUMMARY_HEADER}\n{summary.content}"
        system = f"{system}\n\n{summarised}" if system else summarised
    if system:
        messages.append({"role": "system", "content": system})
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
