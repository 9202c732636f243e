"""`alertbot status`: the cluster as the database sees it (replicas, shards, leader, outbox)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from alertbot.cluster.assign import LEADER, lease_name
from alertbot.cluster.leases import Error, Lease, LeaseStore, Replica
from alertbot.commands.args import config_arg
from alertbot.config import Config
from alertbot.config_load import load_config
from alertbot.core.durations import format_duration
from alertbot.core.errors import AlertbotError
from alertbot.state import StateError, open_state

OK = 0


def register(subparsers: Any) -> None:
    """Add `status` to the CLI's subparsers."""
    status = subparsers.add_parser("status", help="replicas, shards, leases, leader and outbox")
    config_arg(status)
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    """alertbot status."""
    config = load_config(args.config)
    if config.cluster is None:
        raise AlertbotError(f"{args.config} has no cluster: section (one process, no leases)")
    replicas, leases = asyncio.run(_read(config.state.dsn_text))
    depth, dead = _outbox(config)
    report = build(replicas, leases, config.cluster.shards, time.time(), depth, dead)
    print(json.dumps(report, indent=2) if args.json else render(report))
    return OK


async def _read(dsn: str) -> tuple[list[Replica], list[Lease]]:
    store = LeaseStore(dsn)
    try:
        return await store.replicas(), await store.leases()
    except Error as exc:
        raise AlertbotError(f"cannot read the leases: {type(exc).__name__}") from None
    finally:
        await store.close()


def _outbox(config: Config) -> tuple[dict[str, tuple[int, float]], int]:
    db = open_state(config.state_dir, create=False, config=config.state)
    try:
        return db.outbox.depth(), db.outbox.counts().get("dead", 0)
    except StateError as exc:
        raise AlertbotError(f"cannot read the outbox: {exc}") from None
    finally:
        db.close()


def build(
    replicas: list[Replica],
    leases: list[Lease],
    shards: int,
    now: float,
    depth: dict[str, tuple[int, float]],
    dead: int,
) -> dict[str, Any]:
    """The report as plain data (what --json prints; `render` words it)."""
    live = {r.replica for r in replicas if r.expires_at > now}
    valid = {x.name: x for x in leases if x.expires_at > now}
    rows = []
    for r in replicas:
        held = sorted(
            s for s in range(shards) if (x := valid.get(lease_name(s))) and x.owner == r.replica
        )
        ages = [now - valid[lease_name(s)].renewed_at for s in held]
        rows.append(
            {
                "replica": r.replica,
                "live": r.replica in live,
                "beat_age": round(now - r.beat_at, 3),
                "shards": held,
                "oldest_renewal_age": round(max(ages), 3) if ages else None,
                "held_for": round(min(now - valid[lease_name(s)].acquired_at for s in held), 3)
                if held
                else None,
            }
        )
    owned = {s for s in range(shards) if lease_name(s) in valid}
    leader = valid.get(LEADER)
    pending = sum(n for n, _ in depth.values())
    oldest = min((at for n, at in depth.values() if n), default=None)
    return {
        "shards": shards,
        "replicas": rows,
        "unowned_shards": sorted(set(range(shards)) - owned),
        "leader": None
        if leader is None
        else {
            "replica": leader.owner,
            "renewal_age": round(now - leader.renewed_at, 3),
            "expires_in": round(leader.expires_at - now, 3),
        },
        "outbox": {
            "pending": pending,
            "oldest_age": None if oldest is None else round(now - oldest, 3),
            "dead": dead,
            "per_notifier": {name: n for name, (n, _) in sorted(depth.items())},
        },
    }


def ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> "0-2,5,7-8"."""
    parts: list[str] = []
    start = prev = None
    for n in [*numbers, None]:
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = n
    return ",".join(parts) or "-"


def render(report: dict[str, Any]) -> str:
    """The report for people: one line per replica, then leader, unowned shards and outbox."""
    lines = [f"{'REPLICA':<28} {'STATE':<6} {'BEAT':>6} {'SHARDS':>6}  RENEWED  HELD    WHICH"]
    for r in report["replicas"]:
        renewed = r["oldest_renewal_age"]
        held = r["held_for"]
        lines.append(
            f"{r['replica']:<28} {'live' if r['live'] else 'gone':<6} "
            f"{format_duration(r['beat_age']):>6} {len(r['shards']):>6}  "
            f"{format_duration(renewed) if renewed is not None else '-':>7}  "
            f"{format_duration(held) if held is not None else '-':<7} {ranges(r['shards'])}"
        )
    leader = report["leader"]
    lines.append(
        "leader: none"
        if leader is None
        else f"leader: {leader['replica']} (renewed {format_duration(leader['renewal_age'])} "
        f"ago, expires in {format_duration(max(0.0, leader['expires_in']))})"
    )
    unowned = report["unowned_shards"]
    lines.append(f"shards: {report['shards']}, unowned now: {len(unowned)} ({ranges(unowned)})")
    box = report["outbox"]
    oldest = box["oldest_age"]
    lines.append(
        f"outbox: {box['pending']} pending"
        + (f" (oldest {format_duration(oldest)})" if oldest is not None else "")
        + f", {box['dead']} dead"
    )
    return "\n".join(lines)
