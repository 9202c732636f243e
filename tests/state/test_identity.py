"""A state dir that held a database never silently starts empty: lost or replaced is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import alertbot.app
from alertbot.core.tasks import TaskFailed
from alertbot.state import DB_FILE, StateError, open_state
from alertbot.state.identity import MARKER
from tests.apphelpers import running, write_config
from tests.delivery.fakes import note


def with_pending(state_dir: Path, count: int = 3) -> str:
    """A state dir whose outbox holds `count` pending rows; returns its identity."""
    store = open_state(state_dir)
    for i in range(count):
        store.outbox.add(note(i), "hook", 1.0)
    own = store.identity  # type: ignore[attr-defined]
    store.close()
    return own


def test_a_fresh_state_dir_gets_an_identity_and_keeps_it(tmp_path):
    own = with_pending(tmp_path)
    assert (tmp_path / MARKER).read_text().strip() == own
    again = open_state(tmp_path)
    assert again.identity == own  # type: ignore[attr-defined]
    assert again.outbox.counts() == {"pending": 3}
    again.close()


def test_a_database_truncated_to_zero_bytes_is_refused_not_reset(tmp_path):
    own = with_pending(tmp_path)
    (tmp_path / DB_FILE).write_bytes(b"")
    with pytest.raises(StateError, match=rf"is empty \(0 bytes\), but .* held database {own}"):
        open_state(tmp_path)
    assert (tmp_path / DB_FILE).read_bytes() == b""  # nothing was written over it


def test_a_missing_database_is_refused(tmp_path):
    with_pending(tmp_path)
    (tmp_path / DB_FILE).unlink()
    with pytest.raises(StateError, match=r"is missing.*--reset-state"):
        open_state(tmp_path)
    assert not (tmp_path / DB_FILE).exists()


def test_a_database_from_another_state_dir_is_refused(tmp_path):
    with_pending(tmp_path / "a")
    with_pending(tmp_path / "b")
    shutil.copy(tmp_path / "b" / DB_FILE, tmp_path / "a" / DB_FILE)
    with pytest.raises(StateError, match="the file was replaced"):
        open_state(tmp_path / "a")


def test_reset_moves_the_old_database_aside_and_starts_empty(tmp_path):
    own = with_pending(tmp_path)
    (tmp_path / DB_FILE).write_bytes(b"")
    store = open_state(tmp_path, reset=True)
    assert store.outbox.counts() == {}
    assert store.identity != own  # type: ignore[attr-defined]
    store.close()
    aside = list(tmp_path.glob(f"{DB_FILE}.reset-*"))
    assert len(aside) == 1


def test_a_database_without_a_marker_is_adopted(tmp_path):
    own = with_pending(tmp_path)
    (tmp_path / MARKER).unlink()  # as a state dir of the previous release
    store = open_state(tmp_path)
    assert store.identity == own  # type: ignore[attr-defined]
    assert store.intact() is None
    store.close()
    assert (tmp_path / MARKER).read_text().strip() == own


async def test_a_state_dir_deleted_under_a_running_bot_stops_it(sim, sink, tmp_path, monkeypatch):
    monkeypatch.setattr(alertbot.app, "STATE_CHECK", 0.05)
    path = write_config(tmp_path / "rules.yaml", sim, sink.url(), "  []\n")
    with pytest.raises(TaskFailed, match=r"state database .* was deleted while running"):
        await delete_the_state_dir_while_running(path)


async def delete_the_state_dir_while_running(path: Path) -> None:
    async with running(path) as run:
        shutil.rmtree(path.parent / "state")
        await run.ended()
