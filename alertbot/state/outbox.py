"""The SQLite outbox: every (notification, notifier) pair is a row written before it is sent.

A row is `pending` until the notifier acknowledged it (`sent`) or delivery gave up (`dead`).
Rows are marked `sent` only after the notifier returned ok, so a crash at any moment leaves the
unacknowledged rows pending and they are sent at the next start (at least once); a `sent` row is
never selected again (after a restart, only what was in flight can be duplicated).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

from alertbot.core.model import AlertSummary, Notification, notice
from alertbot.core.secrets import mask
from alertbot.state.api import DEAD, PENDING, SENT, OutboxRow
from alertbot.state.db import StateDB, StateError

__all__ = ["DEAD", "PENDING", "SENT", "OutboxRow", "SqliteOutbox"]


def note_to_json(note: Notification) -> str:
    """Serialize a notification for its outbox row."""
    return json.dumps(asdict(note), separators=(",", ":"), default=str)


def note_from_json(text: str) -> Notification:
    """Inverse of note_to_json."""
    raw: dict[str, Any] = json.loads(text)
    raw["notify"] = tuple(raw["notify"])
    raw["alerts"] = tuple(AlertSummary(**a) for a in raw.get("alerts", ()))
    return Notification(**raw)


COLUMNS = (
    "id, notifier, status, attempts, next_attempt_at, last_error, created_at, updated_at, "
    "solo, fallback, note"
)


def outbox_row(raw: tuple[Any, ...]) -> OutboxRow:
    rid, notifier, status, attempts, next_at, error, created, updated, solo, fb, note = raw
    try:
        parsed = note_from_json(note)
    except (ValueError, TypeError, KeyError) as exc:
        raise StateError(f"outbox row {rid} holds an unreadable notification: {exc}") from None
    return OutboxRow(int(rid), str(notifier), str(status), int(attempts), float(next_at),
                     str(error), float(created), float(updated), bool(solo), bool(fb),
                     parsed)  # fmt: skip


def listed_row(raw: tuple[Any, ...]) -> OutboxRow:
    """A row for listings: one whose notification cannot be read shows as such, not as a crash."""
    try:
        return outbox_row(raw)
    except StateError as exc:
        created = float(raw[6])
        note = notice("outbox", "error", "(unreadable notification)", str(exc), (), created)
        return outbox_row((*raw[:10], note_to_json(note)))


# The rows of one note (one per notifier) share rule, status, fingerprint and created_at.
TOLD_SQL = (
    "SELECT rule, alert_status, COUNT(*) FROM (SELECT DISTINCT rule, alert_status, "
    "fingerprint, created_at FROM outbox WHERE created_at >= ? AND created_at < ?) AS notes "
    "GROUP BY rule, alert_status"
)


def told_counts(raw: list[tuple[Any, ...]]) -> dict[tuple[str, str], int]:
    """TOLD_SQL's rows as {(rule, status): notes}."""
    return {(str(rule), str(status)): int(count) for rule, status, count in raw}


