"""build_messages: what history is sent to the model, and in what order."""

from __future__ import annotations

from tuichat.core.models import DONE, ERROR, STOPPED, STREAMING, Message, Persona
from tuichat.core.prompt import build_messages

PERSONA = Persona(name="p", description="d", system_prompt="Be brief.")


def msg(n: int, role: str, content: str, status: str = DONE, reasoning: str = "") -> Message:
    return Message(
        id=n, thread_id=1, role=role, content=content, status=status, reasoning=reasoning  # type: ignore[arg-type]
    )


def test_system_prompt_first_then_history_in_order():
    history = [msg(1, "user", "hi"), msg(2, "assistant", "hello"), msg(3, "user", "bye")]
    assert build_messages(PERSONA, history) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"},
    ]


def test_no_persona_means_no_system_message():
    assert build_messages(None, [msg(1, "user", "hi")]) == [{"role": "user", "content": "hi"}]


def test_empty_history_is_just_the_system_prompt():
    assert build_messages(PERSONA, []) == [{"role": "system", "content": "Be brief."}]


def test_stopped_reply_is_kept_error_and_streaming_are_skipped():
    history = [
        msg(1, "user", "q1"),
        msg(2, "assistant", "partial answer", status=STOPPED),
        msg(3, "user", "q2"),
        msg(4, "assistant", "half of a failed reply", status=ERROR),
        msg(5, "user", "q3"),
        msg(6, "assistant", "still coming", status=STREAMING),
    ]
    assert [m["content"] for m in build_messages(None, history)] == ["q1", "partial answer", "q2", "q3"]


def test_empty_assistant_replies_are_skipped():
    history = [msg(1, "user", "q"), msg(2, "assistant", "", status=STOPPED), msg(3, "assistant", "  \n")]
    assert build_messages(None, history) == [{"role": "user", "content": "q"}]


def test_stored_system_rows_are_skipped():
    history = [msg(1, "system", "switched persona"), msg(2, "user", "q")]
    assert build_messages(PERSONA, history) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "q"},
    ]


def test_reasoning_is_never_sent():
    history = [msg(1, "user", "q"), msg(2, "assistant", "answer", reasoning="SECRET THOUGHTS")]
    out = build_messages(None, history)
    assert out[1] == {"role": "assistant", "content": "answer"}
    assert "SECRET THOUGHTS" not in repr(out)


def test_pure_function_does_not_mutate_inputs():
    history = [msg(1, "user", "q")]
    out = build_messages(PERSONA, history)
    out.append({"role": "user", "content": "extra"})
    assert len(history) == 1 and build_messages(PERSONA, history) == out[:-1]
