"""`make soak`'s harness kept from rotting: a short fault case, a SIGKILL cycle, the counting."""

from __future__ import annotations

from bench.soak.cases import Scale, drops
from bench.soak.kill import KillPlan, classify, run_kills
from bench.soak.runner import run_case
from bench.soak.sink import Tally, webhook_fills
from bench.soak.tally import outcome, table


async def test_a_dropped_connection_loses_nothing():
    case = drops(Scale(drops=1))[0]  # one 1006
    case.warm, case.after = 1.0, 1.0
    row = await run_case(case)
    assert row.expected >= 4
    assert (row.lost, row.duplicated) == (0, 0)
    assert row.recovery is not None
    assert row.ok


async def test_one_sigkill_cycle_of_a_real_process():
    row = await run_kills(KillPlan(cycles=1, up=(2.0, 2.0), down=(0.0, 0.0)))
    assert row.lost == 0
    assert row.duplicated == row.allowed


def test_only_a_copy_in_the_last_message_before_a_kill_is_a_documented_duplicate():
    tally = Tally()
    tally.accept(["a"])  # message 1
    tally.accept(["b"])  # message 2: in flight at the kill below
    kill = tally.copies[-1].at + 0.001
    tally.accept(["b"])  # after the restart: the documented duplicate
    tally.accept(["a"])  # message 1 was not the last before the kill: undocumented
    for copy in tally.copies[2:]:
        copy.at = kill + 1
    assert classify(tally, [kill]) == (2, 1)
    row = outcome("x", "p", {"a", "b", "c"}, tally, recovery=None)
    assert (row.expected, row.delivered, row.lost) == (3, 2, 1)
    assert "| x | p | 3 | 2 | 1 | 2 |" in table([row])


def test_a_grouped_webhook_document_counts_each_member():
    body = (
        b'{"alerts":[{"title":"Fill 0a1b2c3d","members":null},'
        b'{"title":"Fill 11111111","members":'
        b'[{"title":"Fill 11111111"},{"title":"Fill 22222222"}]}]}'
    )
    assert webhook_fills(body) == ["0a1b2c3d", "11111111", "22222222"]
