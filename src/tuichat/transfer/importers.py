"""Reading conversations from other files into plain ImportedThread values.

Two shapes are understood:

- tuichat's own JSON export (transfer/export.py): one thread, a list of them, or
  {"threads": [...]}.
- A ChatGPT data export's conversations.json: a list of conversations, each a tree of
  nodes (`mapping`) because editing a prompt or regenerating a reply branches it.
  `current_node` is the leaf the user last saw; walking its parents gives the
  conversation as it was on screen, and only that branch is imported.

The whole file is parsed and checked before anything is written, so a bad file imports
nothing. Each thread carries a `source` key; the store skips a source it already has,
which makes importing the same file twice add nothing.

Nothing in the file is trusted to have the right type: a value of the wrong type is a
missing value (ChatGPT) or an error naming where it is (tuichat's own export). Times are
clamped to what every formatter can show (core/timestamps.py), so no imported value can
stop a later start; text that UTF-8 cannot hold (lone surrogates) becomes U+FFFD.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuichat.core.errors import UsageError
from tuichat.core.files import IMPORT_LIMIT, read_regular_file
from tuichat.core.models import DONE, STATUSES, STOPPED, STREAMING, Message, Usage
from tuichat.core.text import encodable, first_line
from tuichat.core.timestamps import is_number, safe_timestamp

CHATGPT_PERSONA = "default"
_ROLES = ("system", "user", "assistant")
# ChatGPT content types that hold what the user saw as text. Others ("code",
# "execution_output", "thoughts", "user_editable_context", ...) are tool traffic or
# hidden context, not conversation.
_CHATGPT_TEXT_TYPES = ("text", "multimodal_text")


class ImportFormatError(UsageError):
    """The file is not something tuichat can import. The title names the file."""


class _Bad(Exception):
    """A problem found while parsing; becomes ImportFormatError with the file name."""


@dataclass
class ImportedThread:
    """A thread ready for Store.import_thread."""

    title: str
    persona: str
    model: str
    created_at: float
    updated_at: float
    source: str
    messages: list[Message] = field(default_factory=list)


def load_file(path: str | Path) -> list[ImportedThread]:
    """Read and parse `path`. Raises ImportFormatError with a one-line reason."""
    path = Path(path)
    title = f"Cannot import {path}"
    if not path.exists() and not path.is_symlink():
        raise ImportFormatError(title, "no such file")
    # A regular file only (never a FIFO or device), within IMPORT_LIMIT.
    try:
        raw = read_regular_file(path, IMPORT_LIMIT, ImportFormatError, title)
    except ImportFormatError as exc:  # the title names the file already
        raise ImportFormatError(title, exc.detail.removeprefix(f"{path}: ")) from None
    try:
        data = json.loads(raw)  # bytes: json detects UTF-8/16/32 itself
    except UnicodeDecodeError:
        raise ImportFormatError(title, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            title, f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise ImportFormatError(title, "not a file tuichat can import (JSON nested too deeply)") from None
    except ValueError as exc:  # an integer of more than 4300 digits, the one known case
        why = "a number with thousands of digits" if "digits" in str(exc) else str(exc)
        raise ImportFormatError(title, f"not JSON tuichat can read ({why})") from None
    try:
        return parse(data)
    except _Bad as exc:
        raise ImportFormatError(title, str(exc)) from None
    except RecursionError:
        raise ImportFormatError(title, "not a file tuichat can import (JSON nested too deeply)") from None


def parse(data: Any) -> list[ImportedThread]:
    """Recognise the shape of already-decoded JSON and convert it."""
    if isinstance(data, dict):
        if "tuichat_export" in data:
            return [from_tuichat(data, 1)]
        if isinstance(data.get("threads"), list):
            return _tuichat_list(data["threads"])
        if "mapping" in data:
            return _chatgpt_list([data])
    elif isinstance(data, list):
        if all(isinstance(item, dict) and "tuichat_export" in item for item in data):
            return _tuichat_list(data)
        if all(isinstance(item, dict) and "mapping" in item for item in data):
            return _chatgpt_list(data)
    raise _Bad("not a tuichat export or a ChatGPT conversations.json")


# tuichat's own export


def _tuichat_list(items: list[Any]) -> list[ImportedThread]:
    return [from_tuichat(item, n) for n, item in enumerate(items, 1)]


def _get(
    obj: dict[str, Any], key: str, kinds: type | tuple[type, ...], where: str, default: Any = None
) -> Any:
    value = obj.get(key, default)
    # bool is an int to Python, but never a valid timestamp or text here.
    if value is None or isinstance(value, bool) or not isinstance(value, kinds):
        if value is None and default is not None:
            return default
        raise _Bad(f"{where}: '{key}' is missing or not the right type")
    return value


def from_tuichat(data: Any, number: int = 1) -> ImportedThread:
    """One thread of tuichat's JSON export. `number` names it in error messages."""
    where = f"thread {number}"
    if not isinstance(data, dict):
        raise _Bad(f"{where} is not an object")
    if data.get("tuichat_export") != 1:
        raise _Bad(f"{where}: unsupported tuichat_export version {data.get('tuichat_export')!r}")
    thread = data.get("thread")
    items = data.get("messages")
    if not isinstance(thread, dict) or not isinstance(items, list):
        raise _Bad(f"{where}: needs a 'thread' object and a 'messages' list")
    number_types = (int, float)
    created = safe_timestamp(_get(thread, "created_at", number_types, where))
    updated = safe_timestamp(_get(thread, "updated_at", number_types, where, created), created)
    messages = [
        _tuichat_message(item, f"{where}, message {i}", created) for i, item in enumerate(items, 1)
    ]
    imported = ImportedThread(
        title=encodable(_get(thread, "title", str, where, "")),
        persona=encodable(_get(thread, "persona", str, where, "default")),
        model=encodable(_get(thread, "model", str, where, "unknown")),
        created_at=created,
        updated_at=updated,
        source="",
        messages=messages,
    )
    imported.source = "tuichat:" + _fingerprint(imported)
    return imported


