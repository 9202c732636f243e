"""One `alertbot run` per SQLite state dir: a second run, or a migration, is refused by name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from alertbot.cli import main
from alertbot.state import StateError, open_state
from alertbot.state.runlock import LOCK_FILE, RunLock
from tests.apphelpers import running, write_config
from tests.delivery.fakes import note


async def test_a_second_run_and_a_migration_are_refused_while_a_run_holds_the_dir(
    sim, sink, tmp_path, capsys
):
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), "  []\n")
    async with running(path) as run:
        state = run.app._state
        assert state is not None
        with pytest.raises(
            StateError, match=rf"in use by another alertbot run \(pid {os.getpid()}\)"
        ):
            open_state(tmp_path / "state", exclusive="starting another")
        dsn = "postgresql://postgres@127.0.0.1:9/none"  # never reached: refused before
        assert main(["state", "migrate", "--to", "postgresql", "--dsn", dsn, "-c", str(path)]) == 2
        assert "stop it before migrating it" in capsys.readouterr().err
        state.outbox.add(note(1), "hook", 1.0)  # the commands beside a run still write
        beside = open_state(tmp_path / "state")
        assert beside.outbox.counts().get("pending", 0) >= 1
        beside.close()
    again = open_state(tmp_path / "state", exclusive="starting another")  # released at stop
    again.close()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    code = (
        "import sys; from alertbot.state.runlock import RunLock; "
        f"RunLock.take({str(tmp_path)!r}, 'x'); print('held', flush=True); sys.stdin.read()"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            with pytest.raises(StateError, match=rf"\(pid {holder.pid}\); stop it before y"):
                RunLock.take(tmp_path, "y")
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=10)
    RunLock.take(tmp_path, "y").release()  # the kernel dropped the dead holder's lock
    assert (tmp_path / LOCK_FILE).exists()
