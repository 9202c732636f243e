"""The Slack notifier against a loopback server answering like a Slack webhook."""

from __future__ import annotations

from alertbot.notify.builtin.slack import SlackNotifier
from alertbot.notify.config import SlackConfig
from tests.notify.fakes import FakeHttp, note

PATH = "/services/T000/B000/XXXXSECRETXXXX"


def slack(http: FakeHttp, style: str = "mrkdwn") -> SlackNotifier:
    return SlackNotifier("chat", SlackConfig(webhook_url=http.url(PATH), style=style))


async def test_mrkdwn_text_is_escaped_and_severity_emphasised(http: FakeHttp) -> None:
    notifier = slack(http)
    tricky = note(title="PnL <b> & co", message="a < b && c > d <!channel>")
    assert (await notifier.send([tricky])).ok
    await notifier.close()
    (request,) = http.requests
    assert request.path == PATH
    text = request.json()["text"]
    assert text.splitlines() == [
        ":red_circle: *CRITICAL* *PnL &lt;b&gt; &amp; co*",
        "a &lt; b &amp;&amp; c &gt; d &lt;!channel&gt;",
        "`address=dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art` `subaccount=0`",
        "_equity-low · since 2023-11-14T22:13:20.000Z_",
    ]


async def test_blocks_one_section_per_notification(http: FakeHttp) -> None:
    notifier = slack(http, "blocks")
    resolved = note(status="resolved", title="x < y", ends_at=1_700_000_060.0)
    assert (await notifier.send([note(), resolved])).ok
    await notifier.close()
    body = http.requests[0].json()
    assert body["text"] == "2 notifications: 1 firing, 1 resolved"
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["section", "section", "divider", "section"]
    last = body["blocks"][3]["text"]
    assert last["type"] == "mrkdwn"
    assert last["text"].startswith(":white_check_mark: *RESOLVED* *x &lt; y*")
    assert "resolved 2023-11-14T22:14:20.000Z" in last["text"]


async def test_rate_limit_and_revoked_webhook(http: FakeHttp) -> None:
    http.replies = [(429, {"Retry-After": "3"}, b"rate_limited"), (404, {}, b"no_service")]
    notifier = slack(http)
    limited = await notifier.send([note()])
    gone = await notifier.send([note()])
    await notifier.close()
    assert (limited.ok, limited.retry_after, limited.permanent) == (False, 3.0, False)
    assert (gone.permanent, gone.detail) == (True, "HTTP 404: no_service")


def test_describe_masks_the_webhook_path(http: FakeHttp) -> None:
    notifier = slack(http)
    assert notifier.describe() == f"slack http://127.0.0.1:{http.port}/*** (mrkdwn)"
    assert (notifier.rate, notifier.max_batch) == ((1, 1.0), 20)


async def test_slack_markup_in_server_strings_cannot_format(http: FakeHttp) -> None:
    from alertbot.notify.render import slack_escape

    zw = "\u200b"
    assert slack_escape("*BTC*-USD_x ~1~ `y`") == (
        f"*{zw}BTC*{zw}-USD_{zw}x ~{zw}1~{zw} `{zw}y`{zw}"
    )
    # visible text is unchanged: only invisible characters are added
    assert slack_escape("*BTC*-USD_x ~1~ `y`").replace(zw, "") == "*BTC*-USD_x ~1~ `y`"
