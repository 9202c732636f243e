"""Facts of the Indexer protocol that the client and the bundled simulator both follow.

One copy, so the two cannot drift; tests/source/test_protocol.py pins each value to the
protocol document (shared/docs/dydx-indexer.md), so a wrong constant cannot hide on both sides.
"""

from __future__ import annotations

# Per-connection subscription caps enforced by the Indexer (socks CHANNEL_CONNECTION_LIMITS).
CAPS = {
    "v4_subaccounts": 256,
    "v4_parent_subaccounts": 256,
    "v4_orderbook": 32,
    "v4_trades": 32,
    "v4_candles": 32,
    "v4_markets": 32,
    "v4_block_height": 1,
}
CANDLE_RESOLUTIONS = ("1MIN", "5MINS", "15MINS", "30MINS", "1HOUR", "4HOURS", "1DAY")
