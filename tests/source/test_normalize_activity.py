"""Fills and transfers: fields, de-duplication across WS and REST, the REST history filter."""

from __future__ import annotations

from typing import Any

from alertbot.source.activity import Recent
from alertbot.source.normalize import Normalizer

ADDR = "dydx1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
SUB_ID = f"{ADDR}/0"
CH = "v4_subaccounts"


def _fail(reason: str, raw: Any) -> None:
    raise AssertionError(f"unexpected problem {reason}: {raw}")


def fill(fid: str, kind: str = "LIMIT", rest: bool = False, h: str = "1001", **kw: Any) -> dict:
    item: dict[str, Any] = {
        "id": fid,
        "side": "SELL",
        "liquidity": "TAKER",
        "type": kind,
        "orderId": "o1",
        "size": "0.5",
        "price": "2000",
        "fee": "-0.25",
        "createdAt": "2024-08-12T14:06:01.172Z",
        "createdAtHeight": h,
    }
    if rest:
        item.update(market="ETH-USD", marketType="PERPETUAL", subaccountNumber=0)
    else:
        item.update(ticker="ETH-USD", quoteAmount="1000", eventId="0000", clobPairId="1")
    item.update(kw)
    return item


def started(block: str = "1000") -> Normalizer:
    n = Normalizer(on_problem=_fail)
    sub = {
        "address": ADDR,
        "subaccountNumber": 0,
        "equity": "10",
        "freeCollateral": "10",
        "openPerpetualPositions": {},
        "assetPositions": {},
        "latestProcessedBlockHeight": block,
    }
    n.snapshot(CH, SUB_ID, {"subaccount": sub, "orders": [], "blockHeight": block}, 0.0, 0)
    return n


def fills(events) -> list[dict]:
    return [e.data for e in events if e.kind == "fill"]


def test_ws_fill_fields() -> None:
    n = started()
    got = fills(n.update(CH, SUB_ID, {"fills": [fill("f1")]}, 1.0, 0))
    assert got == [
        {
            "id": "f1",
            "order_id": "o1",
            "ticker": "ETH-USD",
            "side": "SELL",
            "size": 0.5,
            "price": 2000.0,
            "notional": 1000.0,
            "fee": -0.25,
            "liquidity": "TAKER",
            "type": "LIMIT",
            "liquidated": False,
            "deleveraged": False,
            "created_at": "2024-08-12T14:06:01.172Z",
            "height": 1001,
            "address": ADDR,
            "subaccount": 0,
            "catchup": False,
        }
    ]


def test_liquidation_types() -> None:
    n = started()
    items = [fill("a", "LIQUIDATED"), fill("b", "LIQUIDATION"), fill("c", "DELEVERAGED")]
    got = fills(n.update(CH, SUB_ID, {"fills": items}, 1.0, 0))
    assert [(f["liquidated"], f["deleveraged"]) for f in got] == [
        (True, False),  # taker side: this account was liquidated
        (False, False),  # maker side of someone else's liquidation
        (False, True),
    ]


def test_fills_are_deduplicated_across_ws_and_rest() -> None:
    n = started()
    assert len(fills(n.update(CH, SUB_ID, {"fills": [fill("f1")]}, 1.0, 0))) == 1
    assert fills(n.update(CH, SUB_ID, {"fills": [fill("f1")]}, 2.0, 0)) == []
    body = {"fills": [fill("f1", rest=True), fill("f2", rest=True, h="1005")]}
    got = n.rest_fills(ADDR, 0, body, 3.0)
    assert [(e.data["id"], e.data["ticker"], e.conn) for e in got] == [("f2", "ETH-USD", -1)]
    assert got[0].data["notional"] == 1000.0  # size x price when quoteAmount is absent


def test_rest_fills_before_first_sight_never_alert() -> None:
    n = started(block="1000")
    body = {"fills": [fill("old", rest=True, h="999"), fill("edge", rest=True, h="1000")]}
    assert n.rest_fills(ADDR, 0, body, 1.0) == []
    body["fills"].append(fill("new", rest=True, h="1001"))
    assert [e.data["id"] for e in n.rest_fills(ADDR, 0, body, 2.0)] == ["new"]


def test_rest_fills_without_any_snapshot_take_the_first_body_as_history() -> None:
    n = Normalizer(on_problem=_fail)
    first = {"fills": [fill("a", rest=True, h="50"), fill("b", rest=True, h="60")]}
    assert n.rest_fills(ADDR, 0, first, 1.0) == []
    second = {"fills": [fill("c", rest=True, h="61"), *first["fills"]]}
    assert [e.data["id"] for e in n.rest_fills(ADDR, 0, second, 2.0)] == ["c"]


def test_recent_is_bounded() -> None:
    recent = Recent(limit=3)
    assert all(recent.add(k) for k in "abcd")
    assert len(recent) == 3
    assert "a" not in recent
    assert "d" in recent
    assert not recent.add("d")
    assert recent.add("a")  # forgotten, so new again


def test_transfer_fields_and_dedup() -> None:
    n = started()
    transfer = {
        "sender": {"address": ADDR, "subaccountNumber": 0},
        "recipient": {"address": "noble1xyz"},
        "symbol": "USDC",
        "size": "10",
        "type": "WITHDRAWAL",
        "transactionHash": "C0A4",
        "createdAt": "2024-08-16T08:43:22.999Z",
        "createdAtHeight": "19079256",
    }
    events = n.update(CH, SUB_ID, {"transfers": transfer, "blockHeight": "19079256"}, 1.0, 0)
    assert [e.data for e in events] == [
        {
            "id": "C0A4:WITHDRAWAL",
            "type": "WITHDRAWAL",
            "size": 10.0,
            "symbol": "USDC",
            "sender": f"{ADDR}/0",
            "recipient": "noble1xyz",
            "tx_hash": "C0A4",
            "height": 19079256,
            "created_at": "2024-08-16T08:43:22.999Z",
            "address": ADDR,
            "subaccount": 0,
            "catchup": False,
        }
    ]
    assert n.update(CH, SUB_ID, {"transfers": transfer}, 2.0, 0) == []


def test_trading_reward_and_height_only_items_are_quiet() -> None:
    n = started()
    reward = {"tradingReward": {"tradingReward": "0.0004", "createdAtHeight": "5"}}
    assert n.update(CH, SUB_ID, reward, 1.0, 0) == []
    assert n.update(CH, SUB_ID, {"blockHeight": "1002"}, 1.0, 0) == []
