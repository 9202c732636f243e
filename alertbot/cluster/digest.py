"""A cluster sends one digest, the leader's, and it lists every replica's accounts.

Each replica puts a summary of the accounts it owns into the shared store (the cursor
`accounts@<replica>`) every `PUBLISH_EVERY`; the leader lists its own accounts as they are now
and adds, for each account it does not own, the newest summary a live replica published within
`FRESH`. The counts come from the shared outbox (`Outbox.told`), so they cover every replica
and survive a restart or a change of leader.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from alertbot.jobs import summary

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
