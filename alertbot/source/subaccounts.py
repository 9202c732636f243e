"""v4_subaccounts / v4_parent_subaccounts contents and the matching REST bodies, to Events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from alertbot.core.events import DATA_KINDS
from alertbot.core.model import Event
from alertbot.source.accounts import (
    Account,
    Accounts,
    Position,
    account_data,
    parse_position,
    parse_usdc,
    raw_equity,
)
from alertbot.source.activity import Recent, advance, fill_data, transfer_data
from alertbot.source.markets import Markets
from alertbot.source.numbers import BAD_ITEM, describe, height, num, opt_height, opt_num
from alertbot.source.orders import Orders
from alertbot.source.riskview import RiskTracker

Problem = Callable[[str, Any], None]


def _heights(*values: Any) -> int | None:
    """The highest of the heights that are present (each may be absent or null)."""
    found = [h for h in (opt_height(v) for v in values) if h is not None]
    return max(found) if found else None


class Subaccounts:
    """Accounts, orders, fills and transfers of every watched subaccount."""

    def __init__(
        self, markets: Markets, problem: Problem, last_block: Callable[[], int | None]
    ) -> None:
        self.markets = markets
        self.accounts = Accounts()
        self.orders = Orders()
        self.fills = Recent()
        self.transfers = Recent()
        self.risk = RiskTracker(markets, self.orders)
        self.risk_enabled = True  # Normalizer(risk=False) turns the risk family of events off
        self._problem = problem
        self._last_block = last_block
        self._parents_seen: set[tuple[str, int]] = set()
        # families restored from a take-over's marker: new children's history above it is news
        self.marked: set[tuple[str, int]] = set()
        # accounts a price moved since the last flush (lazy revaluation), with the price's conn
        self.due: dict[tuple[str, int], int] = {}
        self.want(DATA_KINDS)

    def want(self, kinds: Iterable[str]) -> None:
        """Build only these kinds' events; the state (positions, orders, fill ids) is kept."""
        on = frozenset(kinds)
        self.account_on = "account" in on
        self.fill_on = "fill" in on
        self.transfer_on = "transfer" in on
        self.position_kinds = frozenset(k for k in on if k.startswith("position."))
        self.orders.kinds = frozenset(k for k in on if k.startswith("order."))

    def _report(self, what: str, exc: BaseException, item: Any) -> None:
        """Skip one bad item, saying why; the rest of the message is still processed."""
        self._problem(f"{what}: {describe(exc)}", item)

    # --- snapshots and REST subaccount bodies -------------------------------------------------

    def snapshot(
        self, address: str, number: int, contents: Any, now: float, conn: int
    ) -> list[Event]:
        """A v4_subaccounts `subscribed`; `{}` (unknown subaccount) yields no events."""
        out: list[Event] = []
        acct = self.accounts.get(address, number, None)
        sub = contents.get("subaccount")
        block = contents.get("blockHeight")
        if sub is not None:
            self._load(acct, sub, block, not acct.synced, "snapshot", now, conn, out)
        acct.synced = True
        orders = contents.get("orders")
        self._orders(orders, acct, not acct.orders_synced, acct.baseline_height, now, conn, out)
        acct.orders_synced = True
        return out

    def parent_snapshot(
        self, address: str, parent: int, contents: Any, now: float, conn: int, origin: str
    ) -> list[Event]:
        """A v4_parent_subaccounts `subscribed` (or REST parent body): one account per child."""
        out: list[Event] = []
        first = (address, parent) not in self._parents_seen
        self._parents_seen.add((address, parent))
        sub = contents.get("subaccount") or {}
        block = contents.get("blockHeight")
        home = self.accounts.by_key.get((address, parent))
        # a family seen before, or one restored from a marker: the history of its new
        # children since its height is news
        known = not first or (address, parent) in self.marked
        since = home.baseline_height if known and home is not None else None
        for child in sub.get("childSubaccounts") or ():
            try:
                number = int(child["subaccountNumber"])
                acct = self.accounts.get(address, number, parent)
            except BAD_ITEM as exc:
                self._report("child subaccount", exc, child)
                continue
            if acct.baseline_height is None and since is not None:
                acct.baseline_height = since  # a new child: its history since ours is news
            self._load(acct, child, block, first, origin, now, conn, out)
            acct.synced = True
        orders = contents.get("orders")
        if orders is not None:
            acct = self.accounts.get(address, parent, parent)
            self._orders(orders, acct, first, acct.baseline_height, now, conn, out)
            acct.orders_synced = True
        return out

    def rest_subaccount(self, address: str, number: int, body: Any, now: float) -> list[Event]:
        """GET /addresses/{a}/subaccountNumber/{n}: reconcile positions, USDC and equity."""
        out: list[Event] = []
        acct = self.accounts.get(address, number, None)
        self._load(acct, body["subaccount"], None, not acct.synced, "rest", now, -1, out)
        acct.synced = True
        return out

    def _load(
        self,
        acct: Account,
        sub: dict[str, Any],
        block: Any,
        baseline: bool,
        origin: str,
        now: float,
        conn: int,
        out: list[Event],
    ) -> None:
        """Replace positions and USDC from a full subaccount object; its equity is authoritative."""
        positions = self._parse_positions(acct, (sub.get("openPerpetualPositions") or {}).values())
        usdc = 0.0
        for item in (sub.get("assetPositions") or {}).values():
            try:
                value = parse_usdc(item)
            except BAD_ITEM as exc:
                self._report("asset position", exc, item)
                continue
            if value is not None:
                usdc = value
        changes = self.accounts.replace(acct, positions)
        acct.usdc = usdc
        if not baseline:
            wanted = self.position_kinds
            out.extend(Event(kind, now, data, conn) for kind, data in changes if kind in wanted)
        reported = self._reported(sub)
        if reported is not None:
            acct.adjust = reported[0] - raw_equity(acct, self.markets)
        if acct.baseline_height is None:
            acct.baseline_height = self._baseline_height(sub, block)
        if self.account_on:
            data = account_data(acct, self.markets, origin, reported)
            out.append(Event("account", now, data, conn))
        if self.due:
            self.due.pop((acct.address, acct.number), None)
        self.risk_events([acct], now, conn, origin, out)

    def risk_events(
        self, accts: Iterable[Account], now: float, conn: int, origin: str, out: list[Event]
    ) -> None:
        """`risk` (and `stop.*`) events of these accounts, then one `risk.parent` per parent."""
        if not self.risk_enabled:
            return
        parents: set[tuple[str, int]] = set()
        risk = self.risk
        for acct in accts:
            if acct.positions:
                out.extend(Event(k, now, d, conn) for k, d in risk.account(acct, now, origin))
            if acct.parent is not None:
                parents.add((acct.address, acct.parent))
        for address, parent in parents:
            family = self.accounts.family(address, parent)
            kind, data = risk.parents(family, address, parent)
            out.append(Event(kind, now, data, conn))

    def _parse_positions(self, acct: Account, items: Iterable[Any]) -> dict[str, Position]:
        positions: dict[str, Position] = {}
        for item in items:
            try:
                pos = parse_position(item, acct.positions.get(item["market"]))
            except BAD_ITEM as exc:
                self._report("perpetual position", exc, item)
                continue
            positions[pos.ticker] = pos
        return positions

    def _reported(self, sub: dict[str, Any]) -> tuple[float, float | None] | None:
        try:
            return num(sub["equity"]), opt_num(sub.get("freeCollateral"))
        except BAD_ITEM as exc:
            self._report("subaccount equity", exc, sub)
            return None

    def _baseline_height(self, sub: dict[str, Any], block: Any) -> int | None:
        """The highest height this first sight covers; REST history at or below it is old."""
        try:
            found = _heights(
                block, sub.get("latestProcessedBlockHeight"), sub.get("updatedAtHeight")
            )
        except BAD_ITEM as exc:
            self._report("subaccount height", exc, sub)
            found = None
        return found if found is not None else self._last_block()

    def forget(self, address: str, number: int, *, parent: bool) -> None:
        """Drop what is known of a subaccount (a parent: with its children): another owner now.

        Its fill and transfer ids are forgotten too: an event the fence dropped was seen, not
        told, and the next take-over must find it again over REST.
        """
        keys = {(address, number)}
        if parent:
            keys |= {(address, n) for n in self.accounts.families.pop((address, number), ())}
            self._parents_seen.discard((address, number))
            self.marked.discard((address, number))
        for key in keys:
            self.fills.discard_tag(key)
            self.transfers.discard_tag(key)
            acct = self.accounts.by_key.pop(key, None)
            if acct is None:
                continue
            for ticker in acct.positions:
                holders = self.accounts.holders.get(ticker)
                if holders is not None:
                    holders.discard(key)
                    if not holders:
                        del self.accounts.holders[ticker]
        by_id = self.orders.by_id
        for order_id, order in list(by_id.items()):
            if (order.fields.get("address"), order.fields.get("subaccount")) in keys:
                del by_id[order_id]
        for market_key in [k for k in self.orders.protective if (k[0], k[1]) in keys]:
            del self.orders.protective[market_key]

    # --- updates ---------------------------------------------------------------------------

    def update(
        self, address: str, number: int, parent: int | None, contents: Any, now: float, conn: int
    ) -> list[Event]:
        """One channel_data contents (or one batch item) of a subaccount."""
        out: list[Event] = []
        acct = self.accounts.get(address, number, parent)
        orders = contents.get("orders")
        if orders:
            self._orders(orders, acct, False, None, now, conn, out)
        fills = contents.get("fills")
        if fills:
            self._fills(fills, acct, None, now, conn, out)
        touched = False
        perps = contents.get("perpetualPositions")
        if perps:
            touched = True
            self._positions(acct, perps, now, conn, out)
        assets = contents.get("assetPositions")
        if assets:
            touched = self._assets(acct, assets) or touched
        transfer = contents.get("transfers")
        if transfer:
            self._transfer(transfer, acct, now, conn, out)
        if touched:
            if self.account_on:
                data = account_data(acct, self.markets, "update")
                out.append(Event("account", now, data, conn))
            if self.due:  # this event carries the newest prices: no revaluation is due
                self.due.pop((address, number), None)
        if touched or self.orders.protective_touched:
            self.orders.protective_touched.clear()
            self.risk_events([acct], now, conn, "update", out)
        return out

    def _positions(
        self, acct: Account, items: Iterable[Any], now: float, conn: int, out: list[Event]
    ) -> None:
        """Apply position items: position.* changes, settled funding, stop memory of closes."""
        for pos in self._parse_positions(acct, items).values():
            old = acct.positions.get(pos.ticker)
            change = self.accounts.put(acct, pos)
            if change is not None:
                if change[0] in self.position_kinds:
                    out.append(Event(change[0], now, change[1], conn))
                if change[0] == "position.closed":
                    self.risk.closed(acct, pos.ticker)
            funding = self.risk.funding(acct, old, pos, now) if self.risk_enabled else None
            if funding is not None:
                out.append(Event(funding[0], now, funding[1], conn))

    def _assets(self, acct: Account, items: Iterable[Any]) -> bool:
        touched = False
        for item in items:
            try:
                value = parse_usdc(item)
            except BAD_ITEM as exc:
                self._report("asset position", exc, item)
                continue
            if value is not None:
                acct.usdc = value
                touched = True
        return touched

    def _transfer(
        self,
        item: Any,
        acct: Account,
        now: float,
        conn: int,
        out: list[Event],
        floor: int | None = None,
    ) -> None:
        """Emit a new transfer once; with `floor`, those at or below it are only recorded."""
        try:
            data = transfer_data(item, acct.address, acct.number)
        except BAD_ITEM as exc:
            self._report("transfer", exc, item)
            return
        tag = (acct.address, acct.number)
        if not self.transfers.add(f"{acct.address}/{acct.number}:{data['id']}", tag):
            return
        acct.transfer_mark = advance(acct.transfer_mark, data["height"], data["id"])
        if not self.transfer_on:
            return
        if floor is None or (data["height"] is not None and data["height"] > floor):
            out.append(Event("transfer", now, data, conn))

    # --- orders and fills (WS and REST) ----------------------------------------------------

    def _orders(
        self,
        items: Any,
        acct: Account,
        baseline: bool,
        quiet: int | None,
        now: float,
        conn: int,
        out: list[Event],
    ) -> None:
        """Merge order items; an order's subaccount is its subaccountNumber, else the account's.

        quiet: unknown orders at or below this height are history (snapshot and REST diffs).
        """
        if not items:
            return
        for item in items:
            try:
                number = item.get("subaccountNumber")
                number = acct.number if number.__class__ is not int else number
                changes = self.orders.apply(
                    item, acct.address, number, baseline=baseline, quiet_at_or_below=quiet
                )
            except BAD_ITEM as exc:
                self._report("order", exc, item)
                continue
            out.extend(Event(kind, now, data, conn) for kind, data in changes)

    def _fills(
        self,
        items: Any,
        acct: Account,
        above: int | None,
        now: float,
        conn: int,
        out: list[Event],
    ) -> None:
        """Emit new fills once; with `above`, fills at or below that height are only recorded."""
        for item in items:
            try:
                number = item.get("subaccountNumber")
                number = acct.number if number.__class__ is not int else number
                data = fill_data(item, acct.address, number)
            except BAD_ITEM as exc:
                self._report("fill", exc, item)
                continue
            if not self.fills.add(data["id"], (acct.address, number)):
                continue
            owner = acct if number == acct.number else self.accounts.get(acct.address, number, None)
            owner.fill_mark = advance(owner.fill_mark, data["height"], data["id"])
            if above is not None and (data["height"] is None or data["height"] <= above):
                continue
            if self.fill_on:
                out.append(Event("fill", now, data, conn))

    def rest_orders(self, address: str, number: int, body: Any, now: float) -> list[Event]:
        """GET /orders (bare array): diff against what we know; the first body is a baseline."""
        out: list[Event] = []
        acct = self.accounts.get(address, number, None)
        if not isinstance(body, list):
            raise TypeError("orders body is not a list")
        self._orders(body, acct, not acct.orders_synced, acct.baseline_height, now, -1, out)
        acct.orders_synced = True
        return out

    def rest_fills(self, address: str, number: int, body: Any, now: float) -> list[Event]:
        """GET /fills: only fills above the height of our first sight of the subaccount alert."""
        out: list[Event] = []
        acct = self.accounts.get(address, number, None)
        items = body["fills"]
        above = acct.baseline_height
        if above is None:
            above = self._max_fill_height(items)
            acct.baseline_height = above
        self._fills(items, acct, above if above is not None else 2**63, now, -1, out)
        return out

    def rest_transfers(
        self, address: str, number: int, body: Any, now: float, *, parent: bool = False
    ) -> list[Event]:
        """GET /transfers (or the parent's): transfers above the account's floor alert.

        The floor is the height of our first sight (or the restored cursor); with neither, the
        first body is history and its top height becomes the floor.
        """
        out: list[Event] = []
        home = self.accounts.get(address, number, None)
        items = body["transfers"]
        for item in items:
            try:
                acct = self._transfer_owner(item, home) if parent else home
            except BAD_ITEM as exc:
                self._report("transfer", exc, item)
                continue
            if acct.transfer_floor is None:
                acct.transfer_floor = acct.baseline_height
            if acct.transfer_floor is None:
                acct.transfer_floor = self._max_fill_height(items)
            floor = acct.transfer_floor
            self._transfer(item, acct, now, -1, out, 2**63 if floor is None else floor)
        return out

    def _transfer_owner(self, item: Any, home: Account) -> Account:
        """The child a parent's REST transfer belongs to: its side of the transfer."""
        incoming = item["type"] in ("TRANSFER_IN", "DEPOSIT")
        party = item.get("recipient" if incoming else "sender") or {}
        number = party.get("subaccountNumber")
        if party.get("address") != home.address or not isinstance(number, int):
            return home
        return self.accounts.get(home.address, number, home.number)

    def _max_fill_height(self, items: Any) -> int | None:
        """With no baseline yet, the first fills body is history: its top height becomes one."""
        best = self._last_block()
        for item in items:
            try:
                h = height(item["createdAtHeight"])
            except BAD_ITEM:
                continue
            best = h if best is None or h > best else best
        return best

    def rest_order(self, body: Any, now: float) -> list[Event]:
        """GET /orders/{id} for an order that vanished from a fresh snapshot."""
        order = self.orders.get(body["id"])
        if order is None:
            self._problem("order: unknown order id (GET /orders/{id})", body)
            return []
        fields = order.fields
        changes = self.orders.apply(body, fields["address"], fields["subaccount"])
        return [Event(kind, now, data, -1) for kind, data in changes]
