"""The server's and the receivers' faults, each a `Case` (durations from `Scale`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench.soak.runner import Case, Stage
from bench.soak.tally import ACC


@dataclass(frozen=True)
class Scale:
    """How long "for minutes" lasts: short by default, the issue's durations with --long."""

    away: float = 20.0  # server gone, receivers down
    stall: float = 75.0  # longer than the bot's 60 s silence timeout
    drops: int = 3  # disconnects per close code

    @classmethod
    def long(cls) -> Scale:
        """The real durations."""
        return cls(away=120.0, stall=150.0, drops=10)


GARBAGE = [
    '{"type":["x"]}',
    "not json",
    "",
    "[]",
    "null",
    '{"type":"channel_data"}',
    '{"type":"channel_data","channel":"v4_subaccounts","id":"' + ACC + '","contents":7}',
    '{"type":"channel_batch_data","channel":"v4_subaccounts","id":"' + ACC + '","contents":[7]}',
    '{"type":"subscribed","channel":"v4_subaccounts","id":"' + ACC + '","contents":null}',
    '{"type":"error","message":"x"}',
    '{"type":"connected"}',
    '{"message_id":"NaN","type":"channel_data","channel":"v4_markets","contents":{}}',
    "\u0000\u0001 control bytes",
]


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def drops(scale: Scale) -> list[Case]:
    """The connection dropped repeatedly, once per close code."""

    def fault(code: int):
        async def run(stage: Stage) -> None:
            for _ in range(scale.drops):
                await stage.sim.disconnect_all(code)
                await _sleep(2.0)

        return run

    return [
        Case(f"drop {code}", f"{scale.drops}x close {code}, 2 s apart", fault(code))
        for code in (1006, 1011, 1012)
    ]


async def _stall(stage: Stage, seconds: float) -> None:
    stage.sim.stall(seconds)
    await _sleep(seconds)


async def _garbage(stage: Stage) -> None:
    for _ in range(5):
        for frame in GARBAGE:
            stage.sim.send_raw(frame)
        await _sleep(0.5)


async def _binary(stage: Stage) -> None:
    for _ in range(5):
        await _send_binary(stage, b"\x00\x01\xff binary")
        await _sleep(0.5)


async def _huge(stage: Stage) -> None:
    padding = "x" * (20 * 1024 * 1024)
    stage.sim.send_raw('{"type":"channel_data","channel":"v4_markets","pad":"' + padding + '"}')
    await _sleep(1.0)
    stage.sim.send_raw(padding)  # 20 MB that is not JSON
    await _sleep(1.0)
    await _send_binary(stage, padding.encode())
    await _sleep(1.0)


async def _send_binary(stage: Stage, data: bytes) -> None:
    """A binary frame on every open connection (the simulator's `send_raw` sends text only)."""
    for session in list(stage.sim._sessions):  # the simulator's own sockets: no control for it
        await session.ws.send(data, text=False)


async def _skips(stage: Stage) -> None:
    for n in (1, 2, 5, 1, 3):
        stage.sim.drop_messages(n)
        await _sleep(2.0)


def server(scale: Scale) -> list[Case]:
    """Every server fault of the issue."""
    return [
        *drops(scale),
        Case("stall", f"{scale.stall:.0f} s, socket open", lambda s: _stall(s, scale.stall)),
        Case("stall short", "5 s (under the silence timeout)", lambda s: _stall(s, 5.0)),
        Case("garbage", f"5x {len(GARBAGE)} malformed text frames", _garbage),
        Case("binary", "5 binary frames", _binary),
        Case("20 MB frames", "20 MB JSON, text, binary", _huge),
        Case("message_id gaps", "skip 1, 2, 5, 1, 3 data messages", _skips),
        *subscribe_errors(scale),
        Case("server away", f"{scale.away:.0f} s refused + 1006", lambda s: _away(s, scale.away)),
    ]


async def _away(stage: Stage, seconds: float) -> None:
    stage.sim.refuse_connections(True)
    await stage.sim.disconnect_all(1006)
    await _sleep(seconds)
    stage.sim.refuse_connections(False)


