"""Versions of a turn (core/versions.py): pure functions over stored messages."""

from __future__ import annotations

from tuichat.core.models import DONE, ERROR, SUPERSEDED, Message
from tuichat.core.versions import plan_pick, prompt_ids, turns, version_labels


def m(id: int, role: str, status: str = DONE, version_of: int | None = None) -> Message:
    return Message(id=id, thread_id=1, role=role, content=f"{role} {id}", status=status, version_of=version_of)


def test_plain_turns_have_one_version_each_and_no_labels():
    rows = [m(1, "user"), m(2, "assistant"), m(3, "user"), m(4, "assistant")]
    found = turns(rows)
    assert [t.count for t in found] == [1, 1]
    assert [(v.prompt.id, v.reply.id) for t in found for v in t.versions] == [(1, 2), (3, 4)]
    assert version_labels(rows) == {}


def test_regenerated_replies_are_versions_of_their_turn():
    rows = [m(1, "user"), m(2, "assistant", SUPERSEDED), m(3, "assistant", SUPERSEDED), m(4, "assistant")]
    (turn,) = turns(rows)
    assert turn.count == 3 and turn.live == 2
    assert version_labels(rows) == {4: (3, 3)}  # on the reply, not the prompt
    assert plan_pick(turn, 0) == ([2], [4])
    assert prompt_ids(turn) == [1]


def test_an_edit_makes_a_version_of_prompt_and_reply_whichever_is_live():
    edited = [m(1, "user"), m(2, "assistant"), m(3, "user", SUPERSEDED), m(4, "assistant", SUPERSEDED),
              m(5, "user", version_of=3), m(6, "assistant")]
    first, second = turns(edited)
    assert first.count == 1 and second.count == 2 and second.live == 1
    assert version_labels(edited) == {6: (2, 2)}
    assert plan_pick(second, 0) == ([3, 4], [5, 6])
    # Flipped back to the first version: still one turn of two versions, not two turns.
    flipped = [m(1, "user"), m(2, "assistant"), m(3, "user"), m(4, "assistant"),
               m(5, "user", SUPERSEDED, version_of=3), m(6, "assistant", SUPERSEDED)]
    _, again = turns(flipped)
    assert again.count == 2 and again.live == 0
    assert version_labels(flipped) == {4: (1, 2)}


def test_an_edit_stored_before_prompts_named_their_turn_still_groups():
    legacy = [m(1, "user", SUPERSEDED), m(2, "assistant", SUPERSEDED), m(3, "user"), m(4, "assistant"),
              m(5, "user"), m(6, "assistant")]
    found = turns(legacy)
    assert [t.count for t in found] == [2, 1]


def test_a_failed_reply_is_not_a_version_and_an_unanswered_prompt_is_one():
    rows = [m(1, "user"), m(2, "assistant", ERROR), m(3, "assistant")]
    (turn,) = turns(rows)
    assert turn.count == 1 and turn.versions[0].reply.id == 3
    waiting = [m(1, "user", SUPERSEDED), m(2, "assistant", SUPERSEDED), m(3, "user", version_of=1)]
    (turn,) = turns(waiting)
    assert turn.count == 2 and turn.versions[1].reply is None
    assert version_labels(waiting) == {3: (2, 2)}  # no reply yet: the label is on the prompt


def test_system_rows_and_replies_before_any_prompt_are_left_out():
    rows = [m(1, "assistant"), m(2, "system"), m(3, "user"), m(4, "assistant")]
    (turn,) = turns(rows)
    assert (turn.versions[0].prompt.id, turn.versions[0].reply.id) == (3, 4)
