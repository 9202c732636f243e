"""A real 2 MiB volume (tmpfs): a full disk gives the write-ahead log's space back, and once
space is freed, writes keep succeeding instead of the log eating the freed space (issue 10)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from alertbot.state.db import DiskFull
from alertbot.state.sqlite import SqliteStore
from tests.delivery.fakes import note


@pytest.fixture
def volume(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted on tmp_path/vol (root only: skipped, saying why, otherwise)."""
    mount = tmp_path / "vol"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path, keep: int) -> None:
    """Take every byte of the volume, then give `keep` back."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\1" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(path, max(0, path.stat().st_size - keep))


def cycle(store: SqliteStore, i: int) -> None:
    """What delivery writes per notification: the row, its `sent` mark, the retention purge."""
    now = time.time()
    row = store.outbox.add(note(i, message="m" * 1500), "hook", now)
    store.outbox.mark_sent([row], now)
    store.outbox.purge(now + 1)


def many(store: SqliteStore, count: int) -> None:
    for i in range(count):
        cycle(store, i)


def test_a_full_volume_gets_the_log_back_and_freed_space_stays_usable(volume: Path):
    store = SqliteStore.open(volume / "state")
    wal = volume / "state" / "alertbot.db-wal"
    ballast = volume / "ballast"
    try:
        many(store, 100)  # a used database: its file has room for rows the purge freed
        assert store.db.reclaim()
        fill(ballast, keep=150_000)
        with pytest.raises(DiskFull):
            many(store, 1000)
        assert wal.stat().st_size == 0  # the failed write checkpointed and truncated the log
        ballast.unlink()  # space is back
        many(store, 600)  # about 3 MiB of writes through a 2 MiB volume
        assert wal.stat().st_size <= 1 << 20
    finally:
        store.close()
