"""`make demo` end to end: the demo scenario produces the three headline alerts, in order."""

from __future__ import annotations

from pathlib import Path

from alertbot.demo import demo

ROOT = Path(__file__).resolve().parents[1]
SPEED = 6.0  # the minute-long timeline in about 11 s


def faster_rules(tmp_path: Path) -> Path:
    """The shipped rules.yaml with wall-clock durations scaled to the faster timeline."""
    text = (ROOT / "rules.yaml").read_text(encoding="utf-8")
    text = text.replace("    for: 30s\n", "    for: 3s\n")  # equity-low: 30 s of scenario time
    text = text.replace(
        "  markets: [BTC-USD, ETH-USD]\n",
        "  markets: [BTC-USD, ETH-USD]\n  reconnect: {initial: 20ms, max: 100ms}\n",
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_demo_shows_the_three_headline_alerts(tmp_path, capsys):
    sent = await demo(faster_rules(tmp_path), SPEED)
    out = capsys.readouterr().out
    footers = [line.split(" · ") for line in out.splitlines() if " · " in line]  # "rule · since t"
    firing = [rule for rule, when in footers if when.startswith("since")]
    resolved = [rule for rule, when in footers if when.startswith("resolved")]
    assert firing.index("order-filled") < firing.index("equity-low")
    assert firing.index("equity-low") < firing.index("reconnect-storm")
    assert "equity-low" in resolved
    assert "[RESOLVED] Equity low on dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0" in out
    assert sent == len(footers)  # every notification was printed by the console notifier
    mails = [line for line in out.splitlines() if line.startswith("+++ mail to trader@localhost:")]
    assert mails  # the email notifier reached the local mail sink (bursts are batched)
    assert f"{len(mails)} mails" in out.splitlines()[-1]
    dashboard = [line for line in out.splitlines() if line.startswith("dashboard: http://")]
    assert len(dashboard) == 1  # its address and the run's token, printed before the timeline
    assert "log in with the token " in dashboard[0]
