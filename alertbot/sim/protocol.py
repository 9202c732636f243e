"""Socks' wire rules without I/O: envelopes, error texts, id validation and rate limiting."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from alertbot.source.protocol import CANDLE_RESOLUTIONS

CHANNELS = (
    "v4_orderbook",
    "v4_subaccounts",
    "v4_trades",
    "v4_markets",
    "v4_candles",
    "v4_parent_subaccounts",
    "v4_block_height",
)
VERSIONS = {
    "v4_subaccounts": "3.0.0",
    "v4_parent_subaccounts": "3.0.0",
    "v4_trades": "2.1.0",
    "v4_orderbook": "1.0.0",
    "v4_markets": "1.0.0",
    "v4_candles": "1.0.0",
    "v4_block_height": "1.0.0",
}
RATE_LIMITED_REASON = '{"message":"Rate limited"}'
RESTARTING_REASON = '{"message":"Service restarting"}'
CLOSE_REASONS = {
    1008: RATE_LIMITED_REASON,
    1011: "Heartbeat timeout",
    1012: RESTARTING_REASON,
    4000: "write EPIPE",
}
MAX_SUBACCOUNT_ID = 128 * 1000  # MAX_PARENT_SUBACCOUNTS * CHILD_SUBACCOUNT_MULTIPLIER
MAX_PARENT_ID = 128
Message = dict[str, Any]


# --- error texts (socks, character for character) ---------------------------------------------
def too_many_subscribes(channel: str, sub_id: str) -> str:
    """The subscribe rate-limit text; note the double space socks' string concatenation makes."""
    return (
        f"Too many subscribe attempts for channel {channel}-{sub_id}. Please "
        " reconnect and try again."
    )


TOO_MANY_INVALID = "Too many invalid messages. Please reconnect and try again."


def cap_reached(channel: str, limit: int) -> str:
    """The per-connection cap text (the connection stays open)."""
    return f"Per-connection subscription limit reached for {channel} (limit={limit})."


def fetch_failed(channel: str) -> str:
    """The snapshot-fetch failure text."""
    return f"Internal error, could not fetch data for subscription: {channel}."


def already_subscribed(channel: str, sub_id: str) -> str:
    """Duplicate subscribe on one connection (checked after the snapshot fetch)."""
    return f"Invalid subscribe message: already subscribed ({channel}-{sub_id})"


def invalid_subscription(channel: str, raw_id: Any) -> str:
    """Bad ticker, bad `addr/n`, n out of range or bad candle resolution."""
    return f"Invalid subscription id for channel: ({channel}-{js_str(raw_id)})"


# --- envelopes (key order as socks builds them; undefined keys are dropped) -------------------
def connected(conn_id: str) -> Message:
    """The first message on every connection."""
    return {"type": "connected", "connection_id": conn_id, "message_id": 0}


def error(
    message: str, conn_id: str, mid: int, channel: str | None = None, sub_id: Any = None
) -> Message:
    """An `error`; channel and id only for fetch failures and duplicates."""
    out: Message = {
        "type": "error",
        "message": message,
        "connection_id": conn_id,
        "message_id": mid,
    }
    if channel is not None:
        out["channel"] = channel
    if sub_id is not None:
        out["id"] = sub_id
    return out


def subscribed(channel: str, sub_id: str, contents: Any, conn_id: str, mid: int) -> Message:
    """The snapshot answer; v4_markets carries no id."""
    out: Message = {"type": "subscribed", "connection_id": conn_id, "message_id": mid}
    out["channel"] = channel
    if channel != "v4_markets":
        out["id"] = sub_id
    out["contents"] = contents
    return out


def unsubscribed(conn_id: str, mid: int, channel: str, raw_id: Any) -> Message:
    """Echoes only the id the client sent (none at all for v4_markets)."""
    out: Message = {"type": "unsubscribed", "connection_id": conn_id, "message_id": mid}
    out["channel"] = channel
    if channel != "v4_markets" and raw_id is not None:
        out["id"] = raw_id
    return out


def data(
    kind: str, channel: str, conn_id: str, mid: int, sub_id: str, contents: Any, number: int | None
) -> Message:
    """channel_data / channel_batch_data; subaccountNumber only on the parent channel."""
    out: Message = {"type": kind, "connection_id": conn_id, "message_id": mid}
    if channel != "v4_markets":
        out["id"] = sub_id
    out["channel"] = channel
    out["version"] = VERSIONS[channel]
    out["contents"] = contents
    if number is not None:
        out["subaccountNumber"] = number
    return out


# --- validation -------------------------------------------------------------------------------
def js_str(value: Any) -> str:
    """How a JS template literal prints a decoded JSON value (for error texts)."""
    if value is None:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if v is None else js_str(v) for v in value)
    return str(value)


def basic_problem(message: Message) -> str | None:
    """socks' validateSubscriptionMessage: errors that reuse the current message_id."""
    channel = message.get("channel")
    if not channel:
        return "Invalid subscribe message: channel is required"
    if not isinstance(channel, str) or channel not in CHANNELS:
        return f"Invalid channel: {js_str(channel)}"
    if channel in ("v4_markets", "v4_block_height"):
        return None
    if not isinstance(message.get("id"), str):
        return f"Invalid id: {js_str(message.get('id'))}"
    return None


def normalize_id(channel: str, raw_id: str | None) -> str:
    """The id socks files a subscription under (`v4_markets` / `v4_block_height` by default)."""
    if raw_id is not None:
        return raw_id
    return "v4_block_height" if channel == "v4_block_height" else "v4_markets"


def js_number(text: str) -> float:
    """JavaScript's Number(text): blank is 0, junk is NaN."""
    stripped = text.strip()
    if not stripped:
        return 0.0
    if "_" in stripped:
        return math.nan
    try:
        return (
            float(int(stripped, 0))
            if stripped[:2].lower() in ("0x", "0o", "0b")
            else float(stripped)
        )
    except ValueError:
        return math.nan


def valid_subscription(channel: str, raw_id: str | None, tickers: set[str]) -> bool:
    """socks' validateSubscription (run after the message_id was incremented)."""
    if channel in ("v4_markets", "v4_block_height"):
        return True
    if raw_id is None:
        return False
    if channel in ("v4_subaccounts", "v4_parent_subaccounts"):
        parts = raw_id.split("/")
        limit = MAX_SUBACCOUNT_ID if channel == "v4_subaccounts" else MAX_PARENT_ID
        return len(parts) == 2 and js_number(parts[1]) < limit
    if channel == "v4_candles":
        parts = raw_id.split("/")
        resolution = parts[1] if len(parts) > 1 else None
        return parts[0] in tickers and resolution in CANDLE_RESOLUTIONS
    return raw_id in tickers


class RateLimiter:
    """rate-limiter-flexible's memory limiter: `points` per fixed window from the first hit."""

    def __init__(
        self, points: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.points = points
        self.window = window
        self.clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> bool:
        """Consume one point; True when the caller is now over the limit."""
        now = self.clock()
        start, used = self._windows.get(key, (now, 0))
        if now - start >= self.window:
            start, used = now, 0
        self._windows[key] = (start, used + 1)
        return used + 1 > self.points
