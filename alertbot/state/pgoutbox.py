"""The PostgreSQL outbox: the SQLite outbox's rows, claimed by one replica at a time.

`due` claims the rows it returns (`FOR UPDATE SKIP LOCKED`, then `claimed_by`/`claimed_until`),
so replicas draining one outbox never pick the same pending row while its claim holds. A
claim ends when the row is marked sent, dead or solo, when its replica stops (`release`), or
when `claim_ttl` passes without either (the replica died): then any replica may send it. So a
row is sent twice only when a replica dies (or stalls past `claim_ttl`) after its notifier
accepted the row and before the row was marked sent: at least once, as with SQLite.

Claims use the database's clock (`clock_timestamp()`), the one clock every replica shares.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from alertbot.core.model import Notification
from alertbot.core.secrets import mask
from alertbot.state.api import DEAD, PENDING, SENT, OutboxRow
from alertbot.state.db import StateError
from alertbot.state.outbox import (
    COLUMNS,
    TOLD_SQL,
    listed_row,
    note_to_json,
    outbox_row,
    told_counts,
)
from alertbot.state.pgdb import PgDB

DB_NOW = "extract(epoch from clock_timestamp())"


class PgOutbox:
    """Rows of the outbox table, claimed by `replica` for `claim_ttl` seconds when due."""

    def __init__(self, db: PgDB, replica: str, claim_ttl: float) -> None:
        self.db = db
        self.replica = replica
        self.claim_ttl = claim_ttl

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
        rows = self.db.query(
            "INSERT INTO outbox (notifier, status, attempts, next_attempt_at, last_error, "
            "created_at, updated_at, fallback, rule, alert_status, fingerprint, title, note) "
            "VALUES (%s, %s, 0, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (notifier, status, now, mask(error), now, now, fallback, note.rule,
             note.status, note.fingerprint, note.title, note_to_json(note)),
        )  # fmt: skip
        return int(rows[0][0])

    def due(self, notifier: str, limit: int, exclude: Iterable[int] = ()) -> list[OutboxRow]:
        """Claim the oldest pending rows no live replica holds, in order; a solo row goes alone."""
        raw = self.db.query(
            f"WITH picked AS (SELECT id FROM outbox WHERE status = %s AND notifier = %s "
            f"AND NOT (id = ANY(%s)) AND (claimed_by IS NULL OR claimed_by = %s "
            f"OR claimed_until < {DB_NOW}) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"UPDATE outbox SET claimed_by = %s, claimed_until = {DB_NOW} + %s "
            f"FROM picked WHERE outbox.id = picked.id RETURNING "
            + ", ".join(f"outbox.{c.strip()}" for c in COLUMNS.split(",")),
            (PENDING, notifier, list(exclude), self.replica, limit, self.replica,
             self.claim_ttl),
        )  # fmt: skip
        rows = sorted(self._readable(raw), key=lambda r: r.id)
        keep = rows
        if rows and rows[0].solo:
            keep = rows[:1]
        else:
            for i, row in enumerate(rows):
                if row.solo:
                    keep = rows[:i]
                    break
        self._unclaim([r.id for r in rows[len(keep) :]])
        return keep

    def _readable(self, raw: list[tuple[object, ...]]) -> list[OutboxRow]:
        """Parse rows; one that can never be read is dead-lettered, so it never blocks a queue."""
        rows = []
        for item in raw:
            try:
                rows.append(outbox_row(item))
            except StateError as exc:
                self.mark_dead([int(str(item[0]))], str(exc), float(str(item[7])))
        return rows

    def _unclaim(self, ids: Sequence[int]) -> None:
        if ids:
            self.db.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ANY(%s) AND claimed_by = %s",
                (list(ids), self.replica),
            )

    def release(self) -> int:
        """Hand back every claim of this replica (a clean stop): others send them at once."""
        return self.db.execute(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL "
            "WHERE claimed_by = %s AND status = %s",
            (self.replica, PENDING),
        )

    def head_next_attempt(self, notifier: str) -> float:
        """When the oldest pending row of a notifier may be tried (0 when none)."""
        raw = self.db.query(
            "SELECT next_attempt_at FROM outbox WHERE status = %s AND notifier = %s "
            "ORDER BY id LIMIT 1",
            (PENDING, notifier),
        )
        return float(raw[0][0]) if raw else 0.0

    def mark_sent(self, ids: Sequence[int], now: float) -> None:
        """The notifier acknowledged these rows: never send them again."""
        self.db.execute(
            "UPDATE outbox SET status = %s, attempts = attempts + 1, updated_at = %s, "
            "last_error = '', claimed_by = NULL, claimed_until = NULL WHERE id = ANY(%s)",
            (SENT, now, list(ids)),
        )

    def mark_retry(self, ids: Sequence[int], next_at: float, error: str, now: float) -> None:
        """A failed attempt: count it and schedule the next one (the claim is kept)."""
        self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = %s, last_error = %s, "
            "updated_at = %s WHERE id = ANY(%s)",
            (next_at, mask(error), now, list(ids)),
        )

    def mark_dead(self, ids: Sequence[int], error: str, now: float) -> None:
        """Give up on these rows (kept for `alertbot outbox list --dead`)."""
        self.db.execute(
            "UPDATE outbox SET status = %s, attempts = attempts + 1, last_error = %s, "
            "updated_at = %s, claimed_by = NULL, claimed_until = NULL WHERE id = ANY(%s)",
            (DEAD, mask(error), now, list(ids)),
        )

    def mark_solo(self, ids: Sequence[int], error: str, now: float) -> None:
        """A batch was refused as a whole: send each of its rows alone to find the bad one."""
        self.db.execute(
            "UPDATE outbox SET solo = TRUE, last_error = %s, updated_at = %s, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ANY(%s)",
            (mask(error), now, list(ids)),
        )

    def requeue(self, row_id: int, now: float) -> OutboxRow:
        """Put a dead letter back in the queue with a fresh attempt count."""
        row = self.get(row_id)
        if row is None:
            raise StateError(f"no outbox row {row_id} in {self.db.where}")
        if row.status != DEAD:
            raise StateError(f"outbox row {row_id} is {row.status}, only dead rows can be retried")
        self.db.execute(
            "UPDATE outbox SET status = %s, attempts = 0, next_attempt_at = %s, updated_at = %s "
            "WHERE id = %s",
            (PENDING, now, now, row_id),
        )
        return row

    def get(self, row_id: int) -> OutboxRow | None:
        """One row by id."""
        raw = self.db.query(f"SELECT {COLUMNS} FROM outbox WHERE id = %s", (row_id,))
        return outbox_row(raw[0]) if raw else None

    def listing(self, statuses: Sequence[str], limit: int = 100) -> list[OutboxRow]:
        """Rows with these statuses, oldest first (for the CLI)."""
        raw = self.db.query(
            f"SELECT {COLUMNS} FROM outbox WHERE status = ANY(%s) ORDER BY id LIMIT %s",
            (list(statuses), limit),
        )
        return [listed_row(r) for r in raw]

    def depth(self) -> dict[str, tuple[int, float]]:
        """Per notifier: pending rows and the oldest pending row's created_at."""
        raw = self.db.query(
            "SELECT notifier, COUNT(*), MIN(created_at) FROM outbox WHERE status = %s "
            "GROUP BY notifier",
            (PENDING,),
        )
        return {str(n): (int(c), float(t)) for n, c, t in raw}

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        raw = self.db.query("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {str(status): int(count) for status, count in raw}

    def told(self, since: float, until: float) -> dict[tuple[str, str], int]:
        """Notifications written in [since, until) by any replica, per (rule, status)."""
        sql = TOLD_SQL.replace("?", "%s")
        return told_counts(self.db.query(sql, (since, until)))

    def purge(self, before: float) -> int:
        """Forget sent and dead rows last touched before `before` (pending rows are kept)."""
        return self.db.execute(
            "DELETE FROM outbox WHERE status != %s AND updated_at < %s", (PENDING, before)
        )
