"""The pure normalizer: Indexer message contents and REST bodies in, `Event`s out.

It owns the state updates need (orders, accounts, books, markets, dedup) and does no I/O and
reads no clock: the caller passes `now` and the connection index. Bad data items are skipped and
reported through `on_problem`; the rest of the message is still processed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from alertbot.core.events import DATA_KINDS
from alertbot.core.model import Event
from alertbot.source.accounts import Account, account_data
from alertbot.source.book import Book
from alertbot.source.markets import Markets
from alertbot.source.numbers import BAD_ITEM, describe, height, num, opt_text
from alertbot.source.public import candle_data, trade_data
from alertbot.source.subaccounts import Subaccounts

Handler = Callable[[str | None, Any, float, int, int | None], list[Event]]
REST = -1  # the conn of events built from REST bodies


def _unwrap_levels(levels: Any) -> Iterable[Any]:
    return levels if levels else ()


def _need(sub_id: str | None) -> str:
    """Channels other than v4_markets/v4_block_height need their subscription id."""
    if sub_id is None:
        raise KeyError("id")
    return sub_id


class Normalizer:
    """Pure: Indexer contents in, Events out; owns the state updates need (no I/O, no clock)."""

    def __init__(
        self, on_problem: Callable[[str, Any], None] | None = None, *, risk: bool = True
    ) -> None:
        """`risk=False` skips the risk, risk.parent, stop.* and funding events (and their cost)."""
        self._on_problem = on_problem
        self.problems = 0
        self.markets = Markets()
        self.books: dict[str, Book] = {}
        self.last_block: int | None = None
        self.subs = Subaccounts(self.markets, self._problem, lambda: self.last_block)
        self.subs.risk_enabled = risk
        self._ids: dict[str, tuple[str, int]] = {}
        # the live source sets it: price moves mark accounts due, `flush` values them per batch
        self.lazy = False
        self._wanted: frozenset[str] | None = None
        self.wanted = None
        self._bad = self._bad_level  # bound once: the order book hot path passes it along
        self._snapshots: dict[str, Handler] = {
            "v4_subaccounts": self._sub_snapshot,
            "v4_parent_subaccounts": self._parent_snapshot,
            "v4_markets": self._markets_snapshot,
            "v4_orderbook": self._book_snapshot,
            "v4_trades": self._nothing,
            "v4_candles": self._nothing,
            "v4_block_height": self._block_snapshot,
        }
        self._updates: dict[str, Handler] = {
            "v4_subaccounts": self._sub_update,
            "v4_parent_subaccounts": self._parent_update,
            "v4_markets": self._markets_update,
            "v4_orderbook": self._book_update,
            "v4_trades": self._trades_update,
            "v4_candles": self._candle_update,
            "v4_block_height": self._block_update,
        }

    @property
    def risk(self) -> bool:
        """Whether risk, risk.parent, stop.* and funding events are computed."""
        return self.subs.risk_enabled

    @risk.setter
    def risk(self, enabled: bool) -> None:
        self.subs.risk_enabled = enabled

    @property
    def wanted(self) -> frozenset[str] | None:
        """The data kinds something reads (None: every kind); see the setter."""
        return self._wanted

    @wanted.setter
    def wanted(self, kinds: Iterable[str] | None) -> None:
        """Build only these kinds' events: the others cost no event, their state is still kept.

        Markets, books, orders, positions and fill ids are tracked whatever is read, so a kind
        turned back on (a rule reloaded) is right from its next update. Transport kinds and the
        risk family (`risk`) are not affected.
        """
        self._wanted = None if kinds is None else frozenset(kinds)
        on = frozenset(DATA_KINDS) if self._wanted is None else self._wanted
        self._market_on = "market" in on
        self._book_on = "orderbook" in on
        self._trade_on = "trade" in on
        self._candle_on = "candle" in on
        self._block_on = "block" in on
        self.subs.want(on)

    def _problem(self, reason: str, raw: Any = None) -> None:
        """Count and report one skipped item or message."""
        self.problems += 1
        if self._on_problem is not None:
            self._on_problem(reason, raw)

    def _run(self, what: str, handler: Callable[[], list[Event]], raw: Any) -> list[Event]:
        """Message-level guard: a malformed message is reported, never raised."""
        try:
            return handler()
        except BAD_ITEM as exc:
            self._problem(f"{what}: {describe(exc)}", raw)
            return []

    # --- the interface the feed calls --------------------------------------------------------

    def snapshot(
        self, channel: str, sub_id: str | None, contents: Any, now: float, conn: int
    ) -> list[Event]:
        """A `subscribed` message: a full state reset for that (channel, sub_id)."""
        handler = self._snapshots.get(channel)
        if handler is None:
            self._problem("snapshot of an unknown channel", channel)
            return []
        try:
            return handler(sub_id, contents, now, conn, None)
        except BAD_ITEM as exc:
            self._problem(f"{channel} snapshot: {describe(exc)}", contents)
            return []

    def update(
        self,
        channel: str,
        sub_id: str | None,
        contents: Any,
        now: float,
        conn: int,
        child: int | None = None,
    ) -> list[Event]:
        """One channel_data contents, or one item of a channel_batch_data list."""
        handler = self._updates.get(channel)
        if handler is None:
            self._problem("update of an unknown channel", channel)
            return []
        try:
            return handler(sub_id, contents, now, conn, child)
        except BAD_ITEM as exc:
            self._problem(f"{channel} update: {describe(exc)}", contents)
            return []

    def account_views(self, now: float) -> list[dict[str, Any]]:
        """Every watched account as an `account` event's fields (for digests and status)."""
        del now  # valuations use the latest oracle prices, whatever their age
        markets = self.markets
        return [
            account_data(acct, markets, "digest") for acct in self.subs.accounts.by_key.values()
        ]

    def updater(self, channel: str) -> Handler | None:
        """The raw update handler of a channel, for the feed's hot path.

        It raises the BAD_ITEM errors `update` catches; the caller reports them through
        `update_failed`. Saves a dispatch per message when thousands arrive a second.
        """
        return self._updates.get(channel)

    def update_failed(self, channel: str, exc: Exception, contents: Any) -> None:
        """Report a message an `updater` handler refused (what `update` does itself)."""
        self._problem(f"{channel} update: {describe(exc)}", contents)

    def rest_subaccount(self, address: str, number: int, body: Any, now: float) -> list[Event]:
        """GET /addresses/{a}/subaccountNumber/{n}."""
        return self._run(
            "REST subaccount", lambda: self.subs.rest_subaccount(address, number, body, now), body
        )

    def rest_parent_subaccount(
        self, address: str, parent: int, body: Any, now: float
    ) -> list[Event]:
        """GET /addresses/{a}/parentSubaccountNumber/{p}."""
        return self._run(
            "REST parent subaccount",
            lambda: self.subs.parent_snapshot(address, parent, body, now, REST, "rest"),
            body,
        )

    def rest_orders(self, address: str, number: int, body: Any, now: float) -> list[Event]:
        """GET /orders?address&subaccountNumber&returnLatestOrders=true (a bare array)."""
        return self._run(
            "REST orders", lambda: self.subs.rest_orders(address, number, body, now), body
        )

    def rest_fills(self, address: str, number: int, body: Any, now: float) -> list[Event]:
        """GET /fills; fills from before our first sight of the subaccount are only recorded."""
        return self._run(
            "REST fills", lambda: self.subs.rest_fills(address, number, body, now), body
        )

    def rest_transfers(
        self, address: str, number: int, body: Any, now: float, *, parent: bool = False
    ) -> list[Event]:
        """GET /transfers (or /transfers/parentSubaccountNumber with `parent`)."""
        return self._run(
            "REST transfers",
            lambda: self.subs.rest_transfers(address, number, body, now, parent=parent),
            body,
        )

    def rest_markets(self, body: Any, now: float) -> list[Event]:
        """GET /perpetualMarkets (same shape as the v4_markets snapshot)."""
        return self._run("REST markets", lambda: self._markets(body, now, REST, False), body)

    def rest_height(self, body: Any, now: float) -> list[Event]:
        """GET /height."""
        return self._run(
            "REST height", lambda: self._block_snapshot(None, body, now, REST, None), body
        )

    def sizes(self) -> dict[str, int]:
        """Entries of every map keyed by server data, for /metrics (each has a bound)."""
        subs = self.subs
        return {
            "markets": len(self.markets.by_ticker),
            "books": len(self.books),
            "book_levels": sum(
                len(b.bids.levels) + len(b.asks.levels) for b in self.books.values()
            ),
            "orders": len(subs.orders.by_id),
            "accounts": len(subs.accounts.by_key),
            "positions": sum(len(a.positions) for a in subs.accounts.by_key.values()),
            "fill_ids": len(subs.fills),
            "transfer_ids": len(subs.transfers),
        }

    def tracked_orders(self, address: str, number: int) -> list[str]:
        """Ids of non-final orders we know, for GET /orders/{id} when they leave a snapshot."""
        return self.subs.orders.tracked(address, number)

    def rest_order(self, body: Any, now: float) -> list[Event]:
        """GET /orders/{id}."""
        return self._run("REST order", lambda: self.subs.rest_order(body, now), body)

    # --- subaccounts -------------------------------------------------------------------------

    def _subaccount_id(self, sub_id: str | None) -> tuple[str, int]:
        """Subscription ids "address/N", parsed once each."""
        key = _need(sub_id)
        found = self._ids.get(key)
        if found is None:
            address, _, number = key.rpartition("/")
            if not address:
                raise ValueError(key)
            found = self._ids[key] = (address, int(number))
        return found

    def _sub_snapshot(
        self, sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        address, number = self._subaccount_id(sub_id)
        return self.subs.snapshot(address, number, contents, now, conn)

    def _parent_snapshot(
        self, sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        address, parent = self._subaccount_id(sub_id)
        return self.subs.parent_snapshot(address, parent, contents, now, conn, "snapshot")

    def _sub_update(
        self, sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        address, number = self._subaccount_id(sub_id)
        return self.subs.update(address, number, None, contents, now, conn)

    def _parent_update(
        self, sub_id: str | None, contents: Any, now: float, conn: int, child: int | None
    ) -> list[Event]:
        address, parent = self._subaccount_id(sub_id)
        number = parent if child is None else child
        return self.subs.update(address, number, parent, contents, now, conn)

    # --- markets -----------------------------------------------------------------------------

    def _markets_snapshot(
        self, _sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        return self._markets(contents, now, conn, True)

    def _markets(self, contents: Any, now: float, conn: int, reset: bool) -> list[Event]:
        """Full entries for every listed market; `reset` (WS snapshot) forgets unlisted ones.

        REST keeps unlisted markets, since /perpetualMarkets can be filtered by ticker.
        """
        entries = contents["markets"]
        out: list[Event] = []
        moved: list[str] = []
        for ticker, entry in entries.items():
            self._merge_market(ticker, entry, True, now, conn, out, moved)
        if reset:
            for ticker in [t for t in self.markets.by_ticker if t not in entries]:
                del self.markets.by_ticker[ticker]
        out.extend(self._revalue(moved, now, conn))
        return out

    def _merge_market(
        self,
        ticker: str,
        entry: Any,
        snapshot: bool,
        now: float,
        conn: int,
        out: list[Event],
        moved: list[str],
    ) -> None:
        try:
            market, changed = self.markets.merge(ticker, entry)
        except BAD_ITEM as exc:
            self._problem(f"market: {describe(exc)}", entry)
            return
        if self._market_on:
            out.append(Event("market", now, market.data(snapshot), conn))
        if changed:
            moved.append(ticker)

    def _markets_update(
        self, _sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        """`trading` diffs and/or `oraclePrices`; holders of a priced market are revalued."""
        out: list[Event] = []
        moved: list[str] = []
        trading = contents.get("trading")
        if trading:
            for ticker, entry in trading.items():
                self._merge_market(ticker, entry, False, now, conn, out, moved)
        prices = contents.get("oraclePrices")
        if prices:
            emit = self._market_on
            for ticker, entry in prices.items():
                try:
                    market, _ = self.markets.set_price(ticker, entry["oraclePrice"])
                except BAD_ITEM as exc:
                    self._problem(f"oracle price: {describe(exc)}", entry)
                    continue
                if emit:
                    out.append(Event("market", now, market.data(False), conn))
                moved.append(ticker)
        if moved:
            out.extend(self._revalue(moved, now, conn))
        return out

    def _revalue(self, tickers: list[str], now: float, conn: int) -> list[Event]:
        """One `account` event (origin "price") per account holding any of these markets.

        Lazy (the live source): the accounts are only marked due, and `flush` values each once
        for the whole batch of frames, with the newest prices.
        """
        subs = self.subs
        if not (subs.account_on or subs.risk_enabled):
            return []  # nobody reads what a revaluation makes
        if self.lazy:
            due, holders = self.subs.due, self.subs.accounts.holders
            for ticker in tickers:
                keys = holders.get(ticker)
                if keys:
                    for key in keys:
                        due[key] = conn
            return []
        holding = self.subs.accounts.holding
        if len(tickers) == 1:
            accounts: Iterable[Account] = holding(tickers[0])
        else:
            accounts = {id(a): a for t in tickers for a in holding(t)}.values()
        markets = self.markets
        out = (
            [Event("account", now, account_data(a, markets, "price"), conn) for a in accounts]
            if subs.account_on
            else []
        )
        self.subs.risk_events(accounts, now, conn, "price", out)
        return out

    def flush(self, now: float) -> list[Event]:
        """The revaluations `lazy` deferred: one `account` event per due account, valued now.

        Called once per batch (when the consumer takes it); an account whose own update came
        after its last price already had its event then, with those prices, and is not due.
        """
        due = self.subs.due
        if not due:
            return []
        by_key, markets = self.subs.accounts.by_key, self.markets
        out: list[Event] = []
        groups: dict[int, list[Account]] = {}
        for key, conn in due.items():
            acct = by_key.get(key)
            if acct is not None:  # else forgotten meanwhile (another replica owns it now)
                if self.subs.account_on:
                    out.append(Event("account", now, account_data(acct, markets, "price"), conn))
                groups.setdefault(conn, []).append(acct)
        due.clear()
        for conn, accts in groups.items():
            self.subs.risk_events(accts, now, conn, "price", out)
        return out

    # --- order book --------------------------------------------------------------------------

    def _book_snapshot(
        self, sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        """Snapshot levels are {price, size} objects; the book is rebuilt from scratch."""
        ticker = _need(sub_id)
        book = self.books[ticker] = Book(ticker)
        for side, levels in ((book.bid, contents.get("bids")), (book.ask, contents.get("asks"))):
            for level in _unwrap_levels(levels):
                try:
                    side(num(level["price"]), num(level["size"]))
                except BAD_ITEM as exc:
                    self._problem(f"orderbook level: {describe(exc)}", level)
        book.top_changed()
        return [Event("orderbook", now, book.summary(), conn)] if self._book_on else []

    def _book_update(
        self, sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        """Update levels are [price, size] arrays with the absolute size; "0" deletes."""
        book = self.books.get(sub_id) if sub_id is not None else None
        if book is None:
            book = self.books[_need(sub_id)] = Book(_need(sub_id))
        if not self._book_on:  # kept for when a rule reads it again, without a summary
            book.apply(contents.get("bids"), contents.get("asks"), self._bad)
            return []
        summary = book.update(contents.get("bids"), contents.get("asks"), self._bad)
        if summary is None:
            return []
        return [Event("orderbook", now, summary, conn)]

    def _bad_level(self, exc: Exception, level: Any) -> None:
        self._problem(f"orderbook level: {describe(exc)}", level)

    # --- trades, candles, block height -------------------------------------------------------

    def _nothing(
        self, _sub_id: str | None, _contents: Any, _now: float, _conn: int, _child: int | None
    ) -> list[Event]:
        """Trade and candle snapshots are history: no events."""
        return []

    def _trades_update(
        self, sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        out: list[Event] = []
        ticker = _need(sub_id)
        if not self._trade_on:
            return out  # no state: nothing to keep
        for item in contents["trades"]:
            try:
                out.append(Event("trade", now, trade_data(item, ticker), conn))
            except BAD_ITEM as exc:
                self._problem(f"trade: {describe(exc)}", item)
        return out

    def _candle_update(
        self, sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        if not self._candle_on:
            return []  # no state: nothing to keep
        return [Event("candle", now, candle_data(contents, sub_id), conn)]

    def _block_snapshot(
        self, _sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        return self._block(height(contents["height"]), contents.get("time"), now, conn)

    def _block_update(
        self, _sub_id: str | None, contents: Any, now: float, conn: int, _child: int | None
    ) -> list[Event]:
        return self._block(height(contents["blockHeight"]), contents.get("time"), now, conn)

    def _block(self, value: int, time: Any, now: float, conn: int) -> list[Event]:
        """Several connections (and REST) report heights: emit each new height once."""
        if self.last_block is not None and value <= self.last_block:
            return []
        self.last_block = value
        if not self._block_on:
            return []
        return [Event("block", now, {"height": value, "time": opt_text(time)}, conn)]