def _tuichat_message(item: Any, where: str, default_time: float) -> Message:
    if not isinstance(item, dict):
        raise _Bad(f"{where} is not an object")
    role = _get(item, "role", str, where)
    if role not in _ROLES:
        raise _Bad(f"{where}: unknown role {role!r}")
    status = _get(item, "status", str, where, DONE)
    if status not in STATUSES:
        raise _Bad(f"{where}: unknown status {status!r}")
    if status == STREAMING:
        status = STOPPED  # nothing is streaming it any more
    usage = None
    if isinstance(item.get("usage"), dict):
        prompt = _count(item["usage"].get("prompt_tokens"))
        completion = _count(item["usage"].get("completion_tokens"))
        usage = Usage(prompt, completion, prompt + completion)
    return Message(
        id=0,
        thread_id=0,
        role=role,
        content=encodable(_get(item, "content", str, where)),
        status=status,
        reasoning=encodable(_get(item, "reasoning", str, where, "")),
        model=_text_or_none(item.get("model")),
        finish_reason=_text_or_none(item.get("finish_reason")),
        error=_text_or_none(item.get("error")),
        created_at=safe_timestamp(_get(item, "created_at", (int, float), where, default_time), default_time),
        usage=usage,
    )


def _text_or_none(value: Any) -> str | None:
    return encodable(value) if isinstance(value, str) else None


def _count(value: Any) -> int:
    """A token count: a whole number within SQLite's integer range, else 0."""
    if not is_number(value) or value != value or not 0 <= value < 2**62:
        return 0
    return int(value)


def _fingerprint(thread: ImportedThread) -> str:
    # Over the parsed content, not the file's bytes or the exporting database's ids: the
    # same conversation exported twice (or from another machine) is recognised as one.
    canonical = {
        "title": thread.title,
        "persona": thread.persona,
        "model": thread.model,
        "created_at": thread.created_at,
        "messages": [
            [m.role, m.content, m.status, m.model, m.created_at, m.reasoning] for m in thread.messages
        ],
    }
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


# ChatGPT's conversations.json


def _chatgpt_list(items: list[Any]) -> list[ImportedThread]:
    threads = []
    for n, conversation in enumerate(items, 1):
        thread = from_chatgpt(conversation, n)
        if thread is not None:
            threads.append(thread)
    return threads


