"""Versions of a turn: regenerated replies and edited prompts, kept and flippable.

Regenerate marks the replies to the last prompt superseded and adds a new one; an edit
marks the prompt and its replies superseded and adds the new prompt (and its reply). So a
edited prompt names the first prompt of its turn (`version_of`), so a turn's versions are
known whichever of them is live; a regenerated reply follows its prompt. Each (prompt, reply)
pair of a turn is one version; the live one is what the model is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tuichat.core.models import ERROR, SUPERSEDED, Message


@dataclass
class Version:
    """One version of a turn: a prompt and one reply to it (None: not answered yet)."""

    prompt: Message
    reply: Message | None


@dataclass
class Turn:
    """A prompt with its replies, in every version. `live` indexes the version sent."""

    versions: list[Version] = field(default_factory=list)
    live: int = 0

    @property
    def count(self) -> int:
        return len(self.versions)


def _live(message: Message | None) -> bool:
    return message is not None and message.status != SUPERSEDED


def turns(messages: list[Message]) -> list[Turn]:
    """Group a thread's messages (id order; system rows ignored) into turns. Assistant
    rows before the first prompt (an imported thread may start with one) are left out."""
    result: list[Turn] = []
    groups: list[list[tuple[Message, list[Message]]]] = []  # per turn: (prompt, replies)
    by_root: dict[int, list[tuple[Message, list[Message]]]] = {}
    for message in messages:
        if message.role == "user":
            current = groups[-1] if groups else None
            joined = by_root.get(message.version_of) if message.version_of is not None else None
            if joined is None and current is not None and message.version_of is None and _live(message) \
                    and not any(_live(p) for p, _ in current):
                # Edited before prompts named their turn: the new version followed the
                # old, superseded one (and nothing has been flipped since).
                joined = current
            if joined is not None:
                joined.append((message, []))  # another version of the turn's prompt
            else:
                groups.append([(message, [])])
                by_root[message.id] = groups[-1]
        elif message.role == "assistant" and groups and message.status != ERROR and message.summary_of is None:
            # A failed reply is not a version: it stays shown where it is, and F5 asks again.
            groups[-1][-1][1].append(message)
    for group in groups:
        turn = Turn()
        for prompt, replies in group:
            if replies:
                turn.versions.extend(Version(prompt, reply) for reply in replies)
            else:
                turn.versions.append(Version(prompt, None))
        live = [i for i, v in enumerate(turn.versions)
                if _live(v.prompt) and (v.reply is None or _live(v.reply))]
        turn.live = live[-1] if live else len(turn.versions) - 1
        result.append(turn)
    return result


def plan_pick(turn: Turn, index: int) -> tuple[list[int], list[int]]:
    """(ids to restore, ids to supersede) that make version `index` the live one."""
    chosen = turn.versions[index]
    keep = {chosen.prompt.id} | ({chosen.reply.id} if chosen.reply is not None else set())
    rows = {m.id: m for v in turn.versions for m in (v.prompt, v.reply) if m is not None}
    restore = sorted(i for i in keep if rows[i].status == SUPERSEDED)
    supersede = sorted(i for i, m in rows.items() if i not in keep and m.status != SUPERSEDED)
    return restore, supersede


def version_labels(messages: list[Message]) -> dict[int, tuple[int, int]]:
    """(1-based index, count) for every turn with more than one version, by the id of the
    live version's reply (its prompt, while it has none): what the transcript shows as
    ‹ 2/3 › on the reply."""
    labels: dict[int, tuple[int, int]] = {}
    for turn in turns(messages):
        if turn.count > 1:
            live = turn.versions[turn.live]
            labels[(live.reply or live.prompt).id] = (turn.live + 1, turn.count)
    return labels


def prompt_ids(turn: Turn) -> list[int]:
    """The turn's prompt versions, first first (the store names the first in the rest)."""
    return list(dict.fromkeys(v.prompt.id for v in turn.versions))
