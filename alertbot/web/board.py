"""What the dashboard shows, as one JSON-able dict built from the running parts.

Built only when a page is connected and something changed (`Hub`), at most a few times a
second, from state the parts keep anyway: the engine's hot path pays one `Event.set()` per batch
and, with the dashboard on, a look at each batch for fills. Equity is also sampled into the
state store (one point per series every SAMPLE_EVERY seconds, kept for `http.equity_history`)
so the chart survives a restart.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from alertbot.core.model import Event
from alertbot.notify.acks import AckBook
from alertbot.notify.delivery import Delivery
from alertbot.rules.engine import Engine
from alertbot.rules.silences import SilenceStore
from alertbot.source.client import IndexerSource
from alertbot.source.connstate import ConnState
from alertbot.source.orders import FINAL
from alertbot.state.api import Sample, StateStore

SAMPLE_EVERY = 10.0  # seconds between stored equity points of one account (downsampling)
PURGE_EVERY = 300.0  # seconds between prunes of points older than the history span
KEEP_FILLS = 50  # recent fills kept in memory, across accounts
SHOWN = 30  # rows of history, fills, orders and dead letters per list


@dataclass(frozen=True, slots=True)
class Parts:
    """The running app, as the board reads it (the app hands a fresh one to each build)."""

    now: float
    started_at: float
    version: str
    source: IndexerSource | None
    engine: Engine
    state: StateStore
    delivery: Delivery | None
    silences: SilenceStore
    acks: AckBook
    events: Mapping[str, int]


class Board:
    """Recent fills, equity sampling and the rate of messages: what no part keeps for us."""

    def __init__(self, state: StateStore, history: float) -> None:
        self.state = state
        self.history = history  # seconds of equity points kept
        self.fills: deque[dict[str, Any]] = deque(maxlen=KEEP_FILLS)
        self._sampled: dict[str, float] = {}  # series -> last stored point's time
        self._purged = 0.0
        self._round = 0.0  # when accounts were last sampled
        self._counts: dict[int, tuple[float, int, float]] = {}  # conn -> (at, messages, rate)

    def observe(self, batch: Iterable[Event]) -> None:
        """Keep fills (the only thing shown that no part remembers)."""
        for event in batch:
            if event.kind == "fill":
                self.fills.appendleft({**event.data, "at": event.at})

    def sample(self, accounts: Callable[[], list[dict[str, Any]]], now: float) -> None:
        """Store each account's equity, at most one point per SAMPLE_EVERY; prune old points."""
        if now - self._round < SAMPLE_EVERY:
            return
        self._round = now
        due = []
        for acct in accounts():
            series = f"equity:{acct['address']}/{acct['subaccount']}"
            if now - self._sampled.get(series, 0.0) >= SAMPLE_EVERY:
                self._sampled[series] = now
                due.append(Sample(series, now, float(acct["equity"])))
        self.state.samples.add(due)
        if now - self._purged >= PURGE_EVERY:
            self._purged = now
            self.state.samples.purge(now - self.history)

    def build(self, parts: Parts, *, full: bool) -> dict[str, Any]:
        """The whole visible state; `full` adds the stored equity history (first and resync)."""
        now = parts.now
        accounts = parts.source.normalizer.account_views(now) if parts.source else []
        out: dict[str, Any] = {
            "type": "full" if full else "update",
            "now": now,
            "version": parts.version,
            "started_at": parts.started_at,
            "connections": self._connections(parts),
            "accounts": [self._account(a, parts) for a in accounts],
            "alerts": _alerts(parts),
            "delivery": _delivery(parts),
        }
        if full:
            out["equity"] = self._history(now)
        return out

    def _history(self, now: float) -> dict[str, list[list[float]]]:
        series: dict[str, list[list[float]]] = {}
        for point in self.state.samples.since(now - self.history):
            key = point.series.removeprefix("equity:")
            series.setdefault(key, []).append([point.at, point.value])
        return series

    def _connections(self, parts: Parts) -> list[dict[str, Any]]:
        source = parts.source
        if source is None:
            return []
        polling = source.polling
        return [self._connection(c, polling, parts) for c in source.feed.conns.values()]

    def _connection(self, conn: ConnState, polling: bool, parts: Parts) -> dict[str, Any]:
        now = parts.now
        total = sum(sub.messages for sub in conn.subs.values())
        at, seen, rate = self._counts.get(conn.index, (now, total, 0.0))
        if now - at >= 1.0:  # a rate over at least a second, kept between builds
            rate = (total - seen) / (now - at)
            at, seen = now, total
        self._counts[conn.index] = (at, seen, rate)
        state = "connected" if conn.up else ("rest-fallback" if polling else "reconnecting")
        last = conn.last_message_at
        return {
            "conn": conn.index,
            "state": state,
            "last_message_age": now - last if last else None,
            "rate": rate,
            "messages": total,
            "attempts": conn.attempts,
            "reconnects": parts.events.get("connection.reconnect", 0),
            "gaps": parts.events.get("connection.gap", 0),
        }

    def _account(self, acct: dict[str, Any], parts: Parts) -> dict[str, Any]:
        address, number = acct["address"], acct["subaccount"]
        return {
            "key": f"{address}/{number}",
            "address": address,
            "subaccount": number,
            **{k: acct.get(k) for k in ("equity", "free_collateral", "margin_usage", "leverage")},
            "positions": acct["positions"],
            "orders": _orders(parts, address, number),
            "fills": [
                f for f in self.fills if f["address"] == address and f["subaccount"] == number
            ][:SHOWN],
        }


