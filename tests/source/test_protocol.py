"""The Indexer facts the client and the simulator share, pinned to the protocol document.

Both sides read one copy (alertbot/source/protocol.py); this test is what keeps that copy true.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alertbot.source.protocol import CAPS

DOC = Path(__file__).resolve().parents[3] / "shared" / "docs" / "dydx-indexer.md"


@pytest.mark.skipif(not DOC.exists(), reason="needs ../shared/docs/dydx-indexer.md")
def test_caps_are_the_documented_per_connection_caps():
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index("**Per-connection, per-channel caps**") :]
    documented = {m[0]: int(m[1]) for m in re.findall(r"\| `(v4_\w+)` \| (\d+)", table)[:7]}
    assert documented == CAPS


def test_caps_without_the_document():
    # What socks enforces (CHANNEL_CONNECTION_LIMITS), checked also when shared/ is absent.
    assert CAPS["v4_subaccounts"] == CAPS["v4_parent_subaccounts"] == 256
    assert {CAPS[c] for c in ("v4_orderbook", "v4_trades", "v4_candles", "v4_markets")} == {32}
    assert CAPS["v4_block_height"] == 1
