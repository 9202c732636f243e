"""Running `App` in-process against the simulator and a local webhook sink (real sockets)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from alertbot.app import App
from alertbot.config_load import load_config
from alertbot.sim import Simulator
from tests.test_cli import ACC

TIMEOUT = 15.0

HEAD = """
version: 1
source:
  ws_url: {ws}
  rest_url: {rest}
  subaccounts: [{acc}]
  markets: [BTC-USD]
  reconnect: {{initial: 50ms, max: 200ms}}
  reconcile_delay: 100ms
state_dir: {state}
{plugins}http: {{listen: "127.0.0.1:0", unhealthy_after: {unhealthy}}}
notifiers:
  hook: {{type: webhook, url: "{hook}"}}
delivery:
  backoff: {{initial: {backoff}, max: {backoff}}}
  drain_timeout: 500ms  # a stop with a failing sink ends fast (and leaves it pending)
"""


def write_config(
    path: Path,
    sim: Simulator,
    hook: str,
    rules: str,
    *,
    extra: str = "",
    plugins: Path | None = None,
    unhealthy: str = "2m",
    backoff: str = "50ms",
) -> Path:
    """A rules file for `sim` delivering to `hook`, state beside it."""
    head = HEAD.format(
        ws=sim.ws_url,
        rest=sim.rest_url,
        acc=ACC,
        state=path.parent / "state",
        plugins=f"plugins_dir: {plugins}\n" if plugins else "",
        hook=hook,
        unhealthy=unhealthy,
        backoff=backoff,
    )
    path.write_text(head + extra + "rules:\n" + rules, encoding="utf-8")
    return path


@dataclass
class Run:
    """An App running in a task."""

    app: App
    task: asyncio.Task[None]

    async def ended(self) -> None:
        """Wait (bounded) until the run ends by itself; raise what it raised."""
        await asyncio.wait_for(asyncio.shield(self.task), TIMEOUT)


@asynccontextmanager
async def running(path: Path) -> AsyncIterator[Run]:
    """Run an App for `path`; on exit stop it, wait for its task and raise what the run raised."""
    app = App(load_config(path, env={}), config_path=path, out=io.StringIO(), env={})
    run = Run(app, asyncio.create_task(app.run()))
    try:
        async with asyncio.timeout(TIMEOUT):
            ready = asyncio.create_task(app.ready.wait())
            await asyncio.wait({ready, run.task}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
            if run.task.done():
                run.task.result()  # a start-up error: raise it here
        yield run
    finally:
        app.stop()
        await asyncio.wait({run.task}, timeout=TIMEOUT)
        if not run.task.done():
            run.task.cancel()
    run.task.result()  # a crash surfaces to the test


async def until(predicate: Callable[[], object], what: str, limit: float = TIMEOUT) -> None:
    """Wait, bounded by `limit`, until `predicate()` holds (app state offers no event to await)."""
    try:
        async with asyncio.timeout(limit):
            while not predicate():  # noqa: ASYNC110 - polls another task's state, bounded
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None
