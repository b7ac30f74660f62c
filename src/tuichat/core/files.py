"""Reading a file the user named, safely: a regular file only, and not too big.

`--persona /dev/zero` must not read until memory runs out, `--config /dev/stdin` must not
wait for a writer that never comes, and a directory is not a file. So the file is opened
without blocking (a FIFO opens at once instead of waiting for its writer), the open file
itself is checked (no race between a check and the open), and reading stops one byte past
the limit. Limits: 1 MiB for config.toml and persona files, 512 MiB for an import.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tuichat.core.errors import UsageError

KIB = 1024
MIB = 1024 * KIB
# A persona or config.toml is a few KiB; 1 MiB leaves room for a very long system prompt.
TOML_LIMIT = 1 * MIB
# A ChatGPT conversations.json of many years is a few hundred MiB; the whole file is
# parsed in memory (about 5-10x its size), so this is also a memory bound.
IMPORT_LIMIT = 512 * MIB

# O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer. Not on Windows,
# which has no FIFOs to open by path.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB and n % MIB == 0 else f"{n:,} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular_file(path: Path, limit: int, error: type[UsageError], title: str) -> bytes:
    """The bytes of `path`, which must be a regular file of at most `limit` bytes.

    Anything else raises `error(title, "path: problem; what to do")`, without reading from
    a pipe, device or directory. /dev/null alone reads as empty.
    """
    if str(path) == os.devnull:
        return b""  # `--config /dev/null`: the usual way to say "an empty file"
    # Not even opened when it is a device (opening some has side effects); the open file
    # is checked again below, in case the path changed in between.
    check_not_special(path, error, title)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise error(title, f"{path}: file not found") from None
    except IsADirectoryError:
        raise error(title, f"{path}: is a directory; give the path of a file") from None
    except OSError as exc:
        raise error(title, f"{path}: cannot open it ({exc.strerror or exc})") from None
    except ValueError:  # a NUL byte in the path
        raise error(title, f"{str(path)!r}: not a usable file name (it holds a NUL byte)") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(title, f"{path}: is {_kind(info.st_mode)}, not a regular file; give the path of a file")
        if info.st_size > limit:
            raise error(title, f"{path}: is {_size(info.st_size)}, more than the {_size(limit)} limit; "
                        "is it the right file?")
        chunks: list[bytes] = []
        total = 0
        # Read to the end rather than trusting st_size (a file still being written).
        while chunk := os.read(fd, min(MIB, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise error(title, f"{path}: is more than the {_size(limit)} limit; is it the right file?")
        return b"".join(chunks)
    except OSError as exc:
        raise error(title, f"{path}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def check_not_special(path: Path, error: type[UsageError], title: str) -> None:
    """Refuse a path that exists but is not a regular file (a directory, FIFO, device),
    without opening it; a missing path is fine (the caller may create it)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise error(title, f"{path}: cannot use it ({exc.strerror or exc})") from None
    except ValueError:  # a NUL byte in the path
        raise error(title, f"{str(path)!r}: not a usable file name (it holds a NUL byte)") from None
    if not stat.S_ISREG(mode):
        raise error(title, f"{path}: is {_kind(mode)}, not a regular file; give the path of a file")


# -- files tuichat creates: private to the user ----------------------------------------------
# History, drafts and crash logs are as private as the user's mail: 0600 files in 0700
# folders, whatever the umask. A file or folder that already exists keeps its mode (the
# user chose it).


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 folders (existing ones are left as
    they are); return it."""
    missing = []
    for folder in [path, *path.parents]:
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process made it just now
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    return path


def create_private(path: Path) -> bool:
    """Create `path` as an empty 0600 file if it does not exist; True if it was created."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    os.close(fd)
    os.chmod(path, 0o600)
    return True


def open_private(path: Path, mode: str = "w"):
    """Open `path` for writing ("w") or appending ("a") as text, created 0600 if new.
    A pipe, device or directory is refused (UsageError) before anything is written:
    opening it would block or write somewhere unexpected."""
    check_not_special(path, UsageError, f"Cannot write {path}")
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NONBLOCK", 0)
    flags |= os.O_APPEND if mode == "a" else os.O_TRUNC
    created = not path.exists()
    fd = os.open(path, flags, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"Cannot write {path}",
                             f"{path}: is {_kind(os.fstat(fd).st_mode)}, not a regular file; give a file name")
        if created:
            os.fchmod(fd, 0o600)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, mode, encoding="utf-8", errors="replace")
