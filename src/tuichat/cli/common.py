"""What the app's command line and the history commands share: opening the database,
saying an error, and the crash log. Both import this; it imports neither."""

from __future__ import annotations

import sqlite3
import sys
import traceback
from pathlib import Path

from tuichat import paths
from tuichat.core.errors import TuichatError, UsageError
from tuichat.core.text import mask_urls, sanitize


def open_store(db: Path | None):
    from tuichat.store import Store

    from tuichat.core.files import check_not_special

    path = db or paths.db_path()
    # SQLite would open a device or FIFO and then fail with "disk I/O error", or block.
    check_not_special(path, UsageError, "Cannot use --db")
    try:
        return Store(path)
    except sqlite3.Error as exc:
        raise UsageError(f"Cannot open the database {path}",
                         f"{exc}. Check the path and its permissions, or pass --db PATH.") from None


def print_error(exc: TuichatError) -> None:
    # Titles and details quote servers, files and arguments: shown inert, never raw.
    text = f"{exc.title}" + (f": {exc.detail}" if exc.detail else "")
    print(f"tuichat: {sanitize(mask_urls(text))}", file=sys.stderr)


def write_crash_log() -> Path | None:
    try:
        from tuichat.core.files import open_private, private_dir

        log = private_dir(paths.data_dir()) / "crash.log"
        with open_private(log, "a") as fh:  # 0600: a traceback may quote the user's text
            fh.write(mask_urls(traceback.format_exc()))  # no user:password@ from a base URL
        return log
    except (OSError, TuichatError):
        return None
