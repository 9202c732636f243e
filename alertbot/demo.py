"""`make demo`: the bundled simulator plays the demo scenario and alertbot alerts on it, live.

Everything runs on loopback in one process: the simulator (a local Indexer), the bot with the
repository's rules.yaml pointed at it, and the console notifier. About a minute, then it stops.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from alertbot.app import App
from alertbot.logs import setup_logging
from alertbot.rules.check import load_checked
from alertbot.sim import SimSettings, Simulator, load_scenario

SETTLE = 3.0  # seconds after the timeline for the last alerts to be told


async def demo(rules: Path, speed: float = 1.0) -> int:
    """Run the demo; returns how many notifications were sent."""
    config = load_checked(rules)
    with tempfile.TemporaryDirectory(prefix="alertbot-demo-") as state:
        config = config.model_copy(update={"state_dir": state})
        settings = SimSettings(time_scale=speed)
        async with Simulator(load_scenario("demo"), settings) as sim:
            sim.narrate = _narrator()
            print(f"simulator on {sim.ws_url}; alertbot running {rules} against it\n", flush=True)
            app = App(
                config, env={"ALERTBOT_WS_URL": sim.ws_url, "ALERTBOT_REST_URL": sim.rest_url}
            )
            bot = asyncio.create_task(app.run(), name="alertbot-demo")
            await sim.play()
            await asyncio.sleep(SETTLE / speed)
            app.stop()
            await bot
    print(f"\ndemo done: {app.notifications} notifications", flush=True)
    return app.notifications


def _narrator() -> Callable[[str], None]:
    start = time.monotonic()

    def say(text: str) -> None:
        print(f"--- sim +{time.monotonic() - start:5.1f}s  {text}", flush=True)

    return say


def main() -> int:
    """Entry point of `python -m alertbot.demo [RULES] [--speed X]`."""
    args = sys.argv[1:]
    speed = float(args[args.index("--speed") + 1]) if "--speed" in args else 1.0
    rules = Path(next((a for a in args if a.endswith((".yaml", ".yml"))), "rules.yaml"))
    setup_logging("warning")
    sent = asyncio.run(demo(rules, speed))
    return 0 if sent else 1


if __name__ == "__main__":
    raise SystemExit(main())
