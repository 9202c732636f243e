"""The bundled dYdX Indexer simulator: the whole product runs and is tested with no internet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from alertbot.sim.scenario import Scenario, load_scenario
from alertbot.sim.server import Simulator
from alertbot.sim.settings import SimSettings

__all__ = [
    "ORACLE_INTERVAL",
    "Scenario",
    "SimSettings",
    "Simulator",
    "load_scenario",
    "run_simulator",
    "simulate_settings",
]
ORACLE_INTERVAL = 5.0  # `alertbot simulate` re-sends oracle prices this often, as the Indexer does


async def run_simulator(
    port: int, scenario: str | None, *, time_scale: float = 1.0, loop_timeline: bool = False
) -> None:
    """`alertbot simulate`: serve, play the timeline (demo by default), serve until cancelled."""
    world = load_scenario(scenario or "demo")
    sim = Simulator(world, simulate_settings(port, time_scale))
    sim.narrate = _narrator()
    await sim.start()
    try:
        print(f"simulator listening on {sim.ws_url} (REST {sim.rest_url})", flush=True)
        while True:
            await sim.play()
            if not loop_timeline:
                break
        sim.narrate(f"timeline of {world.name!r} finished; still serving (Ctrl-C to stop)")
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def simulate_settings(port: int, time_scale: float = 1.0) -> SimSettings:
    """What `alertbot simulate` serves with: the Indexer's timings, and a live market feed."""
    return SimSettings(port=port, time_scale=time_scale, oracle_interval=ORACLE_INTERVAL)


def _narrator() -> Callable[[str], None]:
    start = asyncio.get_running_loop().time()

    def say(text: str) -> None:
        elapsed = asyncio.get_running_loop().time() - start
        print(f"[sim +{elapsed:5.1f}s] {text}", flush=True)

    return say
