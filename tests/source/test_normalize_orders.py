"""The order state machine: each transition once, nothing after a final state, baselines silent."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alertbot.source.normalize import Normalizer
from alertbot.source.orders import STATUSES, plan

ADDR = "dydx1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
SUB_ID = f"{ADDR}/0"
CH = "v4_subaccounts"


def order(oid: str = "o1", status: str = "OPEN", filled: str | None = None, **kw: Any) -> dict:
    item: dict[str, Any] = {
        "id": oid,
        "subaccountId": "8586bcf6-1f58-5ec9-a0bc-e53db273e7b0",
        "clientId": "7",
        "clobPairId": "1",
        "side": "BUY",
        "size": "2",
        "price": "100.5",
        "type": "LIMIT",
        "status": status,
        "timeInForce": "GTT",
        "postOnly": False,
        "reduceOnly": False,
        "orderFlags": "64",
        "ticker": "ETH-USD",
    }
    if filled is not None:
        item["totalFilled"] = filled
    item.update(kw)
    return item


def snapshot(orders: list[dict], block: str = "1000") -> dict:
    sub = {
        "address": ADDR,
        "subaccountNumber": 0,
        "equity": "100",
        "freeCollateral": "100",
        "openPerpetualPositions": {},
        "assetPositions": {"USDC": {"symbol": "USDC", "side": "LONG", "size": "100"}},
        "latestProcessedBlockHeight": block,
    }
    return {"subaccount": sub, "orders": orders, "blockHeight": block}


def kinds(events) -> list[str]:
    return [e.kind for e in events if e.kind.startswith("order.")]


def started(*orders: dict) -> Normalizer:
    n = Normalizer(on_problem=_fail)
    n.snapshot(CH, SUB_ID, snapshot(list(orders)), 1.0, 0)
    return n


def _fail(reason: str, raw: Any) -> None:
    raise AssertionError(f"unexpected problem {reason}: {raw}")


def up(n: Normalizer, *orders: dict) -> list:
    return n.update(CH, SUB_ID, {"orders": list(orders), "blockHeight": "1001"}, 2.0, 3)


def test_first_snapshot_is_a_silent_baseline() -> None:
    stale = order("old", "BEST_EFFORT_CANCELED", "0.01", goodTilBlock="951763")
    n = Normalizer(on_problem=_fail)
    events = n.snapshot(CH, SUB_ID, snapshot([order("a"), stale, order("u", "UNTRIGGERED")]), 1, 0)
    assert kinds(events) == []
    assert [e.kind for e in events] == ["account"]
    assert sorted(n.tracked_orders(ADDR, 0)) == ["a", "old", "u"]


def test_full_life_of_an_order_placed_while_running() -> None:
    n = started()
    opened = up(n, order("x", "OPEN", "0"))
    assert kinds(opened) == ["order.opened"]
    data = opened[0].data
    assert data["order_id"] == "x"
    assert data["address"] == ADDR
    assert data["subaccount"] == 0
    assert data["size"] == 2.0
    assert data["price"] == 100.5
    assert data["remaining"] == 2.0
    assert data["previous_status"] is None
    assert data["trigger_price"] is None
    assert opened[0].conn == 3
    assert opened[0].at == 2.0
    part = up(n, order("x", "OPEN", "0.5"))
    assert kinds(part) == ["order.partially_filled"]
    assert part[0].data["total_filled"] == 0.5
    assert part[0].data["remaining"] == 1.5
    assert kinds(up(n, order("x", "OPEN", "1.5"))) == []  # each transition at most once
    done = up(n, order("x", "FILLED", "2"))
    assert kinds(done) == ["order.filled"]
    assert done[0].data["previous_status"] == "OPEN"
    assert done[0].data["remaining"] == 0.0
    assert kinds(up(n, order("x", "FILLED", "2"))) == []
    assert kinds(up(n, order("x", "CANCELED", "2"))) == []  # final: never again
    assert n.tracked_orders(ADDR, 0) == []


def test_cancel_merges_a_minimal_remove_message_with_known_state() -> None:
    n = started(order("c", "OPEN", "0"))
    remove = {
        "id": "c",
        "subaccountId": "uuid",
        "clientId": "7",
        "clobPairId": "1",
        "status": "CANCELED",
        "orderFlags": "64",
        "ticker": "ETH-USD",
        "removalReason": "ORDER_REMOVAL_REASON_USER_CANCELED",
    }
    events = up(n, remove)
    assert kinds(events) == ["order.canceled"]
    data = events[0].data
    assert data["removal_reason"] == "ORDER_REMOVAL_REASON_USER_CANCELED"
    assert data["side"] == "BUY"
    assert data["size"] == 2.0
    assert data["previous_status"] == "OPEN"


def test_conditional_order_triggers() -> None:
    n = started()
    assert kinds(up(n, order("t", "UNTRIGGERED", triggerPrice="90"))) == ["order.opened"]
    events = up(n, order("t", "OPEN", "0", triggerPrice="90"))
    assert kinds(events) == ["order.triggered"]
    assert events[0].data["trigger_price"] == 90.0
    assert kinds(up(n, order("t", "FILLED", "2"))) == ["order.filled"]


def test_untriggered_straight_to_filled_emits_triggered_then_filled() -> None:
    n = started(order("t", "UNTRIGGERED"))
    assert kinds(up(n, order("t", "FILLED", "2"))) == ["order.triggered", "order.filled"]


def test_best_effort_canceled_is_not_final() -> None:
    n = started(order("b", "BEST_EFFORT_OPENED"))
    assert kinds(up(n, order("b", "BEST_EFFORT_CANCELED"))) == ["order.best_effort_canceled"]
    assert kinds(up(n, order("b", "BEST_EFFORT_CANCELED"))) == []
    assert n.tracked_orders(ADDR, 0) == ["b"]
    assert kinds(up(n, order("b", "FILLED", "2"))) == ["order.filled"]


def test_best_effort_canceled_then_canceled_still_emits() -> None:
    n = started(order("b", "OPEN"))
    assert kinds(up(n, order("b", "BEST_EFFORT_CANCELED"))) == ["order.best_effort_canceled"]
    assert kinds(up(n, order("b", "CANCELED", "0"))) == ["order.canceled"]


def test_stale_best_effort_canceled_stays_silent_across_reconnects() -> None:
    stale = order("old", "BEST_EFFORT_CANCELED", "0.01", updatedAtHeight="951763")
    n = started(stale)
    again = n.snapshot(CH, SUB_ID, snapshot([stale], "2000"), 5.0, 1)
    assert kinds(again) == []


def test_first_sight_of_a_final_order_emits_only_the_final_transition() -> None:
    n = started()
    assert kinds(up(n, order("f", "FILLED", "2"))) == ["order.filled"]
    assert kinds(up(n, order("g", "CANCELED", "1"))) == ["order.canceled"]
    assert kinds(up(n, order("h", "BEST_EFFORT_CANCELED"))) == ["order.best_effort_canceled"]
    assert kinds(up(n, order("p", "OPEN", "0.5"))) == ["order.opened", "order.partially_filled"]


def test_reconnect_snapshot_diffs_instead_of_reemitting() -> None:
    n = started(order("a", "OPEN", "0"), order("b", "OPEN", "0"))
    events = n.snapshot(
        CH, SUB_ID, snapshot([order("a", "OPEN", "0"), order("b", "OPEN", "1"), order("new")]), 5, 1
    )
    assert sorted((e.data["order_id"], e.kind) for e in events if e.kind.startswith("order")) == [
        ("b", "order.partially_filled"),
        ("new", "order.opened"),
    ]
    assert all(e.conn == 1 for e in events)


def test_order_filled_during_outage_found_by_rest_once() -> None:
    n = started(order("a", "OPEN", "0", updatedAtHeight="990"))
    n.snapshot(CH, SUB_ID, snapshot([], "1500"), 5, 1)  # "a" vanished from the fresh snapshot
    assert n.tracked_orders(ADDR, 0) == ["a"]
    events = n.rest_order(order("a", "FILLED", "2"), 6.0)
    assert kinds(events) == ["order.filled"]
    assert events[0].conn == -1
    assert n.rest_order(order("a", "FILLED", "2"), 7.0) == []
    assert n.tracked_orders(ADDR, 0) == []


def test_rest_orders_history_before_first_sight_is_silent() -> None:
    n = started(order("a", "OPEN", "0"))
    body = [
        order("old", "FILLED", "2", updatedAtHeight="900"),
        order("a", "FILLED", "2", updatedAtHeight="1200"),
        order("later", "CANCELED", "0", updatedAtHeight="1300"),
    ]
    events = n.rest_orders(ADDR, 0, body, 9.0)
    assert sorted((e.data["order_id"], e.kind) for e in events) == [
        ("a", "order.filled"),
        ("later", "order.canceled"),
    ]
    assert n.rest_orders(ADDR, 0, body, 10.0) == []


def test_rest_orders_first_body_is_a_baseline() -> None:
    n = Normalizer(on_problem=_fail)
    assert n.rest_orders(ADDR, 0, [order("a", "OPEN"), order("f", "FILLED", "2")], 1.0) == []
    assert kinds(n.rest_orders(ADDR, 0, [order("a", "CANCELED")], 2.0)) == ["order.canceled"]


def test_unknown_order_id_on_rest_order_is_a_problem_not_an_error() -> None:
    seen: list[str] = []
    n = Normalizer(on_problem=lambda reason, raw: seen.append(reason))
    assert n.rest_order(order("nobody", "FILLED"), 1.0) == []
    assert n.problems == 1
    assert "unknown order id" in seen[0]


def test_orders_of_a_parent_snapshot_take_their_child_number() -> None:
    n = Normalizer(on_problem=_fail)
    contents = {
        "subaccount": {"address": ADDR, "parentSubaccountNumber": 0, "childSubaccounts": []},
        "orders": [order("k", "OPEN", subaccountNumber=128)],
        "blockHeight": "10",
    }
    assert n.snapshot("v4_parent_subaccounts", SUB_ID, contents, 1.0, 0) == []
    assert n.tracked_orders(ADDR, 128) == ["k"]
    events = n.update(
        "v4_parent_subaccounts", SUB_ID, {"orders": [order("k", "FILLED")]}, 2, 0, 128
    )
    assert kinds(events) == ["order.filled"]
    assert events[0].data["subaccount"] == 128


def test_plan_table() -> None:
    assert plan("FILLED", 0, "OPEN", 0) == []
    assert plan("CANCELED", 0, "FILLED", 1) == []
    assert plan("OPEN", 0, "CANCELED", 0.5) == ["partially_filled", "canceled"]
    assert plan("BEST_EFFORT_OPENED", 0, "OPEN", 0) == []


STATUS_LIST = sorted(STATUSES)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["o1", "o2", "o3"]),
            st.sampled_from(STATUS_LIST),
            st.one_of(st.none(), st.sampled_from(["0", "0.5", "1", "1.5", "2"])),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_property_no_transition_twice_and_nothing_after_final(steps) -> None:
    n = Normalizer(on_problem=_fail)
    n.snapshot(CH, SUB_ID, snapshot([order("o1", "OPEN", "0")]), 0.0, 0)
    emitted: set[tuple[str, str]] = set()
    final: set[str] = set()
    for oid, status, filled, via_snapshot in steps:
        item = order(oid, status, filled)
        events = n.snapshot(CH, SUB_ID, snapshot([item]), 1.0, 0) if via_snapshot else up(n, item)
        for e in events:
            if not e.kind.startswith("order."):
                continue
            key = (e.data["order_id"], e.kind)
            assert key not in emitted, key
            assert e.data["order_id"] not in final, key
            emitted.add(key)
        if status in ("FILLED", "CANCELED"):
            final.add(oid)
