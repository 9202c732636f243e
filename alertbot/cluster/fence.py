"""Which events this replica may act on now: its shards' accounts, and market data if leader."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from alertbot.cluster.assign import AccountShards
from alertbot.cluster.coordinator import Coordinator
from alertbot.core.model import Event
from alertbot.core.scope import LOCAL, MARKET, MARKET_KINDS, account_of


class Fence:
    """The one ownership check: the app's event filter and the source's cursor saves share it."""

    def __init__(
        self, accounts: AccountShards, coordinator: Coordinator, clock: Callable[[], float]
    ) -> None:
        self.accounts = accounts
        self.coordinator = coordinator
        self.clock = clock
        self.dropped = 0  # events this replica did not own (in flight at a handover)
        self.adopting = False  # the leader's rule state is not loaded yet: market data waits
        # gained shards whose rule state is not loaded yet: their events wait too (an event
        # still buffered from before a loss must not reach the rules ahead of their state)
        self.pending: set[int] = set()

    def keep(self, address: str, number: int) -> bool:
        """This replica owns the subaccount now."""
        shard = self.accounts.of(address, number)
        return shard is not None and self.coordinator.owns(shard, self.clock())

    def mine(self, accounts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The account views (address, subaccount) of subaccounts this replica owns now."""
        return [a for a in accounts if self.keep(a["address"], a["subaccount"])]

    def holds(self, scope: str, now: float) -> bool:
        """Rule state of this scope is this replica's now (else it neither runs nor writes it)."""
        if scope == LOCAL:
            return True
        if scope == MARKET:
            return self.coordinator.leading(now)
        shard = self.shard_of(scope)
        return shard is not None and self.coordinator.owns(shard, now)

    def shard_of(self, scope: str) -> int | None:
        """The shard of an account scope (None: market, local, or an account not watched)."""
        account = account_of(scope)
        return self.accounts.of(*account) if account is not None else None

    def allows(self, event: Event, now: float) -> bool:
        """Account events of owned shards, market data on the leader, transport always."""
        data = event.data
        address = data.get("address")
        if isinstance(address, str):
            number = data.get("subaccount", data.get("parent_subaccount"))
            shard = self.accounts.of(address, number) if isinstance(number, int) else None
            ok = (
                shard is not None
                and shard not in self.pending
                and self.coordinator.owns(shard, now)
            )
        elif event.kind in MARKET_KINDS:
            ok = self.coordinator.leading(now) and not self.adopting
        else:
            ok = True  # this replica's own connections and catch-up
        if not ok:
            self.dropped += 1
        return ok
