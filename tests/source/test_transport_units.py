"""Pure transport pieces: backoff, gap detection, sharding, pacing, addresses."""

from __future__ import annotations

import orjson
import pytest

from alertbot.config_load import parse_config
from alertbot.core.backoff import Backoff
from alertbot.source.address import address_problem, bech32_encode, parse_subaccount
from alertbot.source.gaps import MAX_OPEN_GAP, GapDetector
from alertbot.source.protocol import CAPS
from alertbot.source.subscriptions import Pacer, Subscription, shard, wanted

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
REAL = [
    ADDR,
    "dydx199tqg4wdlnu4qjlxchpd7seg454937hjrknju4",
    "dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r",
]


@pytest.mark.parametrize("address", REAL)
def test_real_addresses_are_valid(address):
    assert address_problem(address) is None
    assert address_problem(address.upper()) is None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        (ADDR[:-1] + "x", "checksum"),
        (ADDR[:10] + ADDR[11].upper() + ADDR[11:], "mixes upper and lower"),
        ("cosmos1zzueazeh0hj67cghhf9jypslcf9sh2n5k6art", "must start with 'dydx1'"),
        ("dydx1zzueazeh0hj67cghhf9jypslcf9sh2n5k6arb", "not allowed in bech32"),
        (bech32_encode("dydx", bytes(10)), "payload is 10 bytes"),
        ("", "empty"),
    ],
)
def test_bad_addresses_name_the_problem(address, why):
    assert why in (address_problem(address) or "")


def test_encode_round_trips():
    assert bech32_encode("dydx", bytes(range(20))).startswith("dydx1")
    assert address_problem(bech32_encode("dydx", bytes(range(20)))) is None
    assert address_problem(bech32_encode("dydx", bytes(32))) is None


def test_subaccount_ranges():
    assert parse_subaccount(f"{ADDR}/127999").number == 127999
    with pytest.raises(ValueError, match=r"0\.\.127999"):
        parse_subaccount(f"{ADDR}/128000")
    with pytest.raises(ValueError, match=r"0\.\.127"):
        parse_subaccount(f"{ADDR}/128", parent=True)
    with pytest.raises(ValueError, match="whole number"):
        parse_subaccount(f"{ADDR}/-1")


def test_backoff_is_capped_full_jitter_and_resets_when_stable():
    draws = iter([1.0] * 20)
    backoff = Backoff(initial=1, max=10, multiplier=2, stable_after=30, rng=lambda: next(draws))
    delays = [backoff.next_delay() for _ in range(6)]
    assert delays == [1, 2, 4, 8, 10, 10]
    backoff.connected_for(29)
    assert backoff.ceiling() == 10
    backoff.connected_for(30)
    assert backoff.ceiling() == 1
    zero = Backoff(initial=1, max=10, rng=lambda: 0.0)
    assert zero.next_delay() == 0.0  # full jitter: anywhere down to zero


def test_backoff_slows_down_after_rate_limit():
    backoff = Backoff(initial=1, max=100, rng=lambda: 1.0)
    backoff.slow_down()
    assert backoff.next_delay() == 4


def test_gap_filled_late_is_not_a_gap():
    gaps = GapDetector(timeout=30)
    for mid in (0, 1, 3, 4):  # 2 is a late `subscribed`
        assert not gaps.see(mid, now=10)
    assert set(gaps.missing) == {2}
    gaps.see(2, now=20)
    assert gaps.overdue(now=100) == []


def test_gap_unfilled_is_overdue_after_timeout():
    gaps = GapDetector(timeout=30)
    gaps.see(0, 0)
    gaps.see(5, 1)
    assert gaps.overdue(30.9) == []
    assert gaps.overdue(31) == [1, 2, 3, 4]
    assert gaps.missing == {}


def test_duplicate_ids_of_error_replies_are_tolerated():
    gaps = GapDetector(timeout=30)
    for mid in (0, 1, 1, 1, 2):
        assert not gaps.see(mid, 0)
    assert gaps.missing == {}


def test_huge_gap_demands_immediate_resync():
    gaps = GapDetector(timeout=30)
    gaps.see(0, 0)
    assert gaps.see(MAX_OPEN_GAP + 10, 0)


def config_with(subaccounts: int, markets: int):
    addrs = [f"{ADDR}/{n}" for n in range(subaccounts)]
    tickers = [f"M{n}-USD" for n in range(markets)]
    text = orjson.dumps({"source": {"subaccounts": addrs, "markets": tickers}}).decode()
    return parse_config(text, "rules.yaml", env={}).source


def test_wanted_has_no_orders_channel_and_markets_without_id():
    subs = wanted(config_with(1, 1))
    channels = {s.channel for s in subs}
    assert channels == {"v4_subaccounts", "v4_markets", "v4_trades", "v4_orderbook"}
    markets = next(s for s in subs if s.channel == "v4_markets")
    assert orjson.loads(markets.subscribe_message()) == {
        "type": "subscribe",
        "channel": "v4_markets",
        "batched": True,
    }


def test_sharding_respects_every_cap_and_gives_each_connection_block_height():
    shards = shard(wanted(config_with(600, 70)))
    assert len(shards) == 3
    for group in shards:
        counts: dict[str, int] = {}
        for sub in group:
            counts[sub.channel] = counts.get(sub.channel, 0) + 1
        assert all(n <= CAPS[ch] for ch, n in counts.items())
        assert counts["v4_block_height"] == 1
    everything = [s for g in shards for s in g if s.channel != "v4_block_height"]
    assert len(everything) == len(set(everything)) == 600 + 1 + 140


def test_pacer_never_allows_three_subscribes_per_key_per_second():
    pacer = Pacer(rate=1000)
    times = [pacer.reserve("v4_trades-BTC-USD", now=0.0) for _ in range(6)]
    for i in range(2, 6):
        assert times[i] - times[i - 2] >= 1.0
    other = pacer.reserve("v4_trades-ETH-USD", now=0.0)
    assert other < 1.0  # other ids are not held back by BTC's window


def test_pacer_sends_256_subaccounts_in_seconds():
    pacer = Pacer(rate=100)
    last = max(pacer.reserve(f"v4_subaccounts-{ADDR}/{n}", 0.0) for n in range(256))
    assert last < 3.0


def test_subscription_keys_match_server_error_texts():
    assert Subscription("v4_trades", "BTC-USD").key == "v4_trades-BTC-USD"
    assert Subscription("v4_markets", None).key == "v4_markets"
