"""The `source:` section of rules.yaml: where to connect, what to watch, how to reconnect."""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from alertbot.core.durations import Duration, PositiveDuration
from alertbot.core.strict import Strict
from alertbot.source.address import SubaccountRef, parse_subaccount
from alertbot.source.protocol import CANDLE_RESOLUTIONS

NETWORKS = {
    "mainnet": ("wss://indexer.dydx.trade/v4/ws", "https://indexer.dydx.trade/v4"),
    "testnet": (
        "wss://indexer.v4testnet.dydx.exchange/v4/ws",
        "https://indexer.v4testnet.dydx.exchange/v4",
    ),
}


def _subaccount(value: Any) -> Any:
    return value if isinstance(value, SubaccountRef) else parse_subaccount(value)


def _parent_subaccount(value: Any) -> Any:
    return value if isinstance(value, SubaccountRef) else parse_subaccount(value, parent=True)


Subaccount = Annotated[SubaccountRef, BeforeValidator(_subaccount)]
ParentSubaccount = Annotated[SubaccountRef, BeforeValidator(_parent_subaccount)]


class BackoffConfig(Strict):
    """Reconnect delays: capped exponential growth with full jitter."""

    initial: PositiveDuration = 1.0
    max: PositiveDuration = 120.0
    multiplier: float = Field(default=2.0, ge=1.0)
    stable_after: Duration = 30.0  # a connection up this long resets the attempt counter


class PollingConfig(Strict):
    """REST polling while a WebSocket is down or an account subscription is unwatched on one."""

    enabled: bool = True
    after: Duration = 30.0  # down (or unwatched) this long before polling starts
    interval: PositiveDuration = 10.0


class CatchupConfig(Strict):
    """What happened while alertbot was not watching (its own downtime, a socket outage)."""

    lookback: PositiveDuration = 86400.0  # older than this: counted in one summary, not alerted


class SourceConfig(Strict):
    """Where to connect and what to watch."""

    network: Literal["mainnet", "testnet"] = "mainnet"
    ws_url: str | None = None
    rest_url: str | None = None
    subaccounts: list[Subaccount] = []
    parent_subaccounts: list[ParentSubaccount] = []
    markets: list[str] = []
    market_channels: list[Literal["trades", "orderbook"]] = ["trades", "orderbook"]
    candles: list[Literal[CANDLE_RESOLUTIONS]] = []  # type: ignore[valid-type]  # tuple of literals
    batched: bool = True
    silence_timeout: PositiveDuration = 60.0
    gap_timeout: PositiveDuration = 30.0
    ping_interval: PositiveDuration = 20.0
    ping_timeout: PositiveDuration = 20.0
    open_timeout: PositiveDuration = 10.0
    max_message_size: int = Field(default=64 * 1024 * 1024, ge=16 * 1024 * 1024)
    subscribe_rate: float = Field(default=100.0, gt=0)  # subscribe messages/s per connection
    snapshot_retry: PositiveDuration = 60.0  # cooldown before re-subscribing after a failed fetch
    rejected_retry: PositiveDuration = 300.0  # new markets can be refused for up to 5 minutes
    reconcile_interval: Duration = 300.0  # REST reconciliation of accounts; 0 turns it off
    reconcile_delay: Duration = 2.0  # after a (re)connect, snapshots land before REST is asked
    rest_timeout: PositiveDuration = 10.0
    reconnect: BackoffConfig = BackoffConfig()
    polling: PollingConfig = PollingConfig()
    catchup: CatchupConfig = CatchupConfig()

    @field_validator("markets")
    @classmethod
    def _markets(cls, value: list[str]) -> list[str]:
        for ticker in value:
            if not ticker or ticker != ticker.strip() or "/" in ticker:
                raise ValueError(f"market {ticker!r} is not a ticker such as BTC-USD")
        return list(dict.fromkeys(value))

    @field_validator("subaccounts", "parent_subaccounts")
    @classmethod
    def _unique(cls, value: list[SubaccountRef]) -> list[SubaccountRef]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _something_to_watch(self) -> SourceConfig:
        if not (self.subaccounts or self.parent_subaccounts or self.markets):
            raise ValueError("nothing to watch: list subaccounts, parent_subaccounts or markets")
        return self

    def urls(self, env: dict[str, str] | None = None) -> tuple[str, str]:
        """WebSocket and REST URLs after ALERTBOT_WS_URL / ALERTBOT_REST_URL overrides."""
        env = dict(os.environ) if env is None else env
        ws_default, rest_default = NETWORKS[self.network]
        ws = env.get("ALERTBOT_WS_URL") or self.ws_url or ws_default
        rest = env.get("ALERTBOT_REST_URL") or self.rest_url or rest_default
        return ws, rest.rstrip("/")
