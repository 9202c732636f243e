"""Scenario files: markets, accounts and a timeline, validated with file:line:column errors."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from alertbot.core.durations import parse_duration
from alertbot.core.errors import ConfigError, Problem
from alertbot.core.located import load_located, problems_from_validation
from alertbot.core.strict import Strict
from alertbot.source.address import parse_subaccount


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 10s")
    return value


def _subaccount(value: Any) -> Any:
    return parse_subaccount(value).id if isinstance(value, str) else value


Duration = Annotated[float, BeforeValidator(_duration), Field(ge=0)]
SubaccountId = Annotated[str, BeforeValidator(_subaccount)]
Positive = Annotated[float, Field(gt=0)]
Side = Literal["BUY", "SELL"]
Channel = Literal[
    "v4_orderbook", "v4_subaccounts", "v4_trades", "v4_markets", "v4_candles",
    "v4_parent_subaccounts", "v4_block_height",
]  # fmt: skip
TransferType = Literal["DEPOSIT", "WITHDRAWAL", "TRANSFER_IN", "TRANSFER_OUT"]
OrderType = Literal[
    "LIMIT", "MARKET", "STOP_LIMIT", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"
]
OrderStatus = Literal["OPEN", "UNTRIGGERED", "BEST_EFFORT_OPENED"]


def _wrap(key: str, value: Any) -> Any:
    """Let `drop: 3` stand for `drop: {count: 3}` (and likewise for one-field actions)."""
    return value if isinstance(value, dict) else {key: value}


class MarketSpec(Strict):
    """A perpetual market's parameters (margin fractions as in /perpetualMarkets)."""

    oracle_price: Positive
    initial_margin_fraction: float = Field(0.05, gt=0, le=1)
    maintenance_margin_fraction: float = Field(0.03, gt=0, le=1)
    clob_pair_id: int | None = Field(None, ge=0)
    atomic_resolution: int = -9
    tick_size: Positive = 0.01
    step_size: Positive = 0.001
    next_funding_rate: float = Field(0.0, ge=-1, le=1)


class PositionSpec(Strict):
    """An open position at start: signed size (negative = short) and its entry price."""

    size: float
    entry_price: Positive


class OrderSpec(Strict):
    """An order; `ref` names it for later fill/cancel/trigger steps."""

    ref: str | None = None
    ticker: str
    side: Side
    size: Positive
    price: Positive
    type: OrderType = "LIMIT"
    status: OrderStatus = "OPEN"
    trigger_price: Positive | None = None
    client_id: str | None = None
    reduce_only: bool = False
    good_til: Duration | None = None  # long-term and conditional orders: expiry from placement


class AccountSpec(Strict):
    """A subaccount at start: USDC balance (negative = borrowed), positions, open orders."""

    usdc: float = 0.0
    positions: dict[str, PositionSpec] = {}
    orders: list[OrderSpec] = []


class PriceAction(Strict):
    """Move the oracle price to `to`, at once or as a linear ramp of `steps` updates."""

    ticker: str
    to: Positive
    over: Duration = 0.0
    steps: int = Field(10, ge=1, le=1000)


class OrderAction(OrderSpec):
    """Place an order for `account`."""

    account: SubaccountId


class FillAction(Strict):
    """Fill (part of) an order named by ref or id."""

    order: str
    size: Positive | None = None
    price: Positive | None = None
    liquidity: Literal["MAKER", "TAKER"] = "MAKER"


class CancelAction(Strict):
    """Cancel an order named by ref or id."""

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return _wrap("order", value)

    order: str
    reason: str = "ORDER_REMOVAL_REASON_USER_CANCELED"
    best_effort: bool = False


class TriggerAction(Strict):
    """Trigger a conditional order (UNTRIGGERED -> OPEN)."""

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return _wrap("order", value)

    order: str


class FundingAction(Strict):
    """An hourly funding tick: every position in `ticker` pays or receives size x oracle x rate.

    `rate` is this tick's rate (default: the market's nextFundingRate); `next_rate` becomes
    the new nextFundingRate.
    """

    ticker: str
    rate: float | None = Field(None, ge=-1, le=1)
    next_rate: float | None = Field(None, ge=-1, le=1)


class LiquidateAction(Strict):
    """Liquidate a position (at the oracle price unless `price` is given)."""

    account: SubaccountId
    ticker: str
    price: Positive | None = None


class TransferAction(Strict):
    """Move USDC in or out of a subaccount."""

    account: SubaccountId
    amount: Positive
    type: TransferType = "DEPOSIT"


class DisconnectAction(Strict):
    """Drop every connection: 1006 aborts TCP, other codes send a close frame."""

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return _wrap("code", value)

    code: int = Field(1006, ge=1000, le=4999)


class DropAction(Strict):
    """Count the next `count` data messages but never send them (a message_id gap)."""

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return _wrap("count", value)

    count: int = Field(ge=1)


class StallAction(Strict):
    """Go silent (no data, no pings, no pongs) for `seconds`."""

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return _wrap("seconds", value)

    seconds: Duration


class FailSnapshotsAction(Strict):
    """The next `count` subscribes on `channel` fail with the fetch error."""

    channel: Channel
    count: int = Field(1, ge=1)
    legacy: bool = False


class DelaySnapshotsAction(Strict):
    """Answer subscribes on `channel` `seconds` late (0 turns the delay off)."""

    channel: Channel
    seconds: Duration


class RefuseAction(Strict):
    """Answer WS upgrades with HTTP 503 (REST keeps working), optionally only `for` a while."""

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return _wrap("refuse", value)

    refuse: bool = True
    for_: Duration | None = Field(None, alias="for")