def _orders(parts: Parts, address: str, number: int) -> list[dict[str, Any]]:
    if parts.source is None:
        return []
    orders = parts.source.normalizer.subs.orders.by_id.values()
    live = [
        o.fields
        for o in orders
        if o.fields["address"] == address
        and o.fields["subaccount"] == number
        and o.fields["status"] not in FINAL
    ]
    keep = ("order_id", "ticker", "side", "type", "size", "price", "trigger_price", "status")
    return [{k: f.get(k) for k in keep} for f in live[:SHOWN]]


def _alerts(parts: Parts) -> dict[str, Any]:
    now = parts.now
    acks = parts.acks.by_fingerprint
    active = []
    for a in parts.engine.active_alerts():
        silence = parts.silences.match(a.rule, a.labels, now)
        active.append(
            {
                "rule": a.rule,
                "state": a.state,
                "labels": a.labels,
                "fingerprint": a.fingerprint,
                "severity": a.severity,
                "since": a.since,
                "flapping": a.flapping,
                "acked": a.fingerprint in acks,
                "silenced_by": silence.id if silence is not None else None,
            }
        )
    history = [
        {"rule": c.rule, "state": c.state, "severity": c.severity, "labels": c.labels, "at": c.at}
        for c in parts.state.history.recent(SHOWN)
    ]
    silences = [
        {
            "id": s.id,
            "rule": s.rule,
            "labels": s.labels,
            "starts_at": s.starts_at,
            "ends_at": s.ends_at,
            "comment": s.comment,
            "created_by": s.created_by,
            "active": s.active(now),
        }
        for s in parts.silences.listing(now)
    ]
    return {"active": active, "history": history, "silences": silences}


def _delivery(parts: Parts) -> dict[str, Any]:
    status = parts.delivery.status() if parts.delivery is not None else {}
    lanes = status.get("notifiers", {})
    notifiers = {
        name: {k: lane.get(k, 0) for k in ("pending", "sent", "failed", "dead")}
        for name, lane in lanes.items()
    }
    dead = [
        {
            "id": row.id,
            "notifier": row.notifier,
            "title": row.note.title,
            "error": row.last_error,
            "at": row.updated_at,
        }
        for row in parts.state.outbox.listing(["dead"], SHOWN)
    ]
    return {"notifiers": notifiers, "dead": dead, "depth": status.get("outbox_depth", 0)}
