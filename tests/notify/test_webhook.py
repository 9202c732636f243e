"""The webhook notifier against a real loopback HTTP server."""

from __future__ import annotations

import logging
import time
from email.utils import formatdate

import pytest

from alertbot import __version__
from alertbot.notify.base import guarded_send
from alertbot.notify.builtin.webhook import WebhookNotifier
from alertbot.notify.config import WebhookConfig
from tests.notify.fakes import ADDRESS, FakeHttp, grouped, note

SECRET = "s3cr3t-token-value"


def webhook(http: FakeHttp, **extra: object) -> WebhookNotifier:
    cfg = WebhookConfig.model_validate({"url": http.url(f"/hook?token={SECRET}"), **extra})
    return WebhookNotifier("hook", cfg)


async def test_posts_the_exact_json_document_and_headers(http: FakeHttp) -> None:
    notifier = webhook(http, headers={"Authorization": f"Bearer {SECRET}"})
    resolved = note(status="resolved", title="Equity low", ends_at=1_700_000_060.0)
    result = await notifier.send([note(), resolved])
    await notifier.close()
    assert result.ok
    (request,) = http.requests
    assert request.method == "POST"
    assert request.path == f"/hook?token={SECRET}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.headers["user-agent"] == f"alertbot/{__version__}"
    first = {
        "rule": "equity-low",
        "status": "firing",
        "severity": "critical",
        "labels": {"address": ADDRESS, "subaccount": "0"},
        "title": "Equity below 1000 on acct",
        "message": "equity 950.5 < 1000",
        "starts_at": "2023-11-14T22:13:20.000Z",
        "ends_at": None,
        "repeat": False,
        "flapping": False,
        "values": {},
        "fingerprint": "fp-1",
        "event": {"kind": "account", "at": "2023-11-14T22:13:20.000Z", "equity": 950.5},
        "members": [],
    }
    second = {
        **first,
        "status": "resolved",
        "title": "Equity low",
        "ends_at": "2023-11-14T22:14:20.000Z",
    }
    assert request.json() == {"version": 1, "alerts": [first, second]}


async def test_grouped_members_are_listed(http: FakeHttp) -> None:
    notifier = webhook(http)
    assert (await notifier.send([grouped(3)])).ok
    await notifier.close()
    members = http.requests[0].json()["alerts"][0]["members"]
    assert [m["labels"] for m in members] == [{"ticker": f"M{i}-USD"} for i in range(3)]
    assert members[0] == {
        "status": "firing",
        "labels": {"ticker": "M0-USD"},
        "title": "Big trade on M0-USD",
        "message": "m",
        "starts_at": "2023-11-14T22:13:20.000Z",
        "ends_at": None,
        "fingerprint": "fp-M0",
    }


@pytest.mark.parametrize(
    ("reply", "ok", "permanent", "retry_after"),
    [
        ((204, {}, b""), True, False, None),
        ((500, {}, b"boom"), False, False, None),
        ((503, {"Retry-After": "7"}, b""), False, False, 7.0),
        ((429, {"Retry-After": "30"}, b"slow down"), False, False, 30.0),
        ((429, {}, b""), False, False, None),
        ((400, {}, b"bad payload"), False, True, None),
        ((404, {}, b""), False, True, None),
    ],
)
async def test_status_codes_map_to_results(http, reply, ok, permanent, retry_after) -> None:
    http.default = reply
    notifier = webhook(http)
    result = await notifier.send([note()])
    await notifier.close()
    assert (result.ok, result.permanent, result.retry_after) == (ok, permanent, retry_after)
    if not ok:
        assert result.detail.startswith(f"HTTP {reply[0]}")


async def test_retry_after_as_an_http_date(http: FakeHttp) -> None:
    http.default = (429, {"Retry-After": formatdate(time.time() + 120, usegmt=True)}, b"")
    notifier = webhook(http)
    result = await notifier.send([note()])
    await notifier.close()
    assert result.retry_after is not None
    assert 100 < result.retry_after <= 120


async def test_connection_refused_is_retryable(http: FakeHttp) -> None:
    notifier = webhook(http)
    await http.stop()
    result = await notifier.send([note()])
    await notifier.close()
    assert not result.ok
    assert not result.permanent
    assert SECRET not in result.detail


async def test_a_silent_server_hits_the_timeout(http: FakeHttp) -> None:
    http.hang = True
    notifier = webhook(http, timeout="200ms")
    started = time.monotonic()
    result = await guarded_send(notifier, [note()])
    await notifier.close()
    assert time.monotonic() - started < 2
    assert (result.ok, result.permanent) == (False, False)
    assert "0.2s" in result.detail


async def test_secrets_stay_out_of_describe_and_logs(http: FakeHttp, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    http.default = (500, {}, f"echo {SECRET}".encode())
    notifier = webhook(http, headers={"X-Token": SECRET})
    result = await notifier.send([note()])
    await notifier.close()
    assert notifier.describe() == f"webhook http://127.0.0.1:{http.port}/*** (headers: X-Token)"
    assert SECRET not in repr(notifier)
    assert SECRET not in result.detail
    assert caplog.records, "httpx logs each request at INFO; the test needs them"
    assert SECRET not in caplog.text
    assert all(SECRET not in str(r.args) for r in caplog.records)
