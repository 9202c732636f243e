"""The rules.yaml model: validated at the boundary, typed inside, errors with file:line:column."""

from __future__ import annotations

import os
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alertbot.core.durations import Duration, PositiveDuration
from alertbot.core.errors import ConfigError, Problem
from alertbot.core.located import load_located, problems_from_validation
from alertbot.core.strict import Strict
from alertbot.jobs import JobsConfig
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.rules.config import DefaultsConfig, InhibitRule, Rules
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
    """REST polling while the WebSocket is down."""

    enabled: bool = True
    after: Duration = 30.0  # socket down this long before polling starts
    interval: PositiveDuration = 10.0


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
    rest_timeout: PositiveDuration = 10.0
    reconnect: BackoffConfig = BackoffConfig()
    polling: PollingConfig = PollingConfig()

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


class Config(Strict):
    """The whole rules.yaml."""

    version: Literal[1] = 1
    source: SourceConfig
    state_dir: str = ".alertbot"
    notifiers: dict[str, dict[str, Any]] = {"console": {"type": "console"}}
    defaults: DefaultsConfig = DefaultsConfig()
    rules: Rules = []
    inhibit: list[InhibitRule] | None = (
        None  # None: the documented default (transport inhibits data)
    )
    delivery: DeliveryConfig = DeliveryConfig()  # outbox retries, fallback, rate limits
    plugins_dir: str = "plugins"  # local one-file plugins are loaded only from here
    http: dict[str, Any] = {}  # health and metrics endpoint (typed by alertbot.web.config)
    jobs: JobsConfig = JobsConfig()  # digest, heartbeat, pruning


def load_config(path: str | os.PathLike[str], *, env: dict[str, str] | None = None) -> Config:
    """Read and validate a config file; raise ConfigError listing every problem."""
    file = str(path)
    try:
        text = FsPath(file).read_text(encoding="utf-8")
    except OSError as exc:
        problem = Problem(file, 0, 0, "", f"cannot read config: {exc.strerror}")
        raise ConfigError([problem]) from None
    return parse_config(text, file, env=env)


def parse_config(text: str, file: str, *, env: dict[str, str] | None = None) -> Config:
    """Validate config text; raise ConfigError listing every problem with its position."""
    env = dict(os.environ) if env is None else env
    located = load_located(text, file, env=env)
    problems = list(located.problems)
    if located.problems and located.data is None:
        raise ConfigError(problems)
    if not isinstance(located.data, dict):
        raise ConfigError([located.problem((), "the top level must be a mapping of keys")])
    try:
        config = Config.model_validate(located.data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, located, model=Config))
        problems.sort(key=lambda p: (p.line, p.column))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return apply_env(config, env)


def apply_env(config: Config, env: dict[str, str]) -> Config:
    """Deployment overrides, so one rules.yaml serves a laptop and a container alike."""
    update: dict[str, Any] = {}
    if env.get("ALERTBOT_STATE_DIR"):
        update["state_dir"] = env["ALERTBOT_STATE_DIR"]
    if env.get("ALERTBOT_PLUGINS_DIR"):
        update["plugins_dir"] = env["ALERTBOT_PLUGINS_DIR"]
    if env.get("ALERTBOT_HTTP_LISTEN"):
        update["http"] = {**config.http, "listen": env["ALERTBOT_HTTP_LISTEN"]}
    return config.model_copy(update=update) if update else config
