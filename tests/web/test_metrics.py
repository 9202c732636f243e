"""/metrics text, parsed back with prometheus_client's own parser: every family, every label."""

from __future__ import annotations

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from alertbot.source.connstate import ConnState
from alertbot.source.gaps import GapDetector
from alertbot.web.metrics import render_metrics
from alertbot.web.snapshot import ConnInfo, Latency, LatencyRecorder
from tests.web.helpers import NOW, down, snapshot, up


def families(text: bytes) -> dict[str, Metric]:
    """Parsed families by name (counters lose their _total suffix, as the parser does)."""
    return {family.name: family for family in text_string_to_metric_families(text.decode())}


def samples(family: Metric) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}


def test_every_family_with_its_type_labels_and_values() -> None:
    snap = snapshot(
        connections=[up(0, quiet=2.0), down(1, for_=30)],
        polling=True,
        outbox_depth=3,
        outbox_oldest_age=42.0,
    )
    got = families(render_metrics(snap))
    expected: dict[str, tuple[str, str, dict[str, float]]] = {
        "alertbot_messages": ("counter", "channel", {"v4_subaccounts": 40, "v4_markets": 7}),
        "alertbot_events": ("counter", "kind", {"fill": 3, "order.filled": 2}),
        "alertbot_connection_up": ("gauge", "conn", {"0": 1, "1": 0}),
        "alertbot_last_message_age_seconds": ("gauge", "conn", {"0": 2.0, "1": 35.0}),
    }
    for name, (kind, label, values) in expected.items():
        assert got[name].type == kind
        suffix = "_total" if kind == "counter" else ""
        assert samples(got[name]) == {
            (name + suffix, ((label, key),)): value for key, value in values.items()
        }
    assert samples(got["alertbot_alerts"]) == {
        ("alertbot_alerts_total", (("rule", "equity-low"), ("status", "firing"))): 2,
        ("alertbot_alerts_total", (("rule", "equity-low"), ("status", "resolved"))): 1,
    }
    assert samples(got["alertbot_deliveries"]) == {
        ("alertbot_deliveries_total", (("notifier", "slack"), ("result", "sent"))): 3,
        ("alertbot_deliveries_total", (("notifier", "slack"), ("result", "failed"))): 1,
        ("alertbot_deliveries_total", (("notifier", "mail"), ("result", "dead"))): 1,
    }
    scalars = {
        "alertbot_outbox_depth": 3,
        "alertbot_outbox_oldest_age_seconds": 42.0,
        "alertbot_reconnects_total": 4,
        "alertbot_gaps_total": 1,
        "alertbot_polling": 1,
        "alertbot_skipped_frames_total": 5,
        "alertbot_start_time_seconds": NOW - 3600,
    }
    for sample_name, value in scalars.items():
        family = got[sample_name.removesuffix("_total")]
        assert samples(family) == {(sample_name, ()): value}
    assert samples(got["alertbot_build_info"]) == {
        ("alertbot_build_info", (("version", "9.9.9"),)): 1
    }


def test_latency_is_a_cumulative_histogram() -> None:
    family = families(render_metrics(snapshot()))["alertbot_frame_to_notification_seconds"]
    assert family.type == "histogram"
    got = samples(family)
    name = "alertbot_frame_to_notification_seconds"
    assert got[(f"{name}_bucket", (("le", "0.005"),))] == 1
    assert got[(f"{name}_bucket", (("le", "0.05"),))] == 3
    assert got[(f"{name}_bucket", (("le", "10.0"),))] == 5
    assert got[(f"{name}_bucket", (("le", "300.0"),))] == 5
    assert got[(f"{name}_bucket", (("le", "+Inf"),))] == 6
    assert got[(f"{name}_count", ())] == 6
    assert abs(got[(f"{name}_sum", ())] - 1006.264) < 1e-9


def test_an_idle_app_still_exposes_every_unlabelled_family() -> None:
    idle = snapshot(
        connections=[],
        messages={},
        events={},
        alerts={},
        deliveries={},
        latency=Latency.empty(),
    )
    got = families(render_metrics(idle))
    assert samples(got["alertbot_outbox_oldest_age_seconds"]) == {
        ("alertbot_outbox_oldest_age_seconds", ()): 0.0
    }
    assert (
        samples(got["alertbot_frame_to_notification_seconds"])[
            ("alertbot_frame_to_notification_seconds_count", ())
        ]
        == 0
    )
    assert got["alertbot_messages"].samples == []


def test_every_family_is_named_alertbot() -> None:
    names = set(families(render_metrics(snapshot())))
    assert names
    assert all(name.startswith("alertbot_") for name in names)


def test_latency_recorder_counts_each_bucket_once() -> None:
    recorder = LatencyRecorder((0.1, 1.0))
    for seconds in (0.1, 0.5, 1.0, 2.0):
        recorder.observe(seconds)
    assert recorder.snapshot() == Latency((0.1, 1.0), (1, 3), 4, 3.6)


def test_conn_info_reads_the_feed_state() -> None:
    state = ConnState(0, GapDetector(30.0), up=True, connected_at=NOW - 9, last_message_at=NOW)
    assert ConnInfo.from_state(state) == ConnInfo(0, True, NOW - 9, NOW, 0)
    lost = ConnState(1, GapDetector(30.0), down_since=NOW - 4, attempts=3)
    assert ConnInfo.from_state(lost) == ConnInfo(1, False, NOW - 4, None, 3)


def test_rule_evaluation_failures_and_disabled_rules() -> None:
    snap = snapshot(
        rule_failures={("greedy", "over_budget"): 3, ("low", "missing_field"): 2},
        rules_disabled=1,
    )
    got = families(render_metrics(snap))
    assert samples(got["alertbot_rule_evaluation_failures"]) == {
        (
            "alertbot_rule_evaluation_failures_total",
            (("reason", "over_budget"), ("rule", "greedy")),
        ): 3.0,
        (
            "alertbot_rule_evaluation_failures_total",
            (("reason", "missing_field"), ("rule", "low")),
        ): 2.0,
    }
    assert samples(got["alertbot_rules_disabled"]) == {("alertbot_rules_disabled", ()): 1.0}


def test_tracked_map_sizes_are_one_labelled_gauge() -> None:
    got = families(render_metrics(snapshot(tracked={"markets": 250, "orders": 12})))
    assert got["alertbot_tracked_entries"].type == "gauge"
    assert samples(got["alertbot_tracked_entries"]) == {
        ("alertbot_tracked_entries", (("map", "markets"),)): 250,
        ("alertbot_tracked_entries", (("map", "orders"),)): 12,
    }
