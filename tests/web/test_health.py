"""The /healthz verdict, rule by rule, on plain snapshots (no sockets, no clock)."""

from __future__ import annotations

import pytest

from alertbot.web.health import health
from alertbot.web.snapshot import ConnInfo
from tests.web.helpers import LIMIT, NOW, down, snapshot, up


def test_the_whole_body_of_a_healthy_app() -> None:
    snap = snapshot(connections=[up(0, quiet=1.5)], outbox_depth=2, outbox_oldest_age=3.25)
    assert health(snap, LIMIT) == (
        200,
        {
            "status": "ok",
            "reasons": [],
            "version": "9.9.9",
            "uptime": 3600.0,
            "unhealthy_after": LIMIT,
            "connections": [
                {"conn": 0, "state": "up", "for": 600.0, "last_message_age": 1.5, "attempts": 0}
            ],
            "polling": False,
            "outbox": {"depth": 2, "oldest_age": 3.25},
            "reconnects": 4,
            "gaps": 1,
            "skipped_frames": 5,
        },
    )


def test_a_connection_down_within_the_limit_is_degraded_but_200() -> None:
    status, body = health(snapshot(connections=[up(0), down(1, for_=LIMIT)]), LIMIT)
    assert (status, body["status"]) == (200, "degraded")
    assert body["reasons"] == ["connection 1 down for 120s"]
    assert body["connections"][1] == {
        "conn": 1,
        "state": "down",
        "for": LIMIT,
        "last_message_age": LIMIT + 5,
        "attempts": 2,
    }


def test_a_connection_down_longer_than_the_limit_is_503() -> None:
    status, body = health(snapshot(connections=[up(0), down(1, for_=LIMIT + 1)]), LIMIT)
    assert (status, body["status"]) == (503, "unhealthy")
    assert body["reasons"] == ["connection 1 down for 121s"]


def test_an_up_connection_silent_longer_than_the_limit_is_503() -> None:
    status, body = health(snapshot(connections=[up(0, quiet=LIMIT + 1)]), LIMIT)
    assert (status, body["reasons"]) == (503, ["connection 0 silent for 121s"])


def test_silence_counts_from_the_reconnect_not_from_the_previous_session() -> None:
    fresh = ConnInfo(conn=0, up=True, since=NOW - 5, last_message_at=NOW - 900, attempts=0)
    assert health(snapshot(connections=[fresh]), LIMIT)[0] == 200
    mute = ConnInfo(conn=0, up=True, since=NOW - LIMIT - 1, last_message_at=None, attempts=0)
    assert health(snapshot(connections=[mute]), LIMIT)[0] == 503


def test_a_stuck_outbox_is_503_and_a_busy_one_is_fine() -> None:
    assert health(snapshot(outbox_depth=50, outbox_oldest_age=LIMIT), LIMIT)[0] == 200
    status, body = health(snapshot(outbox_depth=1, outbox_oldest_age=LIMIT + 30), LIMIT)
    assert (status, body["reasons"]) == (
        503,
        ["outbox: oldest pending notification waiting for 150s"],
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"polling": True}, "REST polling fallback active"),
        ({"connections": []}, "no connection yet"),
    ],
)
def test_degraded_states_answer_200(changes: dict[str, object], reason: str) -> None:
    status, body = health(snapshot(**changes), LIMIT)
    assert (status, body["status"], body["reasons"]) == (200, "degraded", [reason])


def test_unhealthy_wins_and_every_reason_is_listed() -> None:
    snap = snapshot(connections=[down(0, for_=600), down(1, for_=3)], polling=True)
    status, body = health(snap, LIMIT)
    assert (status, body["status"]) == (503, "unhealthy")
    assert body["reasons"] == [
        "connection 0 down for 600s",
        "connection 1 down for 3s",
        "REST polling fallback active",
    ]
