"""The commands as a user runs them: real subprocesses against the simulator on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from alertbot.sim import SimSettings, Simulator, load_scenario

ACC = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"
TIMEOUT = 15.0


def write_rules(path: Path, ws_url: str, rest_url: str) -> Path:
    path.write_text(
        f"""
version: 1
source:
  ws_url: {ws_url}
  rest_url: {rest_url}
  subaccounts: [{ACC}]
  markets: [BTC-USD]
  reconnect: {{initial: 50ms, max: 200ms}}
state_dir: {path.parent / "state"}
http: {{listen: "127.0.0.1:0"}}
rules:
  - name: account-seen
    on: account
    when: equity > 0
    title: "Watching {{{{ address }}}}"
  - name: order-filled
    on: order.filled
    title: "Filled {{{{ side }}}} {{{{ size }}}} {{{{ ticker }}}}"
  - name: equity-low
    on: account
    when: equity < 1000
    for: 30s
    resolve_when: equity >= 1100
    severity: critical
    title: "Equity low"
    message: "Equity {{{{ equity | round(2) }}}}"
  - name: reconnect-storm
    on: connection.reconnect
    count: 3
    within: 2m
""",
        encoding="utf-8",
    )
    return path


def env() -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("ALERTBOT_")}
    out["PYTHONUNBUFFERED"] = "1"
    return out


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alertbot",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env(),
    )


async def lines_until(proc: asyncio.subprocess.Process, predicate, *, stderr=False) -> list[str]:
    """Read stdout (or stderr) lines until one satisfies `predicate` (bounded by TIMEOUT)."""
    seen: list[str] = []
    stream = proc.stderr if stderr else proc.stdout

    async def read() -> list[str]:
        assert stream is not None
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError(f"process ended; stdout so far: {seen}")
            seen.append(line.rstrip("\n"))
            if predicate(seen[-1]):
                return seen

    return await asyncio.wait_for(read(), TIMEOUT)


async def stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    return await asyncio.wait_for(proc.wait(), TIMEOUT)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(load_scenario("demo"), SimSettings(block_interval=0.2)) as simulator:
        yield simulator


async def test_tail_json_prints_one_object_per_event(sim, tmp_path):
    rules = write_rules(tmp_path / "rules.yaml", sim.ws_url, sim.rest_url)
    proc = await start("tail", "-c", str(rules), "--json")
    try:
        out = await lines_until(proc, lambda line: '"kind":"account"' in line)
    finally:
        assert await stop(proc) == 0
    event = orjson.loads(out[-1])
    assert event["kind"] == "account"
    assert event["at"].endswith("Z")
    assert event["at"][10] == "T"
    assert event["address"] == ACC.split("/")[0]
    assert event["equity"] == pytest.approx(1200.0)
    assert isinstance(event["equity"], float)


async def test_tail_text_filters_kinds(sim, tmp_path):
    rules = write_rules(tmp_path / "rules.yaml", sim.ws_url, sim.rest_url)
    proc = await start("tail", "-c", str(rules), "--kind", "block")
    try:
        out = await lines_until(proc, lambda line: " block " in line)
    finally:
        await stop(proc)
    assert all(" block " in line for line in out)
    assert "height=" in out[-1]


async def test_record_then_replay_finds_the_reconnects(sim, tmp_path):
    rules = write_rules(tmp_path / "rules.yaml", sim.ws_url, sim.rest_url)
    recording = tmp_path / "rec.jsonl"
    proc = await start("record", "-c", str(rules), "-o", str(recording))
    try:
        await lines_until(proc, lambda line: "connection.connected" in line, stderr=True)
        for _ in range(3):  # `record` echoes connection events on stderr
            await sim.disconnect_all(1006)
            await lines_until(proc, lambda line: "connection.reconnect" in line, stderr=True)
    finally:
        assert await stop(proc) == 0
    items = [orjson.loads(line) for line in recording.read_bytes().splitlines()]
    assert {"t", "conn", "msg"} <= set(items[0])
    assert items[0]["msg"]["type"] == "connected"
    assert sum(1 for i in items if i.get("msg", {}).get("type") == "connected") == 4
    replay = await start("replay", "-c", str(rules), str(recording), "--json")
    out, err = await asyncio.wait_for(replay.communicate(), TIMEOUT)
    assert replay.returncode == 0, err.decode()
    notes = [orjson.loads(line) for line in out.splitlines()]
    storm = [n for n in notes if n["rule"] == "reconnect-storm"]
    assert len(storm) == 1
    assert storm[0]["status"] == "firing"
    assert set(storm[0]) == {"rule", "status", "severity", "labels", "title", "message", "at"}


async def test_run_alerts_and_stops_on_sigterm(sim, tmp_path):
    rules = write_rules(tmp_path / "rules.yaml", sim.ws_url, sim.rest_url)
    proc = await start("run", "-c", str(rules))
    try:
        # the account snapshot (the baseline) has been processed once this alert is out
        await lines_until(proc, lambda line: line.startswith("account-seen · since"))
        order = sim.place_order(ACC, "BTC-USD", "BUY", 0.01, 59900)
        sim.fill_order(order)
        out = await lines_until(proc, lambda line: line.startswith("order-filled · since"))
        assert "[WARNING] Filled BUY 0.01 BTC-USD" in out
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), TIMEOUT) == 0
    finally:
        await stop(proc)


def recording_lines(*lines: dict) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def test_replay_runs_on_the_recording_clock(tmp_path, capsys):
    """Equity below 1000 for 30 s of recording time fires at that time; reconnects are inferred."""
    from alertbot.cli import main

    snapshot = orjson.loads(
        (Path(__file__).parent / "data" / "subaccount_snapshot.json").read_bytes()
    )
    connected = {"type": "connected", "connection_id": "c", "message_id": 0}

    def subscribed(mid: int) -> dict:
        return {
            "type": "subscribed",
            "connection_id": "c",
            "message_id": mid,
            "channel": "v4_subaccounts",
            "id": ACC,
            "contents": snapshot,
        }

    t0 = 1_700_000_000.0
    body = [
        {"t": t0, "conn": 0, "msg": connected},
        {"t": t0 + 0.1, "conn": 0, "msg": subscribed(1)},
    ]
    for n in range(4, 7):  # three reconnects, as a recording shows them: a new `connected`
        body += [
            {"t": t0 + 10 * n, "conn": 0, "msg": connected},
            {"t": t0 + 10 * n + 0.1, "conn": 0, "msg": subscribed(1)},
        ]
    (tmp_path / "rec.jsonl").write_bytes(recording_lines(*body))
    rules = write_rules(tmp_path / "rules.yaml", "ws://127.0.0.1:1/v4/ws", "http://127.0.0.1:1/v4")
    assert main(["replay", "-c", str(rules), str(tmp_path / "rec.jsonl"), "--json"]) == 0
    notes = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    low = [n for n in notes if n["rule"] == "equity-low"]
    assert low[0]["status"] == "firing"
    assert low[0]["at"] == "2023-11-14T22:13:50.100Z"  # 30 s after the first low snapshot
    assert low[0]["message"] == "Equity 900.5"
    storm = [n for n in notes if n["rule"] == "reconnect-storm"]
    assert storm[0]["at"] == "2023-11-14T22:14:20.000Z"  # the third inferred reconnect


def test_replay_text_summary(tmp_path, capsys):
    from alertbot.cli import main

    (tmp_path / "rec.jsonl").write_bytes(
        recording_lines({"t": 1.0, "conn": 0, "msg": {"type": "connected", "message_id": 0}})
    )
    rules = write_rules(tmp_path / "rules.yaml", "ws://127.0.0.1:1/v4/ws", "http://127.0.0.1:1/v4")
    assert main(["replay", "-c", str(rules), str(tmp_path / "rec.jsonl")]) == 0
    assert "replayed 1 events" in capsys.readouterr().out


def test_bad_config_is_refused_before_connecting(tmp_path, capsys):
    from alertbot.cli import main

    bad = tmp_path / "rules.yaml"
    bad.write_text("source:\n  subaccounts: [dydx1notanaddress/0]\n", encoding="utf-8")
    for command in ("tail", "run", "record"):
        extra = ["-o", str(tmp_path / "x.jsonl")] if command == "record" else []
        assert main([command, "-c", str(bad), *extra]) in (1, 2)
        err = capsys.readouterr().err
        assert f"{bad}:2:17: source.subaccounts[0]:" in err
    assert main(["tail", "-c", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read config" in capsys.readouterr().err


def test_bad_recording_names_the_line(tmp_path, capsys):
    from alertbot.cli import main

    rec = tmp_path / "rec.jsonl"
    rec.write_bytes(b'{"t": 1, "conn": 0, "msg": {}}\nnot json\n')
    rules = write_rules(tmp_path / "rules.yaml", "ws://127.0.0.1:1/v4/ws", "http://127.0.0.1:1/v4")
    assert main(["replay", "-c", str(rules), str(rec)]) == 2
    assert f"{rec}:2: not JSON" in capsys.readouterr().err
