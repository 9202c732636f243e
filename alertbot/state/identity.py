"""A state dir knows it held a database, and which one: a lost or replaced one is never reset.

The database stores a random id (table `meta`); a marker file beside it (`STATE_ID`) repeats
it. At open, a marker with no database (deleted, or truncated to 0 bytes) or with another
database's id is refused with a clear error; `alertbot run --reset-state` moves the old files
aside and starts empty on purpose. While running, `intact()` notices the file deleted or
replaced under the bot, which then stops instead of writing into a file nobody will read.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from alertbot.state.db import StateDB, StateError

MARKER = "STATE_ID"
RESET_HINT = "restore it from a backup, or start empty with `alertbot run --reset-state`"


def expected(db_path: Path) -> str | None:
    """Before opening: the id the marker promises; refuse when the database it names is gone."""
    marker = db_path.parent / MARKER
    try:
        promised = marker.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {marker}: {exc.strerror}") from None
    size = db_path.stat().st_size if db_path.exists() else None
    if size is None or size == 0:
        what = "is missing" if size is None else "is empty (0 bytes)"
        raise StateError(
            f"state database {db_path} {what}, but {db_path.parent} held database {promised}: "
            f"{RESET_HINT}"
        )
    return promised


def establish(db: StateDB, promised: str | None) -> str:
    """After opening: the database's id, created once; refuse a database the marker disowns."""
    rows = db.query("SELECT value FROM meta WHERE name = 'id'")
    if rows:
        own = str(rows[0][0])
        if promised is not None and own != promised:
            raise StateError(
                f"state database {db.path} is database {own}, but {db.path.parent} held "
                f"database {promised} (the file was replaced): {RESET_HINT}"
            )
    else:
        own = uuid.uuid4().hex
        with db.transaction():
            db.execute("INSERT INTO meta (name, value) VALUES ('id', ?)", (own,))
    if promised != own:
        _write_marker(db.path.parent / MARKER, own)
    return own


def reset(db_path: Path) -> Path | None:
    """Move a state database (and its WAL files and marker) aside; return where it went."""
    if not db_path.exists() and not (db_path.parent / MARKER).exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = db_path.with_name(f"{db_path.name}.reset-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{db_path}{suffix}")
        if part.exists():
            part.replace(Path(f"{aside}{suffix}"))
    (db_path.parent / MARKER).unlink(missing_ok=True)
    return aside


def _write_marker(marker: Path, own: str) -> None:
    tmp = marker.with_name(f".{marker.name}.tmp")
    try:
        tmp.write_text(own + "\n", encoding="utf-8")
        os.replace(tmp, marker)
    except OSError as exc:
        raise StateError(f"cannot write {marker}: {exc.strerror}") from None


class Watch:
    """Notices the database file deleted or replaced under a running bot."""

    def __init__(self, db_path: Path, own: str) -> None:
        self.db_path = db_path
        self.own = own
        self.inode = db_path.stat().st_ino

    def intact(self) -> str | None:
        """None while the file is the one opened; else what happened, in words."""
        try:
            inode = self.db_path.stat().st_ino
        except FileNotFoundError:
            return f"state database {self.db_path} was deleted while running"
        if inode != self.inode:
            return f"state database {self.db_path} was replaced while running"
        marker = self.db_path.parent / MARKER
        try:
            seen = marker.read_text(encoding="utf-8").strip()
        except OSError:
            return f"{marker} was deleted while running"
        if seen != self.own:
            return f"{marker} names another database while running"
        return None
