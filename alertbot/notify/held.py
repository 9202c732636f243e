"""Outbox rows held in memory while the state database cannot take them (a full disk).

They are sent at once like stored rows, so a full disk does not delay an alert; what became of
each (sent, dead) is written with it once space returns, so nothing is sent twice by this
process. A row written while its send is in flight is "promoted": the send's outcome is then
recorded on the stored row. Memory rows have negative ids; stored rows positive ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from alertbot.core.model import Notification
from alertbot.state.api import PENDING, OutboxRow

Key = tuple[int, str]  # (id of the held Notification object, notifier)


@dataclass
class Held:
    """Every lane's memory rows, and what became of those already settled."""

    rows: dict[str, dict[int, OutboxRow]] = field(default_factory=dict)
    settled: dict[Key, tuple[str, str]] = field(default_factory=dict)  # status, error
    in_flight: set[int] = field(default_factory=set)
    promoted: dict[int, int] = field(default_factory=dict)  # memory id -> stored id
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(-1, -1))
    _by_key: dict[Key, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def hold(self, pairs: Iterable[tuple[Notification, str]], now: float) -> set[str]:
        """Make a memory row for each new (note, notifier); return the notifiers to wake."""
        woken = set()
        for note, name in pairs:
            key = (id(note), name)
            if key in self._by_key or key in self.settled:
                continue
            row_id = next(self._ids)
            row = OutboxRow(row_id, name, PENDING, 0, now, "", now, now, False, False, note)
            self.rows.setdefault(name, {})[row_id] = row
            self._by_key[key] = row_id
            woken.add(name)
        return woken

    def due(self, notifier: str, limit: int) -> list[OutboxRow]:
        """The memory rows of a notifier, oldest first (a solo one alone); the lane paces them."""
        rows = self.rows.get(notifier)
        if not rows or limit <= 0:
            return []
        due = list(itertools.islice(rows.values(), limit))
        return due[:1] if due[0].solo else due

    def sending(self, rows: Sequence[OutboxRow]) -> None:
        """These rows are about to be sent (a write meanwhile promotes them)."""
        self.in_flight.update(r.id for r in rows if r.id < 0)

    def outcome(
        self,
        notifier: str,
        rows: Sequence[OutboxRow],
        status: str,
        error: str = "",
        *,
        solo: bool = False,
    ) -> list[OutboxRow]:
        """Record a send's outcome on the memory rows; return the rows to record in the store.

        Stored rows come back as they are, promoted memory rows with their stored id.
        """
        stored: list[OutboxRow] = []
        lane = self.rows.get(notifier, {})
        for row in rows:
            if row.id > 0:
                stored.append(row)
            elif row.id in self.promoted:
                stored.append(replace(row, id=self.promoted.pop(row.id)))
            elif status == PENDING:
                lane[row.id] = replace(row, attempts=row.attempts + 1, solo=row.solo or solo)
            else:
                lane.pop(row.id, None)
                key = (id(row.note), notifier)
                self._by_key.pop(key, None)
                self.settled[key] = (status, error)
        self.in_flight.difference_update(row.id for row in rows)
        return stored

    def status_of(self, note: Notification, notifier: str) -> tuple[str, str] | None:
        """What to write for a held pair: (SENT or DEAD, error) once settled, else None."""
        return self.settled.get((id(note), notifier))

    def written(self, stored: dict[Key, int]) -> None:
        """Everything held was written (`stored`: the new ids of the pairs still pending)."""
        for key, row_id in self._by_key.items():
            if row_id in self.in_flight and key in stored:
                self.promoted[row_id] = stored[key]
        self.rows.clear()
        self._by_key.clear()
        self.settled.clear()
