"""What rules/ and notify/ may know of persistence: small records and the parts of one store.

A backend (SQLite, `alertbot.state.sqlite`; PostgreSQL, `alertbot.state.postgres`) implements
`StateStore`; nothing above state/ imports a backend's module except the factory
`alertbot.state.open_state`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from alertbot.core.model import AlertChange, Notification

PENDING, SENT, DEAD = "pending", "sent", "dead"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One (notification, notifier) pair and its delivery state."""

    id: int
    notifier: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str
    created_at: float
    updated_at: float
    solo: bool  # a batch containing it was refused: send it alone
    fallback: bool  # a dead-letter report to the fallback notifier (never reported again)
    note: Notification


@dataclass(frozen=True, slots=True)
class RuleStateChange:
    """The state of one identity of one rule as it is now; `value` None means forget it.

    `key` is the identity as JSON text (rules define it); `value` is JSON-able. A row is
    restored only while the rule's `digest` (its definition) is unchanged. `scope` (not
    derived from the rule and key; PostgreSQL stores it for `load_scopes`) says whose it is in
    a cluster, so a replica past its fence writes none of an account it lost and a new owner
    reads only the rows of what it gained (`alertbot.core.scope`). `only_new`: written only
    where the identity has no row (a told occurrence recorded past the fence: it may inform the
    next owner, never overwrite what that owner wrote).
    """

    rule: str
    digest: str
    key: str
    value: dict[str, Any] | None
    scope: str = field(default="", compare=False)
    only_new: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class StateChanges:
    """What the engine changed since it was last drained: rule state and alert history."""

    rules: tuple[RuleStateChange, ...] = ()
    history: tuple[AlertChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.rules or self.history)

    def then(self, later: StateChanges) -> StateChanges:
        """Both, in order (a later change of the same identity wins when applied)."""
        return StateChanges((*self.rules, *later.rules), (*self.history, *later.history))


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    """A stored silence (the matcher is `alertbot.rules.silences.Silence`)."""

    id: str
    rule: str
    labels: dict[str, str] = field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float = 0.0
    comment: str = ""
    created_by: str = ""


