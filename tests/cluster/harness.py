"""Replicas as real `alertbot run` processes on one PostgreSQL, the simulator and a webhook sink.

Shared by the end-to-end tests and bench/cluster.py: each replica has its own rules file (only
`replica_id` differs) and its own log file; the lease table is read directly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from alertbot.cluster.assign import LEADER, lease_name, shard_of
from alertbot.sim import Simulator
from tests.notify.fakes import FakeHttp, Reply, Request

ADDRESS = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"


def accounts(n: int) -> list[str]:
    """The watched subaccounts: one address, numbers 0..n-1."""
    return [f"{ADDRESS}/{i}" for i in range(n)]


@dataclass
class Timing:
    """Lease timing (small in tests, so they are fast)."""

    shards: int = 12
    lease_ttl: float = 3.0
    heartbeat: float = 0.5
    fence_margin: float = 1.0
    max_moves: int = 12


def rules_text(
    sim: Simulator, hook: str, dsn: str, n: int, replica: str, t: Timing, port: int | None = None
) -> str:
    http = "{enabled: false}" if port is None else f'{{listen: "127.0.0.1:{port}"}}'
    subs = "\n".join(f"    - {key}" for key in accounts(n))
    return f"""
version: 1
source:
  ws_url: {sim.ws_url}
  rest_url: {sim.rest_url}
  subaccounts:
{subs}
  reconnect: {{initial: 50ms, max: 500ms}}
  reconcile_delay: 200ms
  reconcile_interval: 0
  polling: {{enabled: false}}
state:
  backend: postgresql
  dsn: "{dsn}"
  claim_ttl: 2s
cluster:
  replica_id: {replica}
  shards: {t.shards}
  lease_ttl: {t.lease_ttl}s
  heartbeat: {t.heartbeat}s
  fence_margin: {t.fence_margin}s
  max_moves: {t.max_moves}
http: {http}
notifiers:
  hook: {{type: webhook, url: "{hook}"}}
delivery:
  backoff: {{initial: 50ms, max: 200ms}}
rules:
  - name: fill-seen
    on: fill
    group_interval: 100ms
    title: "Fill {{{{ id }}}}"
"""


@dataclass
class Arrivals:
    """Every alert title the sink got, with when (the sink's clock)."""

    seen: list[tuple[float, str]] = field(default_factory=list)

    def respond(self, request: Request) -> Reply:
        now = time.time()
        if request.method == "POST":
            for alert in request.json()["alerts"]:  # a grouped one lists its members
                for member in alert["members"] or [alert]:
                    self.seen.append((now, member["title"]))
        return (200, {}, b"ok")

    def titles(self) -> list[str]:
        return [t for _, t in self.seen]

    def count(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, title in self.seen:
            out[title] = out.get(title, 0) + 1
        return out


class Cluster:
    """N replicas, started, killed and stopped by index."""

    def __init__(
        self,
        sim: Simulator,
        sink: FakeHttp,
        dsn: str,
        folder: Path,
        *,
        n: int,
        replicas: int,
        timing: Timing | None = None,
        ports: list[int] | None = None,
    ) -> None:
        self.sim, self.dsn, self.folder, self.n = sim, dsn, folder, n
        self.timing = timing or Timing()
        self.arrivals = Arrivals()
        sink.respond = self.arrivals.respond
        self.names = [f"r{i}" for i in range(replicas)]
        self.paths = []
        self.ports = ports
        for i, name in enumerate(self.names):
            path = folder / f"{name}.yaml"
            port = ports[i] if ports else None
            text = rules_text(sim, sink.url(), dsn, n, name, self.timing, port)
            path.write_text(text, "utf-8")
            self.paths.append(path)
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        for key in accounts(n):
            sim.exchange.add_account(key, 1000.0)

    def shard(self, key: str) -> int:
        return shard_of(key, self.timing.shards)

    async def start(self, name: str) -> None:
        index = self.names.index(name)
        log = (self.folder / f"{name}.log").open("ab")  # the child writes it
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTBOT_")}
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "alertbot", "run", "-c", str(self.paths[index]),
            stdout=log, stderr=log, env={**env, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        log.close()

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)

    async def stop(self) -> dict[str, int | None]:
        """SIGINT every running replica; their exit codes (None: had to be killed)."""
        codes: dict[str, int | None] = {}
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGINT)
        for name, proc in self.procs.items():
            try:
                codes[name] = await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                codes[name] = None
        return codes

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text("utf-8", errors="replace")

    def owners(self) -> dict[str, str]:
        """Lease name -> owner, for leases unexpired now (by this host's clock)."""
        try:
            with psycopg.connect(self.dsn, connect_timeout=3) as conn:
                rows = conn.execute(
                    "SELECT name, owner FROM alertbot_cluster.leases WHERE expires_at > %s",
                    (time.time(),),
                ).fetchall()
        except psycopg.Error:  # the table is made by the first replica's first round
            return {}
        return {str(n): str(o) for n, o in rows}

    def leases(self) -> dict[str, tuple[str, float, float, float]]:
        """Lease name -> (owner, acquired_at, renewed_at, expires_at), expired ones too."""
        with psycopg.connect(self.dsn, connect_timeout=3) as conn:
            rows = conn.execute(
                "SELECT name, owner, acquired_at, renewed_at, expires_at "
                "FROM alertbot_cluster.leases"
            ).fetchall()
        return {str(r[0]): (str(r[1]), float(r[2]), float(r[3]), float(r[4])) for r in rows}

    async def taken_over(self, victim: str, limit: float) -> float:
        """When every shard and the leader were first held by replicas other than `victim`."""

        def done() -> bool:
            owners = self.owners()
            names = [lease_name(s) for s in range(self.timing.shards)] + [LEADER]
            return all(owners.get(n) not in (None, victim) for n in names)

        return await until(done, f"{victim}'s leases taken over", limit)

    def reachable(self) -> bool:
        """The test database takes connections."""
        try:
            with psycopg.connect(self.dsn, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def shard_owners(self) -> dict[int, str]:
        owners = self.owners()
        found = {s: owners.get(lease_name(s)) for s in range(self.timing.shards)}
        return {s: o for s, o in found.items() if o is not None}

    def leader(self) -> str | None:
        return self.owners().get(LEADER)

    def subscribed(self) -> dict[str, int]:
        """Per watched subaccount: how many simulator sessions carry its subscription."""
        out = dict.fromkeys(accounts(self.n), 0)
        for session in list(self.sim._sessions):
            for channel, sub_id in list(session.subs):
                if channel == "v4_subaccounts" and sub_id in out:
                    out[sub_id] += 1
        return out

    def trade_all(self) -> dict[str, str]:
        """One filled order on every subaccount; fill id by subaccount."""
        self.sim.new_block()
        fills = {}
        for key in accounts(self.n):
            fills[key] = self.sim.fill_order(
                self.sim.place_order(key, "ETH-USD", "BUY", 0.01, 3000)
            )
        self.sim.new_block()
        return fills


async def until(predicate, what: str, limit: float) -> float:
    """Poll (bounded) until `predicate()`; the time it became true."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit:g}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.time()
