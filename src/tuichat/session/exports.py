"""/export and the palette's export: a thread written to a new file, never over one."""

from __future__ import annotations

import os
from pathlib import Path

from tuichat import paths
from tuichat.commands import export_filename
from tuichat.store.threads import Store


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
    (default: export_dir()); its path. Runs on the database thread (it reads the thread)."""
    from tuichat.transfer.export import dumps, thread_to_json, thread_to_markdown

    thread = store.get_thread(thread_id)
    if thread is None:
        raise LookupError(f"no thread with id {thread_id}")
    messages = store.messages(thread_id)
    text = dumps(thread_to_json(thread, messages)) if fmt == "json" else thread_to_markdown(thread, messages)
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
