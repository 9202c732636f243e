"""/metrics: a custom Prometheus collector that reads a Snapshot at scrape time.

Nothing is incremented per event: the source, engine and delivery keep their own plain counters,
and this module only translates one snapshot into metric families when Prometheus asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from alertbot.web.snapshot import Latency, Snapshot

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the classic text format every Prometheus reads


class SnapshotCollector(Collector):
    """Yields every alertbot_* family from one snapshot per scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        """Called by the registry on each scrape."""
        snap = self._snapshot()
        yield from _counters(snap)
        yield from _outbox(snap)
        yield from _connections(snap)
        yield from _cluster(snap)
        yield _latency(snap.latency)
        yield _gauge(
            "alertbot_build_info", "Always 1; the running version.", 1, version=snap.version
        )
        yield _gauge(
            "alertbot_start_time_seconds", "Unix time the process started.", snap.started_at
        )


def render_metrics(snapshot: Snapshot) -> bytes:
    """The text exposition (format 0.0.4) of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(lambda: snapshot))
    return generate_latest(registry)


def _counters(snap: Snapshot) -> Iterator[Metric]:
    yield _labelled(
        CounterMetricFamily(
            "alertbot_messages", "WebSocket messages received.", labels=["channel"]
        ),
        (((channel,), n) for channel, n in snap.messages.items()),
    )
    yield _labelled(
        CounterMetricFamily("alertbot_events", "Events produced by the source.", labels=["kind"]),
        (((kind,), n) for kind, n in snap.events.items()),
    )
    yield _labelled(
        CounterMetricFamily(
            "alertbot_alerts", "Alert notifications emitted.", labels=["rule", "status"]
        ),
        snap.alerts.items(),
    )
    yield _labelled(
        CounterMetricFamily(
            "alertbot_deliveries",
            "Delivery outcomes: sent notifications, failed attempts, dead notifications.",
            labels=["notifier", "result"],
        ),
        snap.deliveries.items(),
    )
    yield _counter(
        "alertbot_reconnects", "Connections re-established after a loss.", snap.reconnects
    )
    yield _counter("alertbot_gaps", "Message-id gaps detected on the feed.", snap.gaps)
    yield _counter("alertbot_skipped_frames", "Malformed frames and items skipped.", snap.problems)
    yield _counter("alertbot_job_failures", "Scheduled job runs that failed.", snap.job_failures)
    yield _labelled(
        CounterMetricFamily(
            "alertbot_rule_evaluation_failures",
            "Rule evaluations that failed (condition taken as false, or event skipped).",
            labels=["rule", "reason"],
        ),
        snap.rule_failures.items(),
    )
    yield _gauge(
        "alertbot_problem_reasons",
        "Distinct reasons of skipped frames kept in memory (bounded; a flood shares one).",
        snap.problem_reasons,
    )
    yield _labelled(
        GaugeMetricFamily(
            "alertbot_tracked_entries",
            "Entries kept in memory per map keyed by server data (each has a bound).",
            labels=["map"],
        ),
        (((name,), n) for name, n in snap.tracked.items()),
    )
    yield _gauge(
        "alertbot_rules_disabled",
        "Rules switched off for going over their evaluation budget (until reload or restart).",
        snap.rules_disabled,
    )


def _outbox(snap: Snapshot) -> Iterator[Metric]:
    yield _gauge("alertbot_outbox_depth", "Notifications pending delivery.", snap.outbox_depth)
    yield _gauge(
        "alertbot_outbox_oldest_age_seconds",
        "Seconds the oldest pending notification has waited (0 when the outbox is empty).",
        snap.outbox_oldest_age or 0.0,
    )
    yield _gauge("alertbot_polling", "1 while the REST polling fallback is active.", snap.polling)


def _cluster(snap: Snapshot) -> Iterator[Metric]:
    """This replica's leases (with a `cluster:` section only)."""
    view = snap.cluster
    if view is None:
        return
    yield _gauge(
        "alertbot_cluster_shards_held", "Shards whose lease this replica holds.", len(view.held)
    )
    yield _gauge(
        "alertbot_cluster_leader", "1 while this replica holds the leader lease.", view.leader
    )
    yield _gauge(
        "alertbot_cluster_lease_store_up",
        "1 while the last lease round reached the database.",
        view.store_ok,
    )


def _connections(snap: Snapshot) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "alertbot_connection_up", "1 while the connection is up.", labels=["conn"]
    )
    age = GaugeMetricFamily(
        "alertbot_last_message_age_seconds",
        "Seconds since the connection last received a message (absent until one arrives).",
        labels=["conn"],
    )
    for conn in snap.connections:
        up.add_metric([str(conn.conn)], float(conn.up))
        if conn.last_message_at is not None:
            age.add_metric([str(conn.conn)], max(0.0, snap.now - conn.last_message_at))
    yield up
    yield age


def _latency(latency: Latency) -> Metric:
    buckets = [
        (repr(float(b)), float(n)) for b, n in zip(latency.bounds, latency.cumulative, strict=True)
    ]
    buckets.append(("+Inf", float(latency.count)))
    return HistogramMetricFamily(
        "alertbot_frame_to_notification_seconds",
        "Seconds from the frame that triggered an alert to its notification being sent.",
        buckets=buckets,
        sum_value=latency.sum,
    )


def _labelled(
    family: CounterMetricFamily | GaugeMetricFamily, values: Iterable[tuple[Sequence[str], int]]
) -> Metric:
    """Fill a labelled family, sorted so scrapes diff cleanly."""
    for labels, value in sorted(values, key=lambda item: tuple(item[0])):
        family.add_metric(list(labels), float(value))
    return family


def _counter(name: str, doc: str, value: float) -> Metric:
    return CounterMetricFamily(name, doc, value=float(value))


def _gauge(name: str, doc: str, value: float, **labels: str) -> Metric:
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), float(value))
    return family