def _time(value: Any, default: float) -> float:
    """A ChatGPT time: Unix seconds, clamped; anything else (null, a string) is `default`."""
    return safe_timestamp(value, default)


def _dict(value: Any) -> dict[str, Any]:
    """`value` if it is an object; {} for null or a value of the wrong type."""
    return value if isinstance(value, dict) else {}


def _branch(mapping: dict[str, Any], leaf: str) -> list[dict[str, Any]]:
    """The nodes from the root down to `leaf`."""
    nodes: list[dict[str, Any]] = []
    seen: set[str] = set()
    node_id: Any = leaf
    while isinstance(node_id, str) and node_id in mapping and node_id not in seen:
        seen.add(node_id)  # a malformed file with a cycle must not loop forever
        node = mapping[node_id]
        if not isinstance(node, dict):
            break
        nodes.append(node)
        node_id = node.get("parent")
    nodes.reverse()
    return nodes


def _latest_leaf(mapping: dict[str, Any]) -> str | None:
    # Without current_node, the most recently written leaf is the best guess.
    leaves = [
        (_time(_dict(node.get("message")).get("create_time"), 0.0), node_id)
        for node_id, node in mapping.items()
        if isinstance(node, dict) and not node.get("children")
    ]
    return max(leaves)[1] if leaves else None


def _chatgpt_text(message: dict[str, Any]) -> str | None:
    """The visible text of a ChatGPT message, or None when it is not conversation."""
    author = _dict(message.get("author"))
    if author.get("role") not in ("user", "assistant"):
        return None  # system prompts, tool calls and their output
    metadata = _dict(message.get("metadata"))
    if metadata.get("is_visually_hidden_from_conversation"):
        return None
    content = _dict(message.get("content"))
    if content.get("content_type") not in _CHATGPT_TEXT_TYPES:
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):
        return None
    # Images and files are dicts among the parts; only the text survives the import.
    text = "\n\n".join(part for part in parts if isinstance(part, str) and part.strip())
    return encodable(text) if text.strip() else None


def from_chatgpt(conversation: Any, number: int = 1) -> ImportedThread | None:
    """One ChatGPT conversation, following current_node; None if nothing visible is left."""
    where = f"conversation {number}"
    if not isinstance(conversation, dict) or not isinstance(conversation.get("mapping"), dict):
        raise _Bad(f"{where}: needs a 'mapping' object")
    mapping: dict[str, Any] = conversation["mapping"]
    created = _time(conversation.get("create_time"), 0.0)
    updated = _time(conversation.get("update_time"), created)
    leaf = conversation.get("current_node")
    if not isinstance(leaf, str) or leaf not in mapping:
        leaf = _latest_leaf(mapping)
    messages: list[Message] = []
    for node in _branch(mapping, leaf) if leaf else []:
        message = node.get("message")
        if not isinstance(message, dict):
            continue
        text = _chatgpt_text(message)
        if text is None:
            continue
        role = message["author"]["role"]
        slug = _dict(message.get("metadata")).get("model_slug")
        slug = encodable(slug) if isinstance(slug, str) and slug else None
        messages.append(
            Message(
                id=0,
                thread_id=0,
                role=role,
                content=text,
                status=DONE,
                model=slug if role == "assistant" else None,
                created_at=_time(message.get("create_time"), created),
            )
        )
    if not messages:
        return None
    conversation_id = conversation.get("conversation_id") or conversation.get("id")
    if not isinstance(conversation_id, str) or not conversation_id:
        text = json.dumps(conversation, ensure_ascii=False, sort_keys=True)
        # surrogatepass: the same bytes as plain UTF-8 for any valid text, and no crash
        # on a lone surrogate.
        conversation_id = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    title = conversation.get("title")
    title = encodable(title.strip()) if isinstance(title, str) else ""
    if not title:  # name it as tuichat names its own threads: by the first prompt
        title = next((first_line(m.content) for m in messages if m.role == "user"), "")
    return ImportedThread(
        title=title,
        persona=CHATGPT_PERSONA,
        # Not sent to the user's server: ChatGPT's model names are labels there (each reply
        # keeps its own); '' lets the app ask the configured model.
        model="",
        created_at=created,
        updated_at=updated,
        source=f"chatgpt:{encodable(conversation_id)}",
        messages=messages,
    )