class SqliteOutbox:
    """Rows of the outbox table; every write runs inside the caller's or its own transaction."""

    def _readable(self, raw: list[tuple[Any, ...]]) -> list[OutboxRow]:
        """Parse rows; one that can never be read is dead-lettered, so it never blocks a queue."""
        rows = []
        for item in raw:
            try:
                rows.append(outbox_row(item))
            except StateError as exc:
                now = float(item[7])  # updated_at: no clock here; the time only orders listings
                self.mark_dead([int(item[0])], str(exc), now)
        return rows

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def add(
        self,
        note: Notification,
        notifier: str,
        now: float,
        *,
        status: str = PENDING,
        error: str = "",
        fallback: bool = False,
    ) -> int:
        """Write one pair (pending, or dead at once for an unknown notifier); return its id."""
        with self.db.transaction():
            cur = self.db.execute(
                "INSERT INTO outbox (notifier, status, attempts, next_attempt_at, last_error, "
                "created_at, updated_at, fallback, rule, alert_status, fingerprint, title, note) "
                "VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (notifier, status, now, mask(error), now, now, int(fallback), note.rule,
                 note.status, note.fingerprint, note.title, note_to_json(note)),
            )  # fmt: skip
        return int(cur.lastrowid or 0)

    def due(self, notifier: str, limit: int, exclude: Iterable[int] = ()) -> list[OutboxRow]:
        """The oldest pending rows of a notifier, in order; a solo row is sent alone."""
        skip = set(exclude)
        raw = self.db.query(
            f"SELECT {COLUMNS} FROM outbox WHERE status = ? AND notifier = ? ORDER BY id LIMIT ?",
            (PENDING, notifier, limit + len(skip)),
        )
        rows = [row for row in self._readable(raw) if row.id not in skip][:limit]
        if rows and rows[0].solo:
            return rows[:1]
        for i, row in enumerate(rows):
            if row.solo:
                return rows[:i]
        return rows

    def head_next_attempt(self, notifier: str) -> float:
        """When the oldest pending row of a notifier may be tried (0 when none)."""
        raw = self.db.query(
            "SELECT next_attempt_at FROM outbox WHERE status = ? AND notifier = ? "
            "ORDER BY id LIMIT 1",
            (PENDING, notifier),
        )
        return float(raw[0][0]) if raw else 0.0

    def mark_sent(self, ids: Sequence[int], now: float) -> None:
        """The notifier acknowledged these rows: never send them again."""
        with self.db.transaction():
            self.db.executemany(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, updated_at = ?, "
                "last_error = '' WHERE id = ?",
                [(SENT, now, i) for i in ids],
            )

    def mark_retry(self, ids: Sequence[int], next_at: float, error: str, now: float) -> None:
        """A failed attempt: count it and schedule the next one."""
        with self.db.transaction():
            self.db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
                "updated_at = ? WHERE id = ?",
                [(next_at, mask(error), now, i) for i in ids],
            )

    def mark_dead(self, ids: Sequence[int], error: str, now: float) -> None:
        """Give up on these rows (kept for `alertbot outbox list --dead`)."""
        with self.db.transaction():
            self.db.executemany(
                "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
                "updated_at = ? WHERE id = ?",
                [(DEAD, mask(error), now, i) for i in ids],
            )

    def mark_solo(self, ids: Sequence[int], error: str, now: float) -> None:
        """A batch was refused as a whole: send each of its rows alone to find the bad one."""
        with self.db.transaction():
            self.db.executemany(
                "UPDATE outbox SET solo = 1, last_error = ?, updated_at = ? WHERE id = ?",
                [(mask(error), now, i) for i in ids],
            )

    def requeue(self, row_id: int, now: float) -> OutboxRow:
        """Put a dead letter back in the queue with a fresh attempt count."""
        row = self.get(row_id)
        if row is None:
            raise StateError(f"no outbox row {row_id} in {self.db.path}")
        if row.status != DEAD:
            raise StateError(f"outbox row {row_id} is {row.status}, only dead rows can be retried")
        with self.db.transaction():
            self.db.execute(
                "UPDATE outbox SET status = ?, attempts = 0, next_attempt_at = ?, updated_at = ? "
                "WHERE id = ?",
                (PENDING, now, now, row_id),
            )
        return row

    def get(self, row_id: int) -> OutboxRow | None:
        """One row by id."""
        raw = self.db.query(f"SELECT {COLUMNS} FROM outbox WHERE id = ?", (row_id,))
        return outbox_row(raw[0]) if raw else None

    def listing(self, statuses: Sequence[str], limit: int = 100) -> list[OutboxRow]:
        """Rows with these statuses, oldest first (for the CLI)."""
        marks = ", ".join("?" for _ in statuses)
        raw = self.db.query(
            f"SELECT {COLUMNS} FROM outbox WHERE status IN ({marks}) ORDER BY id LIMIT ?",
            (*statuses, limit),
        )
        return [listed_row(r) for r in raw]

    def depth(self) -> dict[str, tuple[int, float]]:
        """Per notifier: pending rows and the oldest pending row's created_at."""
        raw = self.db.query(
            "SELECT notifier, COUNT(*), MIN(created_at) FROM outbox WHERE status = ? "
            "GROUP BY notifier",
            (PENDING,),
        )
        return {str(n): (int(c), float(t)) for n, c, t in raw}

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        raw = self.db.query("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {str(status): int(count) for status, count in raw}

    def told(self, since: float, until: float) -> dict[tuple[str, str], int]:
        """Notifications written in [since, until), per (rule, status); one per note, not row."""
        return told_counts(self.db.query(TOLD_SQL, (since, until)))

    def purge(self, before: float) -> int:
        """Forget sent and dead rows last touched before `before` (pending rows are kept)."""
        with self.db.transaction():
            cur = self.db.execute(
                "DELETE FROM outbox WHERE status != ? AND updated_at < ?", (PENDING, before)
            )
        return int(cur.rowcount)
