"""Which events this replica may act on now: its shards' accounts, and market data if leader."""

from __future__ import annotations

from collections.abc import Callable

from alertbot.cluster.assign import AccountShards
from alertbot.cluster.coordinator import Coordinator
from alertbot.core.model import Event

# Data not tied to an account: market-wide rules run on the leader only.
MARKET_KINDS = frozenset({"market", "trade", "orderbook", "candle", "block"})


class Fence:
    """The one ownership check: the app's event filter and the source's cursor saves share it."""

    def __init__(
        self, accounts: AccountShards, coordinator: Coordinator, clock: Callable[[], float]
    ) -> None:
        self.accounts = accounts
        self.coordinator = coordinator
        self.clock = clock
        self.dropped = 0  # events this replica did not own (in flight at a handover)

    def keep(self, address: str, number: int) -> bool:
        """This replica owns the subaccount now."""
        shard = self.accounts.of(address, number)
        return shard is not None and self.coordinator.owns(shard, self.clock())

    def allows(self, event: Event, now: float) -> bool:
        """Account events of owned shards, market data on the leader, transport always."""
        data = event.data
        address = data.get("address")
        if isinstance(address, str):
            number = data.get("subaccount", data.get("parent_subaccount"))
            shard = self.accounts.of(address, number) if isinstance(number, int) else None
            ok = shard is not None and self.coordinator.owns(shard, now)
        elif event.kind in MARKET_KINDS:
            ok = self.coordinator.leading(now)
        else:
            ok = True  # this replica's own connections and catch-up
        if not ok:
            self.dropped += 1
        return ok
