"""A thread as Markdown (for reading) or JSON (for keeping and importing again).

The JSON is the OpenAI messages shape ({"role", "content"}) with tuichat's extras beside
it, so other tools can read the conversation and tuichat can restore every detail.
"""

from __future__ import annotations

import json
from typing import Any

from tuichat.core.models import DONE, SUPERSEDED, Message, Thread
from tuichat.core.text import json_inert
from tuichat.core.timestamps import local_datetime

EXPORT_VERSION = 1


def iso_local(timestamp: float) -> str:
    """Unix seconds as ISO 8601 in the local time zone, with its offset. Any stored
    value formats (clamped to years 1970-9999), so no old import can stop an export."""
    return local_datetime(timestamp).isoformat(timespec="seconds")


def _heading(message: Message) -> str:
    who = "You" if message.role == "user" else "Assistant"
    if message.role == "assistant" and message.model:
        who += f" ({message.model})"
    if message.summary_of is not None:
        who = "Summary of the messages before it (/compact)"
    heading = f"## {who} · {iso_local(message.created_at)}"
    if message.summary_of is not None and message.status == SUPERSEDED:
        heading += " · undone (the messages it summarises were sent again)"
    elif message.status == SUPERSEDED:
        heading += " · superseded (replaced by a regenerated reply or an edit)"
    elif message.status != DONE:
        heading += f" · {message.status}"
    return heading


def thread_to_markdown(thread: Thread, messages: list[Message]) -> str:
    """The thread for reading: a metadata header, then each non-system message.

    System rows are notes the app showed (errors, persona switches), not conversation.
    """
    lines = [
        f"# {thread.title or 'Untitled'}",
        "",
        f"- Persona: {thread.persona}",
        f"- Model: {thread.model}",
        f"- Created: {iso_local(thread.created_at)}",
        f"- Updated: {iso_local(thread.updated_at)}",
    ]
    for message in messages:
        if message.role == "system":
            continue
        lines += ["", _heading(message), ""]
        if message.reasoning.strip():
            # Collapsed where Markdown renders HTML; still readable as plain text.
            lines += ["<details><summary>Reasoning</summary>", "", message.reasoning.strip(), "",
                      "</details>", ""]
        lines.append(message.content.rstrip() or "*(empty)*")
        if message.error:
            lines += ["", f"> Error: {message.error}"]
    return "\n".join(lines) + "\n"


def message_to_json(message: Message) -> dict[str, Any]:
    item: dict[str, Any] = {
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "model": message.model,
        "created_at": message.created_at,
    }
    # Optional extras only when set, so a plain conversation stays plain.
    if message.summary_of is not None:
        item["summary"] = True  # /compact: it stood for the messages before it
    if message.reasoning:
        item["reasoning"] = message.reasoning
    if message.finish_reason:
        item["finish_reason"] = message.finish_reason
    if message.error:
        item["error"] = message.error
    if message.usage is not None:
        item["usage"] = {
            "prompt_tokens": message.usage.prompt_tokens,
            "completion_tokens": message.usage.completion_tokens,
        }
    return item


def thread_to_json(thread: Thread, messages: list[Message]) -> dict[str, Any]:
    """The thread and all its messages (system notes and superseded versions included)."""
    return {
        "tuichat_export": EXPORT_VERSION,
        "thread": {
            "id": thread.id,
            "title": thread.title,
            "persona": thread.persona,
            "model": thread.model,
            "created_at": thread.created_at,
            "updated_at": thread.updated_at,
        },
        "messages": [message_to_json(m) for m in messages],
    }


def dumps(data: Any) -> str:
    """JSON text as tuichat writes it: UTF-8 as is (Japanese stays readable), indented.

    Characters a terminal would act on or that hide text (C1, DEL, bidi and zero-width
    characters, lone surrogates) are written as \\u escapes: the data is exactly the
    same, and `cat` of the file, or the export on stdout, shows nothing but text.
    """
    return json_inert(json.dumps(data, ensure_ascii=False, indent=2)) + "\n"
