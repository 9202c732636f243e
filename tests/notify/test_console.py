"""The console notifier."""

from __future__ import annotations

import io

from alertbot.notify.builtin.console import ConsoleNotifier
from alertbot.notify.config import ConsoleConfig
from tests.notify.fakes import ADDRESS, grouped, note


async def test_prints_one_block_per_batch() -> None:
    notifier = ConsoleNotifier("ops", ConsoleConfig())
    notifier.out = io.StringIO()
    resolved = note(status="resolved", title="Equity below 1000 on acct", ends_at=1.7e9)
    assert (await notifier.send([note(), resolved])).ok
    text = notifier.out.getvalue()
    assert text.splitlines()[:3] == [
        "2 notifications: 1 firing, 1 resolved",
        "",
        "[CRITICAL] Equity below 1000 on acct",
    ]
    assert "[RESOLVED] Equity below 1000 on acct" in text  # notify words the resolve
    assert f"address={ADDRESS}" in text
    assert "equity-low · since 2023-11-14T22:13:20.000Z" in text
    assert notifier.describe() == "console (stdout)"


async def test_grouped_notification_lists_members(capsys) -> None:
    notifier = ConsoleNotifier("ops", ConsoleConfig())
    assert (await notifier.send([grouped(25)])).ok
    out = capsys.readouterr().out
    assert "25 alerts:" in out
    assert "• Big trade on M19-USD" in out
    assert "M20-USD" not in out
    assert "… and 5 more" in out