ACTIONS = (
    "price", "order", "fill", "cancel", "trigger", "liquidate", "funding", "transfer", "disconnect",
    "drop", "stall", "fail_snapshots", "delay_snapshots", "refuse_connections", "log",
)  # fmt: skip


class Step(Strict):
    """One timeline entry: `at` (from the start) and exactly one action."""

    at: Duration
    price: PriceAction | None = None
    order: OrderAction | None = None
    fill: FillAction | None = None
    cancel: CancelAction | None = None
    trigger: TriggerAction | None = None
    liquidate: LiquidateAction | None = None
    funding: FundingAction | None = None
    transfer: TransferAction | None = None
    disconnect: DisconnectAction | None = None
    drop: DropAction | None = None
    stall: StallAction | None = None
    fail_snapshots: FailSnapshotsAction | None = None
    delay_snapshots: DelaySnapshotsAction | None = None
    refuse_connections: RefuseAction | None = None
    log: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        chosen = [name for name in ACTIONS if getattr(self, name) is not None]
        if len(chosen) != 1:
            found = ", ".join(chosen) or "none"
            raise ValueError(
                f"a step needs exactly one action ({', '.join(ACTIONS)}); found {found}"
            )
        return self

    @property
    def action(self) -> tuple[str, Any]:
        """The step's single (name, arguments) pair."""
        name = next(n for n in ACTIONS if getattr(self, n) is not None)
        return name, getattr(self, name)


class Scenario(Strict):
    """A whole simulated world plus what happens to it, loaded from YAML."""

    name: str = "scenario"
    description: str = ""
    start_height: int = Field(45_000_000, ge=1)
    markets: dict[str, MarketSpec] = Field(min_length=1)
    accounts: dict[SubaccountId, AccountSpec] = {}
    timeline: list[Step] = []


# --- loading ----------------------------------------------------------------------------------
def packaged_names() -> list[str]:
    """Names of the scenarios shipped in alertbot/sim/scenarios/."""
    folder = resources.files("alertbot.sim").joinpath("scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_scenario(name_or_path: str) -> Scenario:
    """Load a packaged scenario by NAME or a YAML file by path; ConfigError lists every problem."""
    if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path or "\\" in name_or_path:
        file = name_or_path
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                [Problem(file, 0, 0, "", f"cannot read scenario: {exc.strerror}")]
            ) from None
    else:
        resource = resources.files("alertbot.sim").joinpath("scenarios", f"{name_or_path}.yaml")
        if not resource.is_file():
            known = ", ".join(packaged_names())
            msg = f"no packaged scenario {name_or_path!r} (known: {known}); or give a .yaml path"
            raise ConfigError([Problem(name_or_path, 0, 0, "", msg)])
        file = f"alertbot/sim/scenarios/{name_or_path}.yaml"
        text = resource.read_text(encoding="utf-8")
    return parse_scenario(text, file)


def parse_scenario(text: str, file: str) -> Scenario:
    """Validate scenario YAML text; errors name the file, line, column and key."""
    located = load_located(text, file, env={})
    if located.problems:
        raise ConfigError(located.problems)
    if not isinstance(located.data, dict):
        raise ConfigError([located.problem((), "a scenario must be a mapping of keys")])
    try:
        scenario = Scenario.model_validate(located.data)
    except ValidationError as exc:
        problems = problems_from_validation(exc, located, model=Scenario)
        raise ConfigError(sorted(problems, key=lambda p: (p.line, p.column))) from None
    problems = [located.problem(path, msg) for path, msg in check_references(scenario)]
    if problems:
        raise ConfigError(problems)
    return scenario


Path_ = tuple[str | int, ...]


def check_references(scenario: Scenario) -> list[tuple[Path_, str]]:
    """Cross-checks pydantic cannot do: known tickers, known order refs, time order."""
    out: list[tuple[Path_, str]] = []
    tickers = set(scenario.markets)
    refs: set[str] = set()
    for key, account in scenario.accounts.items():
        for ticker in account.positions:
            if ticker not in tickers:
                out.append(
                    (("accounts", key, "positions", ticker), _unknown_market(ticker, tickers))
                )
        for i, order in enumerate(account.orders):
            out += _check_order(order, ("accounts", key, "orders", i), tickers, refs)
    last = 0.0
    for i, step in enumerate(scenario.timeline):
        if step.at < last:
            out.append((("timeline", i, "at"), "steps must be in time order (at never decreases)"))
        last = max(last, step.at)
        out += _check_step(step, ("timeline", i), tickers, refs)
    return out


def _unknown_market(ticker: str, tickers: set[str]) -> str:
    return f"unknown market {ticker!r}; the scenario defines {', '.join(sorted(tickers))}"


def _check_order(
    order: OrderSpec, path: Path_, tickers: set[str], refs: set[str]
) -> list[tuple[Path_, str]]:
    out: list[tuple[Path_, str]] = []
    if order.ticker not in tickers:
        out.append(((*path, "ticker"), _unknown_market(order.ticker, tickers)))
    if order.ref is not None:
        if order.ref in refs:
            out.append(((*path, "ref"), f"order ref {order.ref!r} is used twice"))
        refs.add(order.ref)
    return out


def _check_step(
    step: Step, path: Path_, tickers: set[str], refs: set[str]
) -> list[tuple[Path_, str]]:
    name, args = step.action
    where = (*path, name)
    if isinstance(args, OrderAction):
        return _check_order(args, where, tickers, refs)
    ticker = getattr(args, "ticker", None)
    if ticker is not None and ticker not in tickers:
        return [((*where, "ticker"), _unknown_market(ticker, tickers))]
    ref = getattr(args, "order", None)
    if isinstance(ref, str) and ref not in refs and len(ref) != 36:
        return [((*where, "order"), f"no earlier order has ref {ref!r}")]
    return []
