"""The bot under test: its rules file, in-process (App) or as a real `alertbot run` process."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from alertbot.app import App
from alertbot.config_load import load_config
from alertbot.sim import Simulator
from bench.soak.tally import ACC

RULES = """
version: 1
source:
  ws_url: {ws}
  rest_url: {rest}
  subaccounts: [{acc}]
  markets: [BTC-USD]
  reconnect: {{initial: 1s, max: {reconnect_max}}}
  silence_timeout: {silence}
  polling: {{after: {poll_after}, interval: {poll_interval}}}
  snapshot_retry: {snapshot_retry}
  rejected_retry: {rejected_retry}
state_dir: {state}
http: {{enabled: {http}, listen: "127.0.0.1:0"}}
notifiers:
{notifiers}
delivery:
  backoff: {{initial: 1s, max: {backoff_max}}}
  timeout: {timeout}
  max_retry_after: {max_retry_after}
  drain_timeout: 1s
rules:
  - name: filled
    on: fill
    notify: [{targets}]
    title: "Fill {{{{ id }}}}"
    group_interval: {group_interval}
{extra_rules}"""


def write_rules(
    path: Path,
    sim: Simulator,
    notifiers: dict[str, str],
    *,
    extra_rules: str = "",
    **knobs: str,
) -> Path:
    """A rules file: one `filled` rule telling every fill to every notifier in `notifiers`."""
    values = {  # the product's defaults (docs/delivery.md, source config), except grouping
        "reconnect_max": "2m",
        "silence": "60s",
        "poll_after": "30s",
        "poll_interval": "10s",
        "http": "false",
        "backoff_max": "5m",
        "timeout": "10s",
        "max_retry_after": "15m",
        "group_interval": "1s",  # the default is 5 s; 1 s makes recovery times about the fault
        "snapshot_retry": "60s",
        "rejected_retry": "300s",
    }
    values.update(knobs)
    lines = "\n".join(f"  {name}: {spec}" for name, spec in notifiers.items())
    text = RULES.format(
        ws=sim.ws_url,
        rest=sim.rest_url,
        acc=ACC,
        state=path.parent / "state",
        notifiers=lines,
        targets=", ".join(notifiers),
        extra_rules=extra_rules,
        **values,
    )
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Running:
    """An App running in a task of this process."""

    app: App
    task: asyncio.Task[None]

    def ended(self) -> str | None:
        """Why the run ended by itself (a configuration error, a crash), or None: running."""
        if not self.task.done():
            return None
        error = None if self.task.cancelled() else self.task.exception()
        return f"{type(error).__name__}: {error}" if error else "ended"


@asynccontextmanager
async def in_process(path: Path) -> AsyncIterator[Running]:
    """Run an App for `path` in this process; stop it (ordered, bounded) on exit."""
    app = App(load_config(path, env={}), config_path=path, out=io.StringIO(), env={})
    task = asyncio.create_task(app.run(), name="soak-app")
    ready = asyncio.create_task(app.ready.wait())
    await asyncio.wait({ready, task}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if task.done():
        task.result()  # a start-up error: raise it
    try:
        yield Running(app, task)
    finally:
        app.stop()
        await asyncio.wait({task}, timeout=30)
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def environment() -> dict[str, str]:
    """This environment without ALERTBOT_* overrides."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("ALERTBOT_")}
    out["PYTHONUNBUFFERED"] = "1"
    return out


async def spawn(path: Path, log: Path) -> asyncio.subprocess.Process:
    """A real `alertbot run -c path`, its output appended to `log` (never an unread pipe)."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "alertbot",
            "run",
            "-c",
            str(path),
            stdout=out,
            stderr=out,
            env=environment(),
        )


async def kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL and reap."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGKILL)
    await proc.wait()


async def terminate(proc: asyncio.subprocess.Process) -> int:
    """SIGTERM, wait (bounded), SIGKILL if it would not stop."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(proc.wait(), 30)
    except TimeoutError:
        await kill(proc)
        return -9
