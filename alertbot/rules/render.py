"""Turning alerts into the words of a notification: template context, resolve marks, groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alertbot.durations import format_duration
from alertbot.events import iso_utc
from alertbot.rules.lifecycle import Alert
from alertbot.rules.runtime import RuleRuntime, fingerprint

MAX_LISTED = 20  # members listed in a grouped message; the rest are counted


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """One member of a grouped notification."""

    labels: dict[str, str]
    status: str
    title: str
    message: str
    starts_at: float
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to send: what the notifiers receive (grouped alerts listed in `alerts`)."""

    rule: str
    status: str  # "firing" | "resolved"
    severity: str
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


def context(rt: RuleRuntime, alert: Alert, status: str, now: float, repeat: bool) -> dict[str, Any]:
    """Template variables: the event's fields, plus kind/at/conn/rule, plus `alert.*`."""
    event = alert.event
    ctx: dict[str, Any] = dict(event.data)
    ctx.setdefault("kind", event.kind)
    ctx.setdefault("at", iso_utc(event.at))
    ctx.setdefault("conn", event.conn)
    ctx.setdefault("rule", rt.name)
    ctx["alert"] = {
        "rule": rt.name,
        "status": status,
        "severity": rt.settings.severity,
        "labels": alert.labels,
        "label_text": "/".join(v for v in alert.labels.values() if v),
        "fingerprint": alert.fingerprint,
        "starts_at": iso_utc(alert.starts_at),
        "duration": format_duration(max(0.0, (alert.ends_at or now) - alert.starts_at)),
        "flapping": alert.flapping,
        "repeat": repeat,
        "summary": rt.summary,
        **rt.context(alert, now),
    }
    return ctx


def summarize(rt: RuleRuntime, alert: Alert, status: str, now: float, repeat: bool) -> AlertSummary:
    """Render title and message; mark resolves, reminders and flapping in the text."""
    ctx = context(rt, alert, status, now, repeat)
    title, message = rt.title.render(ctx), rt.message.render(ctx)
    if status == "resolved":
        title = f"[RESOLVED] {title}"
        message = f"[RESOLVED after {ctx['alert']['duration']}] {message}"
    elif repeat:
        message = f"{message}\n(still firing since {ctx['alert']['starts_at']})"
    if alert.flapping and status != "resolved":
        message = f"{message}\n(flapping: held as firing until stable)"
    return AlertSummary(
        alert.labels, status, title, message, alert.starts_at, alert.event.to_json_dict()
    )


def notification(
    rt: RuleRuntime, status: str, alerts: list[Alert], summaries: list[AlertSummary], now: float
) -> Notification:
    """One notification for one alert, or one listing every member of a group."""
    first, count = summaries[0], len(summaries)
    ends = [a.ends_at for a in alerts if a.ends_at is not None] if status == "resolved" else []
    common = _common_labels([a.labels for a in alerts])
    grouped = count > 1
    return Notification(
        rule=rt.name,
        status=status,
        severity=rt.settings.severity,
        labels=common if grouped else dict(first.labels),
        title=f"{first.title} (+{count - 1} more)" if grouped else first.title,
        message=_listing(summaries) if grouped else first.message,
        at=now,
        notify=rt.settings.notify,
        fingerprint=fingerprint(rt.name, common, f"group:{status}")
        if grouped
        else alerts[0].fingerprint,
        starts_at=min(a.starts_at for a in alerts),
        ends_at=max(ends) if ends else None,
        event=first.event,
        alerts=tuple(summaries) if grouped else (),
    )


def _common_labels(label_sets: list[dict[str, str]]) -> dict[str, str]:
    first = label_sets[0]
    return {k: v for k, v in first.items() if all(ls.get(k) == v for ls in label_sets[1:])}


def _listing(summaries: list[AlertSummary]) -> str:
    lines = [f"{len(summaries)} alerts:"]
    lines += [f"- {s.title}: {s.message}" for s in summaries[:MAX_LISTED]]
    if len(summaries) > MAX_LISTED:
        lines.append(f"... and {len(summaries) - MAX_LISTED} more")
    return "\n".join(lines)


def notice(
    rule: str,
    severity: str,
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
        fingerprint=f"{rule}:{now}",
        starts_at=now,
        ends_at=None,
        event={},
    )
