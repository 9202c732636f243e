"""The generic Apprise notifier, delivered with Apprise's json:// to a loopback server."""

from __future__ import annotations

from alertbot.notify.builtin.apprise_url import AppriseUrlNotifier
from alertbot.notify.config import AppriseConfig
from tests.notify.fakes import FakeHttp, note


async def test_json_url_receives_title_and_body(http: FakeHttp) -> None:
    url = f"json://127.0.0.1:{http.port}/in?+X-Token=tok3n-secret"
    notifier = AppriseUrlNotifier("any", AppriseConfig(url=url))
    result = await notifier.send([note()])
    await notifier.close()
    assert result.ok, result.detail
    body = http.requests[0].json()
    assert body["title"] == "[CRITICAL] Equity below 1000 on acct"
    assert body["message"].splitlines()[:2] == [
        "[CRITICAL] Equity below 1000 on acct",
        "equity 950.5 < 1000",
    ]
    assert http.requests[0].headers["x-token"] == "tok3n-secret"


async def test_failure_is_retryable(http: FakeHttp) -> None:
    http.default = (500, {}, b"")
    notifier = AppriseUrlNotifier("any", AppriseConfig(url=f"json://127.0.0.1:{http.port}/in"))
    result = await notifier.send([note()])
    assert (result.ok, result.permanent) == (False, False)
    assert result.detail


def test_describe_uses_apprise_privacy_form() -> None:
    secret = "abcdefghijklmnopqrstuvwxyz0123456789"
    notifier = AppriseUrlNotifier("d", AppriseConfig(url=f"discord://1234567890/{secret}"))
    assert secret not in notifier.describe()
    assert notifier.describe().startswith("apprise discord://")
