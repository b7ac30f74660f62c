"""The history, as the history commands (`tuichat threads|search|export|import|delete`)
and the app both use it: listing, searching, exporting, importing and deleting threads.
Plain functions over a `Store`; the app runs them on its database thread, the commands
call them directly. No UI, no printing.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataclasses import dataclass

from tuichat import paths
from tuichat.commands import export_filename
from tuichat.core.errors import UsageError
from tuichat.core.models import SearchHit, SearchPage, Thread
from tuichat.store.threads import Store


def list_threads(store: Store, limit: int) -> list[Thread]:
    """The most recently active threads first."""
    return store.list_threads(limit=limit)


def search(store: Store, query: str, limit: int) -> list[SearchHit]:
    """Every message matching all words of `query`, newest first by date."""
    return store.search(query, limit=limit)


def search_page(store: Store, query: str, limit: int, before: tuple[float, int] | None,
                budget_s: float | None) -> SearchPage:
    """One time-boxed page of a search (the app's search screen lists these)."""
    return store.search_page(query, limit=limit, before=before, budget_s=budget_s)


def get_thread(store: Store, thread_id: int) -> Thread:
    """The thread, or a UsageError that says how to find the right id."""
    thread = store.get_thread(thread_id)
    if thread is None:
        raise UsageError(f"No thread with id {thread_id}", "`tuichat threads` lists them.")
    return thread


def export_text(store: Store, thread_id: int, fmt: str) -> tuple[Thread, str]:
    """A thread as Markdown ("md") or JSON ("json") text: the exact text, for a file;
    whoever prints it to a terminal makes it inert first."""
    from tuichat.transfer.export import dumps, thread_to_json, thread_to_markdown

    thread = get_thread(store, thread_id)
    messages = store.messages(thread.id)
    text = dumps(thread_to_json(thread, messages)) if fmt == "json" else thread_to_markdown(thread, messages)
    return thread, text


@dataclass
class Imported:
    threads: int
    messages: int
    skipped: int  # already imported before (same source)


def import_file(store: Store, path: Path) -> Imported:
    """Import a tuichat JSON export or a ChatGPT conversations.json; everything is parsed
    and checked before the first write. Importing the same file twice adds nothing."""
    from tuichat.transfer.importers import load_file

    result = Imported(0, 0, 0)
    for thread in load_file(path):
        added = store.import_thread(
            title=thread.title, persona=thread.persona, model=thread.model,
            created_at=thread.created_at, updated_at=thread.updated_at,
            messages=thread.messages, source=thread.source,
        )
        if added is None:
            result.skipped += 1
        else:
            result.threads += 1
            result.messages += len(thread.messages)
    return result


def delete_thread(store: Store, thread_id: int) -> tuple[Thread, int] | None:
    """Delete a thread and its messages for good: the thread and how many messages it
    had, or None if there was no such thread (another window may have deleted it)."""
    thread = store.get_thread(thread_id)
    if thread is None:
        return None
    count = store.message_count(thread.id)
    store.delete_thread(thread.id)
    return thread, count


def export_dir() -> Path:
    """Where /export writes: the current directory, or the data dir if that is read-only."""
    cwd = Path.cwd()
    if os.access(cwd, os.W_OK):
        return cwd
    folder = paths.data_dir() / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_to_folder(store: Store, thread_id: int, fmt: str, folder: Path | None = None) -> str:
    """Write thread `thread_id` as Markdown ("md") or JSON to a new file in `folder`
    (default: export_dir()), never over an existing one; its path. The app's /export."""
    if store.get_thread(thread_id) is None:
        raise LookupError(f"no thread with id {thread_id}")
    thread, text = export_text(store, thread_id, fmt)
    name = export_filename(thread.title, thread.id, "json" if fmt == "json" else "md")
    return str(write_new(folder or export_dir(), name, text))


def write_new(folder: Path, name: str, text: str) -> Path:
    """Write `text` to folder/name, or name-2, name-3, ... : never over an existing file."""
    stem, dot, ext = name.rpartition(".")
    for n in range(1, 1000):
        path = folder / (name if n == 1 else f"{stem}-{n}{dot}{ext}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path
    raise FileExistsError(f"too many exports named {name} in {folder}")