async def _resubscribe(stage: Stage, seconds: float) -> None:
    """Make the bot subscribe again while the fault is on (a 1012 restart), hold it, lift it."""
    await stage.sim.disconnect_all(1012)
    await _sleep(seconds)


def subscribe_errors(scale: Scale) -> list[Case]:
    """Subscribes answered with each error the server chooses (the rest need a bad client)."""
    hold = min(scale.away, 20.0)

    async def fetch(stage: Stage, legacy: bool = False, count: int = 1) -> None:
        stage.sim.fail_snapshots("v4_subaccounts", count, legacy=legacy)
        await _resubscribe(stage, hold)

    async def compliance(stage: Stage) -> None:
        stage.sim.block_address(ACC.split("/")[0])
        await _resubscribe(stage, hold)
        stage.sim._blocked.clear()  # the simulator has no unblock control
        await stage.sim.disconnect_all(1012)

    async def cap(stage: Stage) -> None:
        stage.sim.settings.caps["v4_subaccounts"] = 0
        await _resubscribe(stage, hold)
        del stage.sim.settings.caps["v4_subaccounts"]
        await stage.sim.disconnect_all(1012)

    async def rate(stage: Stage) -> None:
        points = stage.sim.settings.subscribe_rate_points
        stage.sim.settings.subscribe_rate_points = 0
        await _resubscribe(stage, hold)
        stage.sim.settings.subscribe_rate_points = points
        await stage.sim.disconnect_all(1012)

    return [
        Case("subscribe: fetch error", "1 failed snapshot (snapshot_retry 60 s)", fetch),
        Case("subscribe: legacy fetch", "the same, no channel/id", lambda s: fetch(s, legacy=True)),
        Case("subscribe: fetch error x3", "3 failures in a row", lambda s: fetch(s, count=3)),
        Case(
            "subscribe: compliance",
            f"blocked {hold:.0f} s (rejected_retry 30 s)",
            compliance,
            knobs={"rejected_retry": "30s"},
        ),
        Case("subscribe: cap reached", f"cap 0 for {hold:.0f} s", cap),
        Case("subscribe: rate limited", f"every subscribe, {hold:.0f} s (1008)", rate),
    ]


def receivers(scale: Scale) -> list[Case]:
    """The webhook and the SMTP server misbehaving, then back."""
    away = scale.away

    def hook(mode: str, seconds: float, *, delay: float = 0.0, retry_after: str = "86400"):
        async def run(stage: Stage) -> None:
            stage.hook.delay = delay
            stage.hook.retry_after = retry_after
            await stage.hook.set_mode(mode)
            await _sleep(seconds)
            await stage.hook.set_mode("ok")

        return run

    async def smtp_down(stage: Stage) -> None:
        assert stage.inbox is not None
        stage.inbox.stop()
        await _sleep(away)
        stage.inbox.start()

    async def smtp_slow(stage: Stage) -> None:
        assert stage.inbox is not None
        stage.inbox.delay = 2.0
        await _sleep(away)
        stage.inbox.delay = 0.0

    cap = {"max_retry_after": "30s"}
    cases = [
        Case("webhook down", f"port closed {away:.0f} s", hook("down", away)),
        Case("webhook slow", f"2 s per answer for {away:.0f} s", hook("slow", away, delay=2.0)),
        Case("webhook never answers", f"{away:.0f} s (send timeout 10 s)", hook("hang", away)),
        Case(
            "webhook 429",
            f"Retry-After 86400 for {away:.0f} s, max_retry_after 30 s",
            hook("429", away),
            knobs=cap,
        ),
        Case("webhook 500", f"{away:.0f} s", hook("500", away)),
        Case("smtp down", f"port closed {away:.0f} s", smtp_down, mail=True),
        Case("smtp slow", f"2 s per DATA for {away:.0f} s", smtp_slow, mail=True),
    ]
    for case in cases:  # the delivery backoff (1 s to 5 min, full jitter) can outlast an outage
        case.limit = max(case.limit, 400.0)
    return cases
