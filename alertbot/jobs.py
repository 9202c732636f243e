"""Scheduled jobs besides engine time: a periodic digest, a heartbeat ping, pruning of history."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx

from alertbot.core.durations import PositiveDuration, format_duration
from alertbot.core.model import Notification, Severity, iso_utc, notice
from alertbot.core.strict import Strict

log = logging.getLogger("alertbot.jobs")

DIGEST_RULE = "alertbot-digest"  # the digest's own notification (it does not count itself)
# A cluster sends one digest, the leader's, listing every replica's accounts: each replica puts
# a summary of the accounts it owns into the shared store (cursor `accounts@<replica>`) every
# PUBLISH_EVERY; the leader lists its own accounts as they are now and adds, for each account it
# does not own, the newest summary a live replica published within FRESH.


class DigestConfig(Strict):
    """Equity and PnL per account, and the alerts since the last digest, every `every`."""

    every: PositiveDuration = 86400.0
    notify: list[str] | None = None  # None: the defaults' notifiers (else every notifier)
    severity: Severity = "info"


class HeartbeatConfig(Strict):
    """A GET to `url` every `every` while healthy: an outside dead man's switch notices silence."""

    url: str
    every: PositiveDuration = 60.0
    timeout: PositiveDuration = 10.0


class JobsConfig(Strict):
    """The `jobs:` section."""

    digest: DigestConfig | None = None
    heartbeat: HeartbeatConfig | None = None
    prune_every: PositiveDuration = 3600.0  # expired silences are forgotten this often


def digest(
    accounts: Sequence[dict[str, Any]],
    alerts: Mapping[tuple[str, str], int],
    since: float,
    now: float,
    notify: tuple[str, ...],
    severity: Severity,
) -> Notification:
    """The digest notification (pure: the caller passes the accounts and the alert counts)."""
    lines = [
        _account_line(a) for a in sorted(accounts, key=lambda a: (a["address"], a["subaccount"]))
    ]
    lines = lines or ["no account data yet"]
    told = sum(alerts.values())
    lines.append(f"alerts since {iso_utc(since)}: {told}")
    for (rule, status), count in sorted(alerts.items()):
        lines.append(f"  {rule} {status}: {count}")
    title = f"Digest: {len(accounts)} account(s), {told} alert(s) in {format_duration(now - since)}"
    return notice(DIGEST_RULE, severity, title, "\n".join(lines), notify, now)


def summary(account: dict[str, Any]) -> dict[str, Any]:
    """What a digest line shows of an account (replicas publish this for the leader's digest)."""
    pnl = account.get("unrealized_pnl")
    if pnl is None:
        pnl = sum(p.get("unrealized_pnl") or 0.0 for p in account.get("positions") or ())
    return {
        "address": str(account["address"]),
        "subaccount": int(account["subaccount"]),
        "equity": float(account["equity"]),
        "unrealized_pnl": float(pnl),
        "margin_usage": float(account.get("margin_usage") or 0.0),
        "position_count": int(account.get("position_count", 0)),
    }


def _account_line(account: dict[str, Any]) -> str:
    a = summary(account)
    return (
        f"{a['address']}/{a['subaccount']}: equity {a['equity']:,.2f} USDC, "
        f"unrealized PnL {a['unrealized_pnl']:+,.2f}, margin usage {a['margin_usage']:.0%}, "
        f"{a['position_count']} position(s)"
    )


async def heartbeat(client: httpx.AsyncClient, config: HeartbeatConfig, healthy: bool) -> bool:
    """Ping the dead man's switch if healthy; a failed ping is logged, never raised."""
    if not healthy:
        log.warning("heartbeat skipped: alertbot is not healthy (the switch will notice)")
        return False
    try:
        response = await client.get(config.url, timeout=config.timeout)
    except httpx.HTTPError as exc:
        log.warning("heartbeat ping failed: %s", type(exc).__name__)
        return False
    if response.status_code >= 400:
        log.warning("heartbeat ping answered HTTP %d", response.status_code)
        return False
    return True


PUBLISH_EVERY = 30.0  # seconds between a replica's publications of its accounts
FRESH = 3 * PUBLISH_EVERY  # an older publication is a replica's that stopped: not listed


def published_name(replica: str) -> str:
    """The cursor a replica publishes its accounts under."""
    return f"accounts@{replica}"


def publication(accounts: Iterable[dict[str, Any]], now: float) -> dict[str, Any]:
    """What a replica publishes: the summaries of the accounts it owns, stamped."""
    return {"at": now, "accounts": [summary(a) for a in accounts]}


def merged(
    own: Sequence[dict[str, Any]], published: Iterable[Any], now: float
) -> list[dict[str, Any]]:
    """This replica's accounts, then the newest fresh summary of each other published account."""
    listed = {(str(a["address"]), int(a["subaccount"])) for a in own}
    newest: dict[tuple[str, int], tuple[float, dict[str, Any]]] = {}
    for value in published:
        at = value.get("at") if isinstance(value, dict) else None
        accounts = value.get("accounts") if isinstance(value, dict) else None
        if not isinstance(at, int | float) or not isinstance(accounts, list) or now - at > FRESH:
            continue
        for raw in accounts:
            try:
                account = summary(raw)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue  # a row written by another version: skipped, not fatal
            key = (account["address"], account["subaccount"])
            if key not in listed and (key not in newest or newest[key][0] < at):
                newest[key] = (float(at), account)
    return [*own, *(account for _, account in newest.values())]
