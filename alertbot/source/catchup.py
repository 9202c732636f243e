"""Catch-up after the bot's own downtime, without I/O: cursors out and in, and REST rounds
turned into events marked `catchup` with their real times (the live run and replay share it).

A cursor is what one subaccount looked like when it was last saved: open positions, the orders
that are not final (and the ids of recent final ones), the newest fill and transfer (height and
the ids at that height) and the height of our first sight. Restored before the first snapshot,
it turns that snapshot and the first REST round into diffs instead of a silent baseline.
A marker (a cluster's take-over of an account with no cursor) holds only the height from which
the account was watched: the first sight after it still tells the fills and transfers above it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from alertbot.core.model import Event, iso_utc
from alertbot.source.accounts import Account, Position
from alertbot.source.orders import FINAL, Order
from alertbot.source.subaccounts import Subaccounts

VERSION = 1
KEEP_FINAL_IDS = 100  # final orders remembered per subaccount so REST history never re-alerts
CATCHUP_KINDS = ("fill", "transfer", "order.", "position.")
PREFIX = "source/"


def cursor_name(address: str, number: int) -> str:
    """The cursor of one subaccount in the state store."""
    return f"{PREFIX}{address}/{number}"


def _mark(mark: tuple[int, set[str]] | None) -> list[Any] | None:
    return None if mark is None else [mark[0], sorted(mark[1])]


def _unmark(value: Any) -> tuple[int, set[str]] | None:
    return None if not value else (int(value[0]), {str(i) for i in value[1]})


def export(subs: Subaccounts) -> dict[str, dict[str, Any]]:
    """Every synced subaccount's cursor, by cursor name (one pass over the orders)."""
    orders: dict[tuple[str, int], dict[str, Any]] = {}
    finals: dict[tuple[str, int], list[str]] = {}
    for order_id, order in subs.orders.by_id.items():
        fields = order.fields
        key = (fields["address"], fields["subaccount"])
        if fields["status"] in FINAL:
            finals.setdefault(key, []).append(order_id)
        else:
            orders.setdefault(key, {})[order_id] = {"f": fields, "e": sorted(order.emitted)}
    out: dict[str, dict[str, Any]] = {}
    for key, acct in subs.accounts.by_key.items():
        if not acct.synced:
            continue
        out[cursor_name(*key)] = {
            "v": VERSION,
            "baseline": acct.baseline_height,
            "parent": acct.parent,
            "usdc": acct.usdc,
            "positions": {
                t: [p.side, p.size, p.entry_price, p.mark] for t, p in acct.positions.items()
            },
            "orders": orders.get(key, {}),
            "done": finals.get(key, [])[-KEEP_FINAL_IDS:],
            "fill": _mark(acct.fill_mark),
            "transfer": _mark(acct.transfer_mark),
            "transfer_floor": acct.transfer_floor,
        }
    return out


def marker(height: int, parent: int | None) -> dict[str, Any]:
    """What a take-over saves first for an account with no cursor: watched from this height."""
    return {"v": VERSION, "since": height, "parent": parent}


def is_marker(value: Any) -> bool:
    """A marker, not a cursor: the height from which the account was watched, nothing else."""
    return isinstance(value, dict) and value.get("v") == VERSION and "since" in value


def restore_marker(subs: Subaccounts, name: str, value: Any) -> bool:
    """Load a marker: the first sight's history above its height is news (fills, transfers).

    The account stays unsynced, so its positions and orders are still a silent baseline (a
    marker does not know them); only what has a height is caught up.
    """
    if not is_marker(value) or not name.startswith(PREFIX):
        return False
    address, _, number = name[len(PREFIX) :].rpartition("/")
    parent = value.get("parent")
    acct = subs.accounts.get(address, int(number), parent if isinstance(parent, int) else None)
    if acct.baseline_height is None:
        acct.baseline_height = int(value["since"])
    if isinstance(parent, int):
        subs.marked.add((address, parent))
    return True


def restore(subs: Subaccounts, name: str, value: Any) -> bool:
    """Load one cursor into the normalizer's state (False: not a cursor this version reads)."""
    if not isinstance(value, dict) or value.get("v") != VERSION or not name.startswith(PREFIX):
        return False
    if is_marker(value):
        return False
    address, _, number = name[len(PREFIX) :].rpartition("/")
    acct = subs.accounts.get(address, int(number), value.get("parent"))
    acct.usdc = float(value.get("usdc") or 0.0)
    for ticker, (side, size, entry, mark) in (value.get("positions") or {}).items():
        pos = Position(ticker, side, float(size), "OPEN")
        pos.entry_price, pos.mark = entry, float(mark)
        subs.accounts.put(acct, pos)
    _restore_orders(subs, acct, value)
    acct.fill_mark = _unmark(value.get("fill"))
    acct.transfer_mark = _unmark(value.get("transfer"))
    for mark, seen in ((acct.fill_mark, subs.fills), (acct.transfer_mark, None)):
        for item_id in mark[1] if mark else ():
            if seen is not None:
                seen.add(item_id)
            else:
                subs.transfers.add(f"{acct.address}/{acct.number}:{item_id}")
    acct.baseline_height = _floor(value.get("baseline"), acct.fill_mark)
    base = value.get("transfer_floor")
    base = value.get("baseline") if base is None else base
    acct.transfer_floor = _floor(base, acct.transfer_mark)
    acct.synced = acct.orders_synced = True
    return True


