"""Export (Markdown, JSON) and import (tuichat JSON, ChatGPT conversations.json)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tuichat.core.models import SUPERSEDED, Usage
from tuichat.core.timestamps import MAX_TIMESTAMP
from tuichat.store import Store
from tuichat.transfer.export import iso_local, thread_to_json, thread_to_markdown
from tuichat.transfer.importers import ImportFormatError, from_chatgpt, load_file, parse


@pytest.fixture
def clock():
    ticks = itertools.count(1_700_000_000.0, 60.0)
    return lambda: next(ticks)


@pytest.fixture
def store(tmp_path: Path, clock):
    with Store(tmp_path / "a.db", clock=clock) as s:
        yield s


@pytest.fixture
def thread(store: Store):
    """A thread with every kind of message an export must carry."""
    t = store.create_thread("ojousama", "m1")
    store.add_message(t.id, "user", "東京のおすすめは?")
    old = store.add_message(t.id, "assistant", "first answer", model="m1")
    store.supersede(old.id)
    reply = store.add_message(t.id, "assistant", "", model="m1")
    store.update_message(reply.id, content="東京タワーです。\n\n```py\nprint(1)\n```", reasoning="thinking…",
                         finish_reason="stop", usage=Usage(10, 5, 15))
    store.add_message(t.id, "system", "Switched persona")
    cut = store.add_message(t.id, "assistant", "partial", model="m2")
    store.update_message(cut.id, status="stopped")
    return store.get_thread(t.id)


def fields(messages) -> list[tuple]:
    return [(m.role, m.content, m.status, m.model, m.created_at, m.reasoning) for m in messages]


# Export


def test_markdown_has_header_headings_and_statuses(store: Store, thread) -> None:
    text = thread_to_markdown(thread, store.messages(thread.id))
    lines = text.splitlines()
    assert lines[0] == "# 東京のおすすめは?"
    assert "- Persona: ojousama" in lines and "- Model: m1" in lines
    assert f"- Created: {iso_local(thread.created_at)}" in lines
    assert f"- Updated: {iso_local(thread.updated_at)}" in lines
    headings = [line for line in lines if line.startswith("## ")]
    assert len(headings) == 4  # the system note is not conversation
    assert headings[0].startswith("## You · ")
    assert headings[1].startswith("## Assistant (m1) · ") and "superseded" in headings[1]
    assert headings[2].startswith("## Assistant (m1) · ") and headings[2].count("·") == 1
    assert headings[3].startswith("## Assistant (m2) · ") and headings[3].endswith("· stopped")
    assert "Switched persona" not in text
    assert "```py\nprint(1)\n```" in text and "thinking…" in text


def test_json_is_openai_messages_with_extras(store: Store, thread) -> None:
    data = thread_to_json(thread, store.messages(thread.id))
    assert data["tuichat_export"] == 1
    assert data["thread"] == {
        "id": thread.id, "title": thread.title, "persona": "ojousama", "model": "m1",
        "created_at": thread.created_at, "updated_at": thread.updated_at,
    }
    roles = [(m["role"], m["status"]) for m in data["messages"]]
    assert roles == [("user", "done"), ("assistant", SUPERSEDED), ("assistant", "done"),
                     ("system", "done"), ("assistant", "stopped")]
    reply = data["messages"][2]
    assert reply["reasoning"] == "thinking…" and reply["usage"] == {"prompt_tokens": 10, "completion_tokens": 5}
    assert "reasoning" not in data["messages"][0]
    json.dumps(data)  # plain JSON types only


# tuichat JSON round trip and idempotence


def import_all(store: Store, threads) -> list:
    return [
        store.import_thread(title=t.title, persona=t.persona, model=t.model, created_at=t.created_at,
                            updated_at=t.updated_at, messages=t.messages, source=t.source)
        for t in threads
    ]


def test_round_trip_through_json_gives_the_same_thread(store: Store, thread, tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(thread_to_json(thread, store.messages(thread.id))), encoding="utf-8")
    with Store(tmp_path / "fresh.db") as fresh:
        (added,) = import_all(fresh, load_file(path))
        assert added is not None
        copy = fresh.get_thread(added.id)
        assert (copy.title, copy.persona, copy.model, copy.created_at, copy.updated_at) == (
            thread.title, thread.persona, thread.model, thread.created_at, thread.updated_at)
        assert fields(fresh.messages(copy.id)) == fields(store.messages(thread.id))
        assert fresh.messages(copy.id)[2].usage == Usage(10, 5, 15)
        # imported text is searchable: the FTS triggers saw the inserts
        assert [h.message_id for h in fresh.search("東京タワー")] == [fresh.messages(copy.id)[2].id]
        # and once more: nothing new
        assert import_all(fresh, load_file(path)) == [None]
        assert fresh.thread_count() == 1
        # exporting the copy and importing that is recognised as the same conversation
        again = parse(thread_to_json(copy, fresh.messages(copy.id)))
        assert import_all(fresh, again) == [None]


def test_a_list_of_exports_and_the_threads_object_are_accepted(store: Store, thread) -> None:
    one = thread_to_json(thread, store.messages(thread.id))
    assert len(parse([one, one])) == 2
    assert len(parse({"threads": [one]})) == 1


def test_a_streaming_reply_is_imported_as_stopped(store: Store, thread) -> None:
    data = thread_to_json(thread, store.messages(thread.id))
    data["messages"][0]["status"] = "streaming"
    (imported,) = parse(data)
    assert imported.messages[0].status == "stopped"


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d.update(tuichat_export=2), "version 2"),
        (lambda d: d["messages"][0].update(role="tool"), "message 1: unknown role"),
        (lambda d: d["messages"][1].update(status="weird"), "message 2: unknown status"),
        (lambda d: d["messages"][0].pop("content"), "'content'"),
        (lambda d: d.update(messages="nope"), "'messages' list"),
    ],
)
def test_bad_tuichat_exports_name_the_problem(store: Store, thread, tmp_path, mutate, problem) -> None:
    data = thread_to_json(thread, store.messages(thread.id))
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ImportFormatError) as caught:
        load_file(path)
    assert caught.value.title == f"Cannot import {path}"
    assert problem in caught.value.detail


@pytest.mark.parametrize(
    ("content", "problem"),
    [("{", "not JSON"), ('{"a": 1}', "not a tuichat export"), ("[1, 2]", "not a tuichat export"),
     ('"text"', "not a tuichat export")],
)
def test_unreadable_files_raise_one_clear_error(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(ImportFormatError, match=problem):
        load_file(path)
    with pytest.raises(ImportFormatError, match="no such file"):
        load_file(tmp_path / "missing.json")


# ChatGPT conversations.json


def node(node_id, parent, children, role=None, text=None, t=None, **extra):
    message = None
    if role is not None:
        parts = text if isinstance(text, list) else [text]
        message = {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": t,
            "content": {"content_type": extra.pop("content_type", "text"), "parts": parts},
            "metadata": extra.pop("metadata", {}),
        }
    return node_id, {"id": node_id, "message": message, "parent": parent, "children": children}


def chatgpt_conversation() -> dict:
    """A branch at u1 (the first answer was regenerated), a hidden system node, a tool
    call, and an image part. current_node is on the second branch."""
    mapping = dict([
        node("root", None, ["sys"]),
        node("sys", "root", ["u1"], "system", "", metadata={"is_visually_hidden_from_conversation": True}),
        node("u1", "sys", ["a1", "a2"], "user", "What's in Tokyo?", 1_700_000_100.0),
        node("a1", "u1", [], "assistant", "OLD BRANCH answer", 1_700_000_200.0, metadata={"model_slug": "gpt-4"}),
        node("a2", "u1", ["tool"], "assistant", "Tokyo Tower!", 1_700_000_300.0, metadata={"model_slug": "gpt-4o"}),
        node("tool", "a2", ["u2"], "tool", "search results", 1_700_000_310.0),
        node("u2", "tool", ["a3"], "user", [{"content_type": "image_asset_pointer"}, "And this photo?"],
             1_700_000_400.0, content_type="multimodal_text"),
        node("a3", "u2", [], "assistant", "", 1_700_000_500.0),  # empty: skipped
    ])
    return {
        "id": "conv-1", "title": "Tokyo trip", "create_time": 1_700_000_000.0,
        "update_time": 1_700_000_900.0, "current_node": "a3", "mapping": mapping,
    }


def test_chatgpt_import_follows_the_current_branch_only() -> None:
    thread = from_chatgpt(chatgpt_conversation())
    assert thread is not None
    assert [(m.role, m.content) for m in thread.messages] == [
        ("user", "What's in Tokyo?"),
        ("assistant", "Tokyo Tower!"),
        ("user", "And this photo?"),
    ]
    assert [m.created_at for m in thread.messages] == [1_700_000_100.0, 1_700_000_300.0, 1_700_000_400.0]
    assert thread.messages[1].model == "gpt-4o"
    # The model is each reply's label, not the thread's: '' asks the configured model.
    assert (thread.title, thread.persona, thread.model) == ("Tokyo trip", "default", "")
    assert (thread.created_at, thread.updated_at) == (1_700_000_000.0, 1_700_000_900.0)
    assert thread.source == "chatgpt:conv-1"


def test_chatgpt_other_branch_when_current_node_points_there() -> None:
    conversation = chatgpt_conversation()
    conversation["current_node"] = "a1"
    thread = from_chatgpt(conversation)
    assert [m.content for m in thread.messages] == ["What's in Tokyo?", "OLD BRANCH answer"]
    assert thread.model == ""  # the model is a label of each reply, never the thread's
    assert [m.model for m in thread.messages] == [None, "gpt-4"]


def test_chatgpt_without_model_slug_or_visible_messages() -> None:
    conversation = chatgpt_conversation()
    for item in conversation["mapping"].values():
        if item["message"]:
            item["message"]["metadata"].pop("model_slug", None)
    thread = from_chatgpt(conversation)
    assert thread.model == "" and all(m.model is None for m in thread.messages)
    conversation["current_node"] = "sys"
    assert from_chatgpt(conversation) is None  # only a hidden system message: nothing to import


def test_chatgpt_file_imports_once(store: Store, tmp_path: Path) -> None:
    second = chatgpt_conversation()
    second.update(id="conv-2", title="", current_node="a1")
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([chatgpt_conversation(), second]), encoding="utf-8")
    added = import_all(store, load_file(path))
    assert all(t is not None for t in added)
    titles = {t.title for t in store.list_threads()}
    assert titles == {"Tokyo trip", "What's in Tokyo?"}  # untitled: named by the first prompt
    tokyo = next(t for t in store.list_threads() if t.title == "Tokyo trip")
    assert (tokyo.created_at, tokyo.updated_at) == (1_700_000_000.0, 1_700_000_900.0)
    assert [h.thread_id for h in store.search("old branch")] == [added[1].id]
    assert import_all(store, load_file(path)) == [None, None]
    assert store.thread_count() == 2


# Out-of-range times and wrong types: nothing imported can stop a later start


def _export_with(mutate) -> dict:
    data = {
        "tuichat_export": 1,
        "thread": {"title": "odd", "persona": "default", "model": "m",
                   "created_at": 1_700_000_000.0, "updated_at": 1_700_000_100.0},
        "messages": [{"role": "user", "content": "hello", "created_at": 1_700_000_000.0},
                     {"role": "assistant", "content": "hi", "created_at": 1_700_000_050.0}],
    }
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-1e308, 0.0), (1e308, MAX_TIMESTAMP), (float("nan"), 0.0), (float("inf"), MAX_TIMESTAMP),
     (float("-inf"), 0.0), (10**400, MAX_TIMESTAMP), (-1, 0.0), (1_700_000_000, 1_700_000_000.0)],
)
def test_imported_thread_times_are_clamped(value, expected) -> None:
    (thread,) = parse(_export_with(lambda d: d["thread"].update(created_at=value, updated_at=value)))
    assert (thread.created_at, thread.updated_at) == (expected, expected)
    if value == value:  # NaN: see the next test
        (thread,) = parse(_export_with(lambda d: d["messages"][0].update(created_at=value)))
        assert thread.messages[0].created_at == expected


def test_a_nan_message_time_falls_back_to_the_thread_time() -> None:
    (thread,) = parse(_export_with(lambda d: d["messages"][1].update(created_at=float("nan"))))
    assert thread.messages[1].created_at == 1_700_000_000.0


def test_usage_counts_of_the_wrong_type_become_zero() -> None:
    for bad in ("many", 1e308, float("nan"), -3, [1], True):
        (thread,) = parse(_export_with(lambda d: d["messages"][1].update(
            usage={"prompt_tokens": bad, "completion_tokens": 2})))
        assert thread.messages[1].usage == Usage(0, 2, 2)


def test_lone_surrogates_are_replaced_before_the_database_sees_them(store: Store) -> None:
    (thread,) = parse(_export_with(lambda d: d["messages"][0].update(content="a\ud800b")))
    assert thread.messages[0].content == "a\ufffdb"
    (added,) = import_all(store, [thread])
    assert store.messages(added.id)[0].content == "a\ufffdb"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["mapping"]["u1"].update(message="text"),
        lambda c: c["mapping"]["u1"]["message"].update(author="user"),
        lambda c: c["mapping"]["u1"]["message"].update(content=["What's in Tokyo?"]),
        lambda c: c["mapping"]["u1"]["message"]["content"].update(parts="What's in Tokyo?"),
        lambda c: c["mapping"].update(u1=["not", "a", "node"]),
    ],
)
def test_chatgpt_nodes_of_the_wrong_type_are_left_out(mutate) -> None:
    conversation = chatgpt_conversation()
    mutate(conversation)
    thread = from_chatgpt(conversation)
    assert thread is not None
    assert [m.content for m in thread.messages] == ["Tokyo Tower!", "And this photo?"]


def test_chatgpt_metadata_of_the_wrong_type_is_no_metadata() -> None:
    conversation = chatgpt_conversation()
    conversation["mapping"]["a2"]["message"]["metadata"] = [1]
    thread = from_chatgpt(conversation)
    assert thread.messages[1].content == "Tokyo Tower!" and thread.messages[1].model is None


def test_chatgpt_times_of_any_kind_are_clamped() -> None:
    conversation = chatgpt_conversation()
    conversation.update(create_time=-1e308, update_time=float("inf"))
    conversation["mapping"]["u1"]["message"]["create_time"] = "yesterday"
    thread = from_chatgpt(conversation)
    assert (thread.created_at, thread.updated_at) == (0.0, MAX_TIMESTAMP)
    assert thread.messages[0].created_at == 0.0  # the conversation's (clamped) time


def test_chatgpt_mapping_of_the_wrong_type_names_the_conversation(tmp_path: Path) -> None:
    conversation = chatgpt_conversation()
    conversation["mapping"] = [1, 2]
    path = tmp_path / "c.json"
    path.write_text(json.dumps([chatgpt_conversation(), conversation]))
    with pytest.raises(ImportFormatError, match="conversation 2: needs a 'mapping' object"):
        load_file(path)


def test_import_refuses_a_fifo_without_waiting_and_a_file_over_the_limit(tmp_path: Path, monkeypatch) -> None:
    import os

    from tuichat.core import files

    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ImportFormatError, match="pipe"):
        load_file(fifo)
    path = tmp_path / "big.json"
    path.write_text("[" + " " * 100 + "]")
    monkeypatch.setattr("tuichat.transfer.importers.IMPORT_LIMIT", 100)
    with pytest.raises(ImportFormatError, match="more than the 100 bytes limit"):
        load_file(path)
    assert files.IMPORT_LIMIT == 512 * 1024 * 1024


def test_stored_times_of_any_value_still_format() -> None:
    from tuichat.core.models import Message, Thread
    from tuichat.cli.history import format_threads
    from tuichat.ui.widgets.thread_list import relative_time

    for value in (float("nan"), float("inf"), -1e308, 1e308, -1.0):
        thread = Thread(1, "t", "default", "m", value, value)
        assert format_threads([thread])[0].startswith("1  ")
        assert thread_to_markdown(thread, [Message(0, 1, "user", "x", created_at=value)])
        assert relative_time(value, now=1_700_000_000.0)
        assert iso_local(value)
    assert relative_time(1e308, now=1_700_000_000.0) == "9999-12-30"  # the future: a date


def _tuichat(*args: str):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "tuichat", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONIOENCODING": "utf-8"})


def test_a_database_holding_impossible_times_can_still_list_export_and_delete(tmp_path: Path) -> None:
    """A database written before times were clamped: the history commands still reach every
    thread, and `tuichat delete` removes the bad one."""
    db = tmp_path / "old.db"
    with Store(db) as s:
        good = s.create_thread("default", "m", "good one")
        bad = s.create_thread("default", "m", "from the year 10^300")
        s.add_message(bad.id, "user", "hello")
        s._conn.execute("UPDATE threads SET created_at = ?, updated_at = ? WHERE id = ?", (-1e308, 1e308, bad.id))
        s._conn.execute("UPDATE messages SET created_at = ? WHERE thread_id = ?", (float("-inf"), bad.id))
        s._conn.commit()
    listed = _tuichat("threads", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert "from the year 10^300" in listed.stdout and "good one" in listed.stdout
    exported = _tuichat("export", str(bad.id), "--db", str(db))
    assert exported.returncode == 0 and "hello" in exported.stdout
    deleted = _tuichat("delete", str(bad.id), "--db", str(db))
    assert (deleted.returncode, deleted.stderr) == (0, "")
    assert deleted.stdout == f"Deleted thread {bad.id} (from the year 10^300, 1 message).\n"
    with Store(db) as s:
        assert s.get_thread(bad.id) is None and s.get_thread(good.id) is not None
    again = _tuichat("delete", str(bad.id), "--db", str(db))
    assert again.returncode == 2 and f"No thread with id {bad.id}" in again.stderr


def test_importing_minus_1e308_leaves_a_history_that_starts(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(_export_with(lambda d: d["thread"].update(created_at=-1e308, updated_at=-1e308))))
    db = str(tmp_path / "h.db")
    assert _tuichat("import", str(path), "--db", db).returncode == 0
    with Store(db) as s:
        (thread,) = s.list_threads()
        assert (thread.created_at, thread.updated_at) == (0.0, 0.0)
    listed = _tuichat("threads", "--db", db)
    assert listed.returncode == 0 and "1970-01-01" in listed.stdout


async def test_the_app_starts_and_lists_threads_with_impossible_stored_times(tmp_path: Path) -> None:
    from apphelpers import make_app, wait_for
    from tuichat.ui.widgets.thread_list import ThreadList

    db = tmp_path / "tuichat.db"
    with Store(db) as s:
        for value in (-1e308, 1e308, float("-inf")):
            thread = s.create_thread("default", "m", f"at {value}")
            s.add_message(thread.id, "user", "hello")
            s._conn.execute("UPDATE threads SET created_at = ?, updated_at = ? WHERE id = ?", (value, value, thread.id))
            s._conn.execute("UPDATE messages SET created_at = ? WHERE thread_id = ?", (value, thread.id))
        s._conn.commit()
    app = make_app(tmp_path, "http://127.0.0.1:9/v1", store=Store(db))
    async with app.run_test(size=(100, 30)) as pilot:
        threads = app.screen.query_one(ThreadList)
        await wait_for(pilot, lambda: threads.option_count == 3, timeout=15)
        assert app.is_running
