"""What crosses parts: the event, the alert notification and severity (one neutral module).

Data flows one way: the source makes `Event`s, the rule engine decides which alerts change and
groups them into `Notification`s (the user's own title and message, rendered once from the
rule's templates), and notify words them for each service. Nothing here knows any service's
markup: a resolve is `status == "resolved"`, a reminder is `repeat=True`, never a text prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Severity = Literal["info", "warning", "error", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error", "critical")  # low to high
FIRING, RESOLVED = "firing", "resolved"


def iso_utc(ts: float) -> str:
    """ISO-8601 UTC with milliseconds and a Z suffix, as the Indexer writes times."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(slots=True)
class Event:
    """One normalized happening: what rules match. Treat as immutable once emitted.

    `at` is the time the source observed it (unix seconds; the recording's clock in replay).
    `data` holds the kind's fields; numbers are int/float, never numeric strings.
    `conn` is the Indexer connection it came from (-1 for REST or the source itself), which
    lets a dead feed inhibit the alerts computed from it.
    """

    kind: str
    at: float
    data: dict[str, Any]
    conn: int = -1

    def to_json_dict(self) -> dict[str, Any]:
        """The `tail --json` shape: kind, ISO-8601 UTC time, then the fields at top level."""
        out: dict[str, Any] = {"kind": self.kind, "at": iso_utc(self.at)}
        out.update(self.data)
        return out


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An engine decision: an alert identity started pending, fired or resolved (or went quiet).

    The engine records one per lifecycle transition, told or not (a silenced alert still fires);
    state keeps them as alert history, and the status pages show them.
    """

    rule: str
    fingerprint: str
    state: str  # "pending" | "firing" | "resolved" | "inactive" (pending that never fired)
    severity: Severity
    labels: dict[str, str]
    at: float  # engine time of the transition
    starts_at: float  # pending since (pending), firing since (firing, resolved)


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """One alert as told: the rule's own title and message, rendered once, plus its facts."""

    labels: dict[str, str]
    status: str  # "firing" | "resolved"
    title: str
    message: str
    starts_at: float
    event: dict[str, Any]
    ends_at: float | None = None
    repeat: bool = False  # a reminder of an alert already told (`repeat:`)
    flapping: bool = False  # held as firing until it is stable
    values: dict[str, Any] = field(default_factory=dict)  # the condition's own (count, change...)
    fingerprint: str = ""  # the alert identity's (an ack of it covers it in a group's reminder)


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to send: what the notifiers receive (grouped alerts listed in `alerts`).

    `title` and `message` are exactly what the rule's templates rendered; how a resolve, a
    reminder or a flapping alert is marked is the notifier's wording, from the fields below.
    """

    rule: str
    status: str  # "firing" | "resolved"
    severity: Severity
    labels: dict[str, str]
    title: str
    message: str
    at: float  # engine time when emitted
    notify: tuple[str, ...]  # notifier names
    fingerprint: str  # stable id of the alert identity (rule + labels)
    starts_at: float
    ends_at: float | None
    event: dict[str, Any]  # the triggering event's Event.to_json_dict()
    alerts: tuple[AlertSummary, ...] = ()  # when grouped: each member
    repeat: bool = False  # a reminder (every member is one)
    flapping: bool = False  # held as firing until stable (a single alert only)
    values: dict[str, Any] = field(default_factory=dict)  # the condition's values (single alert)


def notice(
    rule: str,
    severity: Severity,
    title: str,
    message: str,
    notify: tuple[str, ...],
    now: float,
    labels: dict[str, str] | None = None,
) -> Notification:
    """A notification alertbot sends about itself (digest, refused reload): no rule, no event."""
    return Notification(
        rule=rule,
        status="firing",
        severity=severity,
        labels=labels or {},
        title=title,
        message=message,
        at=now,
        notify=notify,
        fingerprint=f"{rule}:{now}",  # each notice is its own
        starts_at=now,
        ends_at=None,
        event={},
    )
