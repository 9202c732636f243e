"""SIGKILL mid-delivery, then a second run on the same state dir: nothing lost, few duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from tests.delivery.fakes import HookServer, Reply

ROOT = Path(__file__).resolve().parents[2]
N = 30


def _run(state: Path, url: str, batch: int, mode: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.delivery.killee", str(state), url, str(N), str(batch)]
    args.append(mode)
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _resume(state: Path, url: str, batch: int) -> dict:
    proc = _run(state, url, batch, "resume")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize("batch", [1, 4])
def test_sigkill_while_a_message_is_in_flight(tmp_path, batch):
    """The 3rd message is held unanswered when the process dies: exactly it is sent twice."""
    hold = threading.Event()
    script = [Reply(), Reply(), Reply(hold=hold)]
    with HookServer(script) as server:
        first = _run(tmp_path, server.url, batch, "submit")
        try:
            server.wait_for(3, timeout=30)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            first.stdout.close()
            hold.set()
        in_flight = server.log[2]["fingerprints"]
        assert len(in_flight) == batch
        assert len(server.log) == 3
        status = _resume(tmp_path, server.url, batch)
    counts = Counter(server.ids())
    assert set(counts) == {f"fp{i}" for i in range(N)}  # every notification arrived
    duplicates = sorted(fp for fp, n in counts.items() if n > 1)
    assert duplicates == sorted(in_flight)  # only what was in flight, each exactly twice
    assert set(counts.values()) <= {1, 2}
    assert len(server.ids()) == N + batch
    assert status["outbox_depth"] == 0
    assert status["notifiers"]["hook"]["sent"] == N - 2 * batch  # the rest, in the second run


@pytest.mark.parametrize("after", [1, 4, 7])
def test_sigkill_at_an_arbitrary_moment(tmp_path, after):
    """Slow acknowledgements and a kill with no hold: duplicates <= one message in flight."""
    with HookServer(delay=0.02) as server:
        first = _run(tmp_path, server.url, 2, "submit")
        try:
            server.wait_for(after, timeout=30)
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
            first.stdout.close()
        _resume(tmp_path, server.url, 2)
    counts = Counter(server.ids())
    assert set(counts) == {f"fp{i}" for i in range(N)}
    assert len(server.ids()) - N <= 2  # max_batch: one message can be in flight