def _floor(base: Any, mark: tuple[int, set[str]] | None) -> int | None:
    """History ends at the first sight, or just below the newest item seen, whichever is later."""
    found = None if base is None else int(base)
    if mark is not None:
        found = mark[0] - 1 if found is None else max(found, mark[0] - 1)
    return found


def _restore_orders(subs: Subaccounts, acct: Account, value: dict[str, Any]) -> None:
    for order_id, saved in (value.get("orders") or {}).items():
        order = Order(dict(saved["f"]), frozenset(saved.get("e") or ()))
        subs.orders.by_id[order_id] = order
    for order_id in value.get("done") or ():
        order = Order({"status": "FILLED", "address": acct.address, "subaccount": acct.number})
        subs.orders.by_id.setdefault(order_id, order)


# --- a REST round's events ----------------------------------------------------------------------


def parse_time(value: Any) -> float | None:
    """Unix seconds of an Indexer ISO time ("2024-08-01T07:09:25.767Z"); None if unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _real_time(event: Event) -> float | None:
    data = event.data
    if event.kind in ("fill", "transfer"):
        return parse_time(data.get("created_at"))
    if event.kind.startswith("order."):
        return parse_time(data.get("updated_at"))
    return None


def is_catchup(event: Event) -> bool:
    """Kinds a REST round reports after the fact."""
    return event.kind.startswith(CATCHUP_KINDS)


def finish_round(events: Iterable[Event], now: float, lookback: float, origin: str) -> list[Event]:
    """Mark what REST found after the fact, give it its real time and order, drop the too old.

    Fills, transfers and order transitions carry the Indexer's own times; a position change
    takes the time of the last fill of its market in the round (else `now`). Anything older
    than `lookback` is counted in one `source.catchup` summary instead of being emitted.
    """
    events = list(events)
    found = [e for e in events if is_catchup(e)]
    if not found and origin != "start":  # the start always reports, if only "nothing"
        return events
    last_fill: dict[tuple[Any, ...], float] = {}
    timed: list[tuple[float, int, Event]] = []
    for index, event in enumerate(found):
        at = _real_time(event)
        if event.kind == "fill" and at is not None:
            key = (event.data["address"], event.data["subaccount"], event.data["ticker"])
            last_fill[key] = max(at, last_fill.get(key, at))
        timed.append((at if at is not None else -1.0, index, event))
    kept: list[Event] = []
    skipped: dict[str, int] = {}
    oldest = newest = None

    def order(item: tuple[float, int, Event]) -> tuple[float, int, int]:
        """By time, then height (the Indexer's times have milliseconds), then as found."""
        return (_when(item, last_fill, now), item[2].data.get("height") or 0, item[1])

    for at, _, event in sorted(timed, key=order):
        when = _when((at, 0, event), last_fill, now)
        if when < now - lookback:
            skipped[event.kind] = skipped.get(event.kind, 0) + 1
            oldest = when if oldest is None else min(oldest, when)
            newest = when if newest is None else max(newest, when)
            continue
        kept.append(Event(event.kind, min(when, now), {**event.data, "catchup": True}, -1))
    rest = [e for e in events if not is_catchup(e)]
    summary = _summary(kept, skipped, oldest, newest, now, lookback, origin)
    return [*kept, *rest, summary]


def _when(
    item: tuple[float, int, Event], last_fill: dict[tuple[Any, ...], float], now: float
) -> float:
    at, _, event = item
    if at >= 0:
        return at
    if event.kind.startswith("position."):
        data = event.data
        return last_fill.get((data["address"], data["subaccount"], data["ticker"]), now)
    return now


def _summary(
    kept: list[Event],
    skipped: dict[str, int],
    oldest: float | None,
    newest: float | None,
    now: float,
    lookback: float,
    origin: str,
) -> Event:
    accounts = {(e.data.get("address"), e.data.get("subaccount")) for e in kept}
    data = {
        "origin": origin,
        "emitted": len(kept),
        "skipped": sum(skipped.values()),
        "skipped_kinds": dict(sorted(skipped.items())),
        "oldest_skipped": None if oldest is None else iso_utc(oldest),
        "newest_skipped": None if newest is None else iso_utc(newest),
        "subaccounts": len(accounts),
        "lookback": lookback,
    }
    return Event("source.catchup", now, data)
