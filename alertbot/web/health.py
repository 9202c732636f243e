"""/healthz: is this process still doing its job? Pure: a snapshot and a limit in, verdict out.

Rules, with `limit` = `http.unhealthy_after` (default 2m); ages compare with `>`:

* unhealthy (503) when any connection has been down longer than `limit`;
* unhealthy (503) when any connection is up but has received nothing for longer than `limit`
  (silence is measured from its last message, or from when it came up if none arrived since);
* unhealthy (503) when the oldest pending outbox row has waited longer than `limit`
  (delivery is stuck: a notifier is down or rate-limited far behind);
* unhealthy (503) at once while the state database cannot be written (a full disk, a lost
  PostgreSQL): what is accepted then lives in memory only, until the write succeeds; and while
  that memory (`state.buffer`) is full, the replica takes no events (it says so);
* unhealthy (503) in a cluster when this replica's leases lapsed: the lease store was
  unreachable longer than `cluster.lease_ttl`, so it alerts for no account now (another
  replica took them over);
* degraded (200) when any connection is down within `limit`, when the REST polling fallback is
  on, when no connection exists yet (starting), or in a cluster while the lease store is
  unreachable but the leases still hold;
* ok (200) otherwise.
"""

from __future__ import annotations

from typing import Any

from alertbot.cluster.coordinator import ClusterView
from alertbot.web.snapshot import ConnInfo, Snapshot

OK, DEGRADED, UNHEALTHY = "ok", "degraded", "unhealthy"


def health(snapshot: Snapshot, unhealthy_after: float) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for /healthz (503 only when a limit is exceeded)."""
    unhealthy, degraded = _judge(snapshot, unhealthy_after)
    status = UNHEALTHY if unhealthy else DEGRADED if degraded else OK
    body: dict[str, Any] = {
        "status": status,
        "reasons": unhealthy + degraded,
        "version": snapshot.version,
        "uptime": _seconds(snapshot.now - snapshot.started_at),
        "unhealthy_after": unhealthy_after,
        "connections": [_connection(c, snapshot.now) for c in snapshot.connections],
        "polling": snapshot.polling,
        "outbox": {"depth": snapshot.outbox_depth, "oldest_age": _age(snapshot.outbox_oldest_age)},
        "reconnects": snapshot.reconnects,
        "gaps": snapshot.gaps,
        "skipped_frames": snapshot.problems,
    }
    if snapshot.cluster is not None:
        body["cluster"] = _cluster(snapshot.cluster)
    return (503 if unhealthy else 200), body


def _judge(snapshot: Snapshot, limit: float) -> tuple[list[str], list[str]]:
    """(reasons to be unhealthy, reasons to be degraded), each in words for the operator."""
    unhealthy: list[str] = []
    degraded: list[str] = []
    for conn in snapshot.connections:
        down_for, silent_for = _down_for(conn, snapshot.now), _silent_for(conn, snapshot.now)
        if down_for is not None:
            reason = f"connection {conn.conn} down for {down_for:.0f}s"
            (unhealthy if down_for > limit else degraded).append(reason)
        elif silent_for > limit:
            unhealthy.append(f"connection {conn.conn} silent for {silent_for:.0f}s")
    oldest = snapshot.outbox_oldest_age
    if oldest is not None and oldest > limit:
        unhealthy.append(f"outbox: oldest pending notification waiting for {oldest:.0f}s")
    if snapshot.unwritable:
        unhealthy.append(
            f"state database cannot be written ({snapshot.unwritable}): "
            f"{snapshot.unsaved} notification(s) held in memory"
        )
    if snapshot.paused:
        unhealthy.append(
            "taking no events: the buffer of held notifications (state.buffer) is full"
        )
    if snapshot.cluster is not None:
        _judge_cluster(snapshot, snapshot.cluster, unhealthy, degraded)
    if snapshot.polling:
        degraded.append("REST polling fallback active")
    if not snapshot.connections:
        degraded.append("no connection yet")
    return unhealthy, degraded


def _judge_cluster(
    snapshot: Snapshot, view: ClusterView, unhealthy: list[str], degraded: list[str]
) -> None:
    """Does this replica hold its leases? Lapsed: unhealthy; at risk: degraded."""
    since = view.last_round_age
    if since is None:
        waited = snapshot.now - snapshot.started_at
        reason = f"lease store not reached yet ({waited:.0f}s)"
        (unhealthy if waited > view.lease_ttl else degraded).append(reason)
    elif since > view.lease_ttl:
        unhealthy.append(f"leases lapsed: lease store unreachable for {since:.0f}s")
    elif not view.store_ok:
        degraded.append(f"lease store unreachable for {since:.0f}s: leases lapse at their fence")


def _cluster(view: ClusterView) -> dict[str, Any]:
    """This replica's part of the cluster in the JSON body."""
    return {
        "replica": view.replica,
        "holds_leases": view.last_round_age is not None and view.last_round_age <= view.lease_ttl,
        "shards_held": sorted(view.held),
        "shards": view.shards,
        "leader": view.leader,
        "lease_store": "ok" if view.store_ok else "unreachable",
        "last_round_age": _age(view.last_round_age),
        "valid_for": _age(min(view.held.values(), default=0.0)) if view.held else None,
    }


def _down_for(conn: ConnInfo, now: float) -> float | None:
    """Seconds down, or None while up."""
    return None if conn.up else max(0.0, now - conn.since)


def _silent_for(conn: ConnInfo, now: float) -> float:
    """Seconds since the last message on this connection's current session."""
    last = conn.since if conn.last_message_at is None else max(conn.last_message_at, conn.since)
    return max(0.0, now - last)


def _connection(conn: ConnInfo, now: float) -> dict[str, Any]:
    """One connection in the JSON body."""
    last = None if conn.last_message_at is None else now - conn.last_message_at
    return {
        "conn": conn.conn,
        "state": "up" if conn.up else "down",
        "for": _seconds(now - conn.since),
        "last_message_age": _age(last),
        "attempts": conn.attempts,
    }


def _seconds(value: float) -> float:
    """Non-negative, millisecond precision: enough for people, stable for diffs."""
    return round(max(0.0, value), 3)


def _age(value: float | None) -> float | None:
    return None if value is None else _seconds(value)
