"""One `alertbot run` per SQLite state dir: two would both send the same outbox rows.

`run` (and `state migrate`, which must copy a state nobody writes) hold an exclusive
`flock` on `RUN_LOCK` in the state dir for as long as the store is open. The kernel drops it
when the process ends, however it ends (a `kill -9` leaves no stale lock to clean up). The
commands that only edit a few rows beside a running bot (`silence`, `outbox retry`) do not take
it: SQLite's own locking serialises their writes.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from alertbot.state.db import StateError

LOCK_FILE = "RUN_LOCK"


class RunLock:
    """The held lock; `release()` (or the process's end) lets the next run in."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd: int | None = fd
        self.path = path

    @classmethod
    def take(cls, state_dir: str | Path, doing: str) -> RunLock:
        """Hold the state dir or raise StateError naming the process that holds it."""
        folder = Path(state_dir)
        path = folder / LOCK_FILE
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            why = exc.strerror
            raise StateError(f"cannot use state dir {folder} ({path.name}): {why}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StateError(
                f"state dir {folder} is in use by another alertbot run (pid {holder}); "
                f"stop it before {doing}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Let the next run in (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
