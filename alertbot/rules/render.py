"""From alerts to notifications: the template context, the rule's own words, grouping.

The engine decides and renders only what the user wrote (title and message templates); how a
resolve, a reminder or a flap reads in a chat or a mail is notify's wording (notify/render.py).
"""

from __future__ import annotations

from typing import Any

from alertbot.core.durations import format_duration
from alertbot.core.model import RESOLVED, AlertSummary, Notification, iso_utc
from alertbot.rules.lifecycle import Alert
from alertbot.rules.runtime import RuleRuntime, fingerprint


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
    """Render the rule's title and message once; the facts go alongside, never into the text."""
    ctx = context(rt, alert, status, now, repeat)
    extra = {k: v for k, v in rt.context(alert, now).items() if _plain(v)}
    return AlertSummary(
        labels=alert.labels,
        status=status,
        title=rt.title.render(ctx),
        message=rt.message.render(ctx),
        starts_at=alert.starts_at,
        event=alert.event.to_json_dict(),
        ends_at=alert.ends_at if status == RESOLVED else None,
        repeat=repeat,
        flapping=alert.flapping and status != RESOLVED,
        values=extra,
        fingerprint=alert.fingerprint,
    )


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


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
        title=first.title,
        message=first.message,
        at=now,
        notify=rt.settings.notify,
        fingerprint=fingerprint(rt.name, common, f"group:{status}")
        if grouped
        else alerts[0].fingerprint,
        starts_at=min(a.starts_at for a in alerts),
        ends_at=max(ends) if ends else None,
        event=first.event,
        alerts=tuple(summaries) if grouped else (),
        repeat=all(s.repeat for s in summaries),
        flapping=first.flapping and not grouped,
        values=first.values if not grouped else {},
    )


def _common_labels(label_sets: list[dict[str, str]]) -> dict[str, str]:
    first = label_sets[0]
    return {k: v for k, v in first.items() if all(ls.get(k) == v for ls in label_sets[1:])}
