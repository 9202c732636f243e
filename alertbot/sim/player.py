"""The timeline player: turns scenario steps into timed calls on the simulator's controls."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from alertbot.sim import scenario as sc

if TYPE_CHECKING:
    from alertbot.sim.server import Simulator


@dataclass(frozen=True, slots=True)
class Cue:
    """One control call at `at` seconds (scenario time) from the start of the timeline."""

    at: float
    name: str
    args: Any


def cues(scenario: sc.Scenario) -> list[Cue]:
    """Expand steps (a price ramp becomes `steps` price cues) and order them by time, stably."""
    prices = {t: m.oracle_price for t, m in scenario.markets.items()}
    out: list[Cue] = []
    for step in scenario.timeline:
        name, args = step.action
        if isinstance(args, sc.PriceAction):
            out += _ramp(step.at, args, prices[args.ticker])
            prices[args.ticker] = args.to
        else:
            out.append(Cue(step.at, name, args))
    return sorted(out, key=lambda cue: cue.at)


def _ramp(at: float, args: sc.PriceAction, start: float) -> list[Cue]:
    if args.over <= 0:
        return [Cue(at, "price", (args.ticker, args.to))]
    n = args.steps
    return [
        Cue(at + args.over * k / n, "price", (args.ticker, start + (args.to - start) * k / n))
        for k in range(1, n + 1)
    ]


async def play(sim: Simulator, scenario: sc.Scenario, time_scale: float) -> None:
    """Run every cue at its time (divided by `time_scale`); returns after the last one."""
    if time_scale <= 0:
        raise ValueError(f"time_scale must be positive, got {time_scale}")
    loop = asyncio.get_running_loop()
    start = loop.time()
    for cue in cues(scenario):
        delay = start + cue.at / time_scale - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await run_cue(sim, cue)


async def run_cue(sim: Simulator, cue: Cue) -> None:
    """Apply one cue to the simulator."""
    handler = _HANDLERS[cue.name]
    result = handler(sim, cue.args)
    if asyncio.iscoroutine(result):
        await result


def _order_id(sim: Simulator, ref: str) -> str:
    return sim.order_refs.get(ref, ref)


def _price(sim: Simulator, args: tuple[str, float]) -> None:
    sim.set_price(*args)


def _order(sim: Simulator, a: sc.OrderAction) -> None:
    order_id = sim.place_order(
        a.account, a.ticker, a.side, a.size, a.price, type=a.type, client_id=a.client_id,
        status=a.status, trigger_price=a.trigger_price, reduce_only=a.reduce_only,
        good_til=a.good_til,
    )  # fmt: skip
    if a.ref is not None:
        sim.order_refs[a.ref] = order_id


def _fill(sim: Simulator, a: sc.FillAction) -> None:
    sim.fill_order(_order_id(sim, a.order), a.size, a.price, liquidity=a.liquidity)


def _cancel(sim: Simulator, a: sc.CancelAction) -> None:
    sim.cancel_order(_order_id(sim, a.order), reason=a.reason, best_effort=a.best_effort)


def _trigger(sim: Simulator, a: sc.TriggerAction) -> None:
    sim.trigger_order(_order_id(sim, a.order))


def _liquidate(sim: Simulator, a: sc.LiquidateAction) -> None:
    sim.liquidate(a.account, a.ticker, a.price)


def _funding(sim: Simulator, a: sc.FundingAction) -> None:
    sim.funding_tick(a.ticker, a.rate, next_rate=a.next_rate)


def _transfer(sim: Simulator, a: sc.TransferAction) -> None:
    sim.transfer(a.account, a.amount, type=a.type)


async def _disconnect(sim: Simulator, a: sc.DisconnectAction) -> None:
    sim.narrate(f"disconnecting {sim.connections} connection(s) with code {a.code}")
    await sim.disconnect_all(a.code)


def _drop(sim: Simulator, a: sc.DropAction) -> None:
    sim.drop_messages(a.count)


def _stall(sim: Simulator, a: sc.StallAction) -> None:
    sim.stall(a.seconds / sim.settings.time_scale)


def _fail(sim: Simulator, a: sc.FailSnapshotsAction) -> None:
    sim.fail_snapshots(a.channel, a.count, legacy=a.legacy)


def _delay(sim: Simulator, a: sc.DelaySnapshotsAction) -> None:
    sim.delay_snapshots(a.channel, a.seconds / sim.settings.time_scale)


def _refuse(sim: Simulator, a: sc.RefuseAction) -> None:
    sim.refuse_connections(a.refuse)
    if a.refuse and a.for_ is not None:
        later = a.for_ / sim.settings.time_scale
        asyncio.get_running_loop().call_later(later, sim.refuse_connections, False)


def _log(sim: Simulator, text: str) -> None:
    sim.narrate(text)


_HANDLERS: dict[str, Any] = {
    "price": _price,
    "order": _order,
    "fill": _fill,
    "cancel": _cancel,
    "trigger": _trigger,
    "liquidate": _liquidate,
    "funding": _funding,
    "transfer": _transfer,
    "disconnect": _disconnect,
    "drop": _drop,
    "stall": _stall,
    "fail_snapshots": _fail,
    "delay_snapshots": _delay,
    "refuse_connections": _refuse,
    "log": _log,
}
