"""The fence, pure: which events a replica may act on, and which cursors it may save."""

from __future__ import annotations

from alertbot.cluster.assign import LEADER, AccountShards, lease_name
from alertbot.cluster.config import ClusterConfig
from alertbot.cluster.coordinator import Coordinator
from alertbot.cluster.fence import Fence
from alertbot.cluster.leases import LeaseStore
from alertbot.core.model import Event
from alertbot.source.config import SourceConfig
from alertbot.source.cursors import SourceCursors
from alertbot.source.normalize import Normalizer
from alertbot.state import open_state

ADDR = "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4"
NOW = 1000.0


def fence_holding(*names: str, until: float = NOW + 5) -> Fence:
    config = ClusterConfig(shards=64)
    coordinator = Coordinator(config, LeaseStore("host=127.0.0.1 port=1"), lambda g, lo: None)
    coordinator.valid = dict.fromkeys(names, until)
    accounts = AccountShards(64, [f"{ADDR}/0", f"{ADDR}/1"], [f"{ADDR}/2"])
    return Fence(accounts, coordinator, lambda: NOW)


def shard(fence: Fence, number: int) -> str:
    found = fence.accounts.of(ADDR, number)
    assert found is not None
    return lease_name(found)


def test_account_events_pass_only_for_owned_shards_until_the_fence():
    probe = fence_holding()
    mine = fence_holding(shard(probe, 0), shard(probe, 2))
    fill = Event("fill", NOW, {"address": ADDR, "subaccount": 0})
    child = Event("fill", NOW, {"address": ADDR, "subaccount": 2 + 128})
    parent = Event("risk.parent", NOW, {"address": ADDR, "parent_subaccount": 2})
    other = Event("fill", NOW, {"address": ADDR, "subaccount": 1})
    stranger = Event("fill", NOW, {"address": ADDR, "subaccount": 9})
    assert [mine.allows(e, NOW) for e in (fill, child, parent)] == [True, True, True]
    assert shard(probe, 1) not in (shard(probe, 0), shard(probe, 2))  # 21 vs 61, 60
    assert mine.allows(other, NOW) is False
    assert mine.allows(stranger, NOW) is False  # not watched at all
    assert mine.allows(fill, NOW + 5) is False  # the fence: valid until NOW + 5, exclusive
    assert mine.dropped >= 2


def test_market_data_only_on_the_leader_transport_everywhere():
    price = Event("market", NOW, {"ticker": "BTC-USD"})
    lost = Event("connection.lost", NOW, {"conn": 0})
    follower, leader = fence_holding(), fence_holding(LEADER)
    assert (follower.allows(price, NOW), leader.allows(price, NOW)) == (False, True)
    assert (follower.allows(lost, NOW), leader.allows(lost, NOW)) == (True, True)


def test_cursors_of_accounts_not_owned_are_not_saved(tmp_path):
    store = open_state(tmp_path)
    try:
        normalizer = Normalizer()
        for number in (0, 1):
            acct = normalizer.subs.accounts.get(ADDR, number, None)
            acct.synced = True
        config = SourceConfig.model_validate({"subaccounts": [f"{ADDR}/0", f"{ADDR}/1"]})
        keep = lambda address, number: number == 0  # noqa: E731
        cursors = SourceCursors(store, normalizer, config, keep=keep)
        assert cursors.save(NOW) == 1
        assert store.cursors.get(f"source/{ADDR}/0") is not None
        assert store.cursors.get(f"source/{ADDR}/1") is None
    finally:
        store.close()


def test_a_gained_shard_waits_for_its_rule_state_before_its_events_pass():
    probe = fence_holding()
    mine = fence_holding(shard(probe, 0))
    fill = Event("fill", NOW, {"address": ADDR, "subaccount": 0})
    found = mine.accounts.of(ADDR, 0)
    assert found is not None
    mine.pending.add(found)  # gained, its saved rule state not loaded yet
    assert mine.allows(fill, NOW) is False  # e.g. an event buffered from before a loss
    mine.pending.discard(found)
    assert mine.allows(fill, NOW) is True