@dataclass(frozen=True, slots=True)
class AckRecord:
    """A firing alert someone acknowledged: its repeats stop until it resolves or escalates."""

    fingerprint: str
    rule: str
    severity: str  # the severity acknowledged (another severity ends the ack)
    at: float
    by: str = ""


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of a stored series (the dashboard's equity history)."""

    series: str
    at: float
    value: float


class Outbox(Protocol):
    """The durable delivery queue: one row per (notification, notifier)."""

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
        """Write one pair; return its id."""
        ...

    def due(self, notifier: str, limit: int, exclude: Iterable[int] = ()) -> list[OutboxRow]:
        """The oldest pending rows of a notifier, in order; a solo row is sent alone."""
        ...

    def head_next_attempt(self, notifier: str) -> float:
        """When the oldest pending row of a notifier may be tried (0 when none)."""
        ...

    def mark_sent(self, ids: Sequence[int], now: float) -> None:
        """The notifier acknowledged these rows."""
        ...

    def mark_retry(self, ids: Sequence[int], next_at: float, error: str, now: float) -> None:
        """A failed attempt: count it and schedule the next one."""
        ...

    def mark_dead(self, ids: Sequence[int], error: str, now: float) -> None:
        """Give up on these rows."""
        ...

    def mark_solo(self, ids: Sequence[int], error: str, now: float) -> None:
        """Send each of these rows alone from now on."""
        ...

    def requeue(self, row_id: int, now: float) -> OutboxRow:
        """Put a dead letter back in the queue."""
        ...

    def get(self, row_id: int) -> OutboxRow | None:
        """One row by id."""
        ...

    def listing(self, statuses: Sequence[str], limit: int = 100) -> list[OutboxRow]:
        """Rows with these statuses, oldest first."""
        ...

    def depth(self) -> dict[str, tuple[int, float]]:
        """Per notifier: pending rows and the oldest pending row's created_at."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        ...

    def told(self, since: float, until: float) -> dict[tuple[str, str], int]:
        """Notifications written in [since, until), per (rule, status); one per note, not row."""
        ...

    def purge(self, before: float) -> int:
        """Forget sent and dead rows last touched before `before`."""
        ...


class RuleStates(Protocol):
    """Per-identity rule state, written incrementally."""

    def apply(self, changes: Sequence[RuleStateChange], now: float) -> int:
        """Upsert or forget each identity, in order; return the rows written or deleted."""
        ...

    def load(self) -> list[RuleStateChange]:
        """Every saved identity."""
        ...

    def load_scopes(
        self, scopes: Collection[str], addresses: Collection[str]
    ) -> list[RuleStateChange]:
        """At least the identities of these scopes and of any subaccount of these addresses
        (a parent's children), read by an index where the backend has one; the caller keeps
        what it wants (rows saved before scopes were, and SQLite's, come unfiltered)."""
        ...


class Silences(Protocol):
    """Silences, shared with `alertbot silence` in other processes."""

    def all(self) -> list[SilenceRecord]:
        """Every stored silence."""
        ...

    def put(self, silence: SilenceRecord, now: float) -> None:
        """Insert or replace one silence."""
        ...

    def purge(self, before: float) -> int:
        """Forget silences that ended before `before`."""
        ...

    def version(self) -> int:
        """Grows with every write from any process: a cheap "changed since" check."""
        ...


class Cursors(Protocol):
    """Named JSON values a source resumes from (catch-up after a restart)."""

    def get(self, name: str) -> Any:
        """The saved value, or None."""
        ...

    def put(self, name: str, value: Any, now: float) -> None:
        """Replace the saved value."""
        ...


class History(Protocol):
    """Alert lifecycle transitions, for the dashboard."""

    def append(self, changes: Sequence[AlertChange]) -> None:
        """Record transitions."""
        ...

    def recent(self, limit: int = 100) -> list[AlertChange]:
        """The newest transitions, newest first."""
        ...

    def purge(self, before: float) -> int:
        """Forget transitions older than `before`."""
        ...


class SharedRateLimits(Protocol):
    """Token buckets every process of a shared backend spends from (one per notifier)."""

    def take(self, notifier: str, messages: int, per: float) -> float:
        """Spend one token and return 0, or return the seconds until one is there."""
        ...


class Acks(Protocol):
    """Acknowledged alerts, by fingerprint (one ack per alert identity)."""

    def all(self) -> list[AckRecord]:
        """Every stored ack."""
        ...

    def put(self, ack: AckRecord) -> None:
        """Insert or replace the ack of one identity."""
        ...

    def drop(self, fingerprint: str) -> bool:
        """Forget the ack of one identity; True when there was one."""
        ...


class Samples(Protocol):
    """Downsampled numeric series with bounded retention (the caller decides both)."""

    def add(self, samples: Sequence[Sample]) -> None:
        """Append points (a point at the same series and time replaces the older)."""
        ...

    def since(self, after: float) -> list[Sample]:
        """Every point at or after `after`, by series then time."""
        ...

    def purge(self, before: float) -> int:
        """Forget points older than `before`."""
        ...


class StateStore(Protocol):
    """Everything alertbot persists, with one transaction spanning the parts."""

    @property
    def path(self) -> Path | str:
        """Where the state lives (for messages; a dsn is masked)."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The delivery queue."""
        ...

    @property
    def rules(self) -> RuleStates:
        """Per-identity rule state."""
        ...

    @property
    def silences(self) -> Silences:
        """Silences."""
        ...

    @property
    def cursors(self) -> Cursors:
        """Source cursors."""
        ...

    @property
    def history(self) -> History:
        """Alert history."""
        ...

    @property
    def rate_limits(self) -> SharedRateLimits | None:
        """Rate limits shared between processes; None when one process owns the store."""
        ...

    @property
    def acks(self) -> Acks:
        """Acknowledged alerts."""
        ...

    @property
    def samples(self) -> Samples:
        """Stored series (equity history)."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """Writes inside commit together; nested uses join the outer one."""
        ...

    def save(self, changes: StateChanges, now: float) -> None:
        """Rule state and history of one drain, in one transaction (joins an outer one)."""
        ...

    def intact(self) -> str | None:
        """None while the store is the one opened; else what happened to it, in words."""
        ...

    def close(self) -> None:
        """Release the backend (the last step of shutdown)."""
        ...
