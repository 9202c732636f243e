"""What /healthz and /metrics read: one consistent, plain-data picture of the running app.

The app builds a `Snapshot` only when a request arrives (`App.snapshot()`), from counters the
source, engine and delivery keep anyway, so serving metrics costs nothing on the hot path.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alertbot.cluster.coordinator import ClusterView
    from alertbot.source.connstate import ConnState

# Frame-to-notification seconds: a webhook is typically tens of ms, retries push it to minutes.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConnInfo:
    """One Indexer WebSocket connection, as health and metrics see it."""

    conn: int  # the connection index (stable across reconnects)
    up: bool
    since: float  # when it came up (up) or went down (down): the start of its current state
    last_message_at: float | None  # None: nothing received yet
    attempts: int  # failed connection attempts since it went down

    @classmethod
    def from_state(cls, state: ConnState) -> ConnInfo:
        """Map the feed's per-connection state (0.0 there means "never")."""
        return cls(
            conn=state.index,
            up=state.up,
            since=state.connected_at if state.up else state.down_since,
            last_message_at=state.last_message_at or None,
            attempts=state.attempts,
        )


@dataclass(frozen=True, slots=True)
class Latency:
    """A cumulative histogram, as Prometheus wants it: counts only grow, scrapes lose nothing.

    Chosen over "latencies since the last snapshot" because two scrapers (or a scrape and a
    /healthz probe) would each steal the other's observations.
    """

    bounds: tuple[float, ...]  # bucket upper bounds, ascending (+Inf is implicit)
    cumulative: tuple[int, ...]  # observations <= each bound (same length as bounds)
    count: int  # every observation (the +Inf bucket)
    sum: float  # seconds, summed

    @classmethod
    def empty(cls, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> Latency:
        """No observations yet."""
        return cls(bounds, (0,) * len(bounds), 0, 0.0)


class LatencyRecorder:
    """Where the app records frame-to-notification latency: a bisect and two additions each."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError("latency bucket bounds must be ascending and distinct")
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)  # per bucket, the last one is +Inf
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        """Record one notification's latency."""
        self._counts[bisect_left(self.bounds, seconds)] += 1
        self._sum += seconds

    def snapshot(self) -> Latency:
        """The histogram so far, cumulative."""
        cumulative: list[int] = []
        running = 0
        for count in self._counts[:-1]:
            running += count
            cumulative.append(running)
        return Latency(self.bounds, tuple(cumulative), running + self._counts[-1], self._sum)


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Everything /healthz and /metrics show, taken at request time; counters are cumulative."""

    now: float  # wall clock when taken (health ages are measured against it)
    started_at: float  # when `alertbot run` started
    version: str
    connections: list[ConnInfo]
    polling: bool  # the REST polling fallback is active
    messages: dict[str, int]  # WebSocket messages received, by channel
    events: dict[str, int]  # events produced, by kind
    alerts: dict[tuple[str, str], int]  # (rule, status) -> notifications emitted
    deliveries: dict[tuple[str, str], int]  # (notifier, sent|failed|dead) -> count
    outbox_depth: int  # notifications pending delivery
    outbox_oldest_age: float | None  # seconds the oldest pending one has waited; None: empty
    reconnects: int  # connections re-established after a loss
    gaps: int  # message-id gaps detected
    latency: Latency  # frame-to-notification seconds
    problems: int  # frames and items skipped as malformed
    job_failures: int = 0  # scheduled job runs that raised (they run again on schedule)
    rule_failures: dict[tuple[str, str], int] = field(default_factory=dict)  # (rule, reason)
    rules_disabled: int = 0  # rules switched off for going over their evaluation budget
    problem_reasons: int = 0  # distinct bad-frame reasons kept (bounded by MAX_REASONS)
    unsaved: int = 0  # notifications held in memory: the state database cannot be written
    tracked: dict[str, int] = field(default_factory=dict)  # entries of maps keyed by server data
    unwritable: str = ""  # why the state database cannot be written ("": it can)
    paused: bool = False  # the held notifications fill state.buffer: no events are taken
    cluster: ClusterView | None = None  # this replica's leases (with a `cluster:` section)
