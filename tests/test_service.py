"""alertbot run as a service: hot reload (SIGHUP and file changes) and ordered stops."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario
from tests.test_cli import ACC, TIMEOUT, lines_until, start, stop

HEAD = """
version: 1
source: {{ws_url: "{ws}", rest_url: "{rest}", subaccounts: [{acc}], markets: [BTC-USD]}}
state_dir: {state}
http: {{listen: "127.0.0.1:0"}}
rules:
  - name: account-seen
    on: account
    when: equity > 0
    title: "Watching {{{{ address }}}}"
  - name: order-filled
    on: order.filled
    title: "Filled {{{{ side }}}} {{{{ size }}}} {{{{ ticker }}}}"
"""
FILL_RULE = """
  - name: fill-seen
    on: fill
    title: "{title} {{{{ size }}}}"
"""


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("demo"), SimSettings(block_interval=0.2)) as simulator:
        yield simulator


def write(path: Path, sim: Simulator, extra: str = "") -> None:
    head = HEAD.format(ws=sim.ws_url, rest=sim.rest_url, acc=ACC, state=path.parent / "state")
    path.write_text(head + extra, encoding="utf-8")


def footer(rule: str):
    return lambda line: line.startswith(f"{rule} · since")


async def test_reload_on_sighup_and_on_file_change(sim, tmp_path):
    rules = tmp_path / "rules.yaml"
    write(rules, sim)
    proc = await start("run", "-c", str(rules))
    try:
        await lines_until(proc, footer("account-seen"))
        # 1. an invalid file is refused, the old rules stay active, and an alert says so
        write(rules, sim, FILL_RULE.format(title="{{ nope(") + "\n")
        proc.send_signal(signal.SIGHUP)
        refused = await lines_until(proc, lambda line: "Config reload refused" in line)
        assert "rules.yaml has" in refused[-1]
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900))
        await lines_until(proc, footer("order-filled"))
        # 2. a valid file on SIGHUP: the new rule works, unchanged alerts are not told again
        write(rules, sim, FILL_RULE.format(title="Fill"))
        proc.send_signal(signal.SIGHUP)
        await lines_until(proc, lambda line: "reloaded" in line, stderr=True)
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "SELL", 0.02, 59900))
        out = await lines_until(proc, footer("fill-seen"))
        assert "[WARNING] Fill 0.02" in out
        assert not any(line.startswith("account-seen") for line in out)
        # 3. a file change alone (no signal) is picked up by the watcher
        write(rules, sim, FILL_RULE.format(title="Fill again"))
        await lines_until(proc, lambda line: "reloaded" in line, stderr=True)
        sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.03, 59900))
        out = await lines_until(proc, lambda line: line.startswith("[WARNING] Fill again"))
        assert out[-1] == "[WARNING] Fill again 0.03"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
    finally:
        await stop(proc)


async def test_second_signal_forces_exit(sim, tmp_path):
    rules = tmp_path / "rules.yaml"
    write(rules, sim)
    proc = await start("run", "-c", str(rules))
    try:
        await lines_until(proc, footer("account-seen"))
        await sim.disconnect_all(1012)
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) in (0, 130)
    finally:
        await stop(proc)


def refused(tmp_path: Path, capsys, config: str) -> str:
    """Run `alertbot run` on a config that must be refused; its single stderr line."""
    from alertbot.cli import main

    rules = tmp_path / "rules.yaml"
    source = f"source: {{subaccounts: [{ACC}], ws_url: 'ws://127.0.0.1:9/v4/ws'}}\n"
    rules.write_text(source + config, encoding="utf-8")
    assert main(["run", "-c", str(rules)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    return err[0]


def test_unwritable_state_dir_is_refused_with_one_line(tmp_path, capsys):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state folder should be", encoding="utf-8")
    assert str(blocker) in refused(tmp_path, capsys, f"state_dir: {blocker}\n")


def test_port_in_use_is_refused_with_one_line(tmp_path, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = f'state_dir: {tmp_path / "state"}\nhttp: {{listen: "127.0.0.1:{port}"}}\n'
        line = refused(tmp_path, capsys, config)
    assert f"127.0.0.1:{port}" in line
    assert "in use" in line
