"""An account unwatched on a socket that stays up (refused, waiting to retry, moved) loses no
fill: REST polls it, and its late snapshot is reconciled against the cursors (issue 9)."""

from __future__ import annotations

from pathlib import Path

from alertbot.sim import Simulator
from tests.apphelpers import Run, running, until, write_config
from tests.test_catchup import RULES, caught_up, told_fills
from tests.test_cli import ACC


def config(tmp_path: Path, sim: Simulator, hook: str, polling: str, retry: str) -> Path:
    path = write_config(tmp_path / "rules.yaml", sim, hook, RULES)
    extra = f"  polling: {polling}\n  snapshot_retry: {retry}\n"
    path.write_text(path.read_text().replace("  reconnect:", extra + "  reconnect:", 1))
    return path


async def refused_on_a_live_socket(run: Run, sim: Simulator, failures: int) -> None:
    """Resubscribe with `failures` fetch errors ahead; return once the reconnect's own
    reconciliation is done, so only the per-account path can find what follows."""
    source = run.app._source
    assert source is not None
    rounds, errors = source.sync.rounds, run.app.events["subscription.error"]
    sim.fail_snapshots("v4_subaccounts", failures)
    await sim.disconnect_all(1012)
    await until(lambda: run.app.events["subscription.error"] > errors, "the refusal")
    await until(lambda: source.sync.rounds > rounds, "the reconnect's reconciliation")


def fill(sim: Simulator) -> str:
    sim.new_block()
    return sim.fill_order(sim.place_order(ACC, "BTC-USD", "BUY", 0.001, 59900))


async def test_a_fill_while_the_snapshot_is_refused_is_told_after_the_resubscribe(
    sim, sink, tmp_path
):
    path = config(tmp_path, sim, sink.url(), "{enabled: false}", "1s")
    async with running(path) as run:
        await caught_up(run)
        await refused_on_a_live_socket(run, sim, failures=2)
        made = fill(sim)  # the socket is up, the account is not subscribed: nothing streams it
        await until(lambda: made in told_fills(sink), "the fill, reconciled after the snapshot")
        live = fill(sim)
        await until(lambda: live in told_fills(sink), "a live fill")
    fills = [f for f in told_fills(sink) if f]
    assert sorted(fills) == sorted([made, live])


async def test_an_account_refused_for_long_is_polled_meanwhile(sim, sink, tmp_path):
    path = config(tmp_path, sim, sink.url(), "{after: 200ms, interval: 200ms}", "1h")
    async with running(path) as run:
        await caught_up(run)
        await refused_on_a_live_socket(run, sim, failures=2)
        source = run.app._source
        assert source is not None
        await until(lambda: source.polling, "polling for the unwatched account")
        made = fill(sim)
        await until(lambda: made in told_fills(sink), "the fill, from polling")
        assert run.app.events["connection.lost"] == 1  # the socket itself stayed up
    assert [f for f in told_fills(sink) if f] == [made]
