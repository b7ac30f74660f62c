"""Leases on streaming replies: which process is writing a reply, and is it still alive.

Many tuichat processes may share one database (two windows, pipe runs, browser tabs).
A reply row marked "streaming" carries its writer's id and a heartbeat the writer renews
every few seconds, even while the model is silent. Another process recovers the row (as
"interrupted") only when the lease is stale: the heartbeat is older than LEASE_TTL, or
the writer ran on this machine and its process is gone.
"""

from __future__ import annotations

import os
import secrets
import socket

# The writer renews its heartbeat this often...
HEARTBEAT_SECONDS = 2.0
# ...and a lease not renewed for this long belongs to a process that is gone (or frozen:
# a suspended laptop loses its replies to the other window, which is the safe side).
LEASE_TTL = 20.0

_HOST = socket.gethostname().replace(":", "_")


def new_owner() -> str:
    """A lease owner id for this process: host, pid and a random token (pids are reused)."""
    return f"{_HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_gone(owner: str | None) -> bool:
    """True if `owner` ran on this machine and its process no longer exists. An owner on
    another host (a shared file system) is judged by its heartbeat alone."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # exists, owned by someone else; or not a pid we can ask about
    return False
