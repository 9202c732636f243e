"""The state database: schema, WAL, clear errors for corrupt or unwritable files, disk full."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from alertbot.core.model import AlertSummary
from alertbot.core.secrets import mask
from alertbot.notify.delivery import SPILL_RETRY_MAX
from alertbot.state.api import RuleStateChange, StateChanges
from alertbot.state.db import DB_FILE, StateDB, StateError
from alertbot.state.outbox import SqliteOutbox, note_from_json, note_to_json
from alertbot.state.schema import SCHEMA, SCHEMA_VERSION
from tests.delivery.conftest import rows, until
from tests.delivery.fakes import Recorder, Result, note


def test_schema_is_versioned_and_the_journal_is_wal(db):
    assert db.query("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert db.query("PRAGMA journal_mode") == [("wal",)]
    assert db.query("PRAGMA synchronous") == [(1,)]  # NORMAL (see state/db.py)


def test_full_sync_can_be_chosen(tmp_path):
    full = StateDB.open(tmp_path, synchronous="full", schema=SCHEMA)
    assert full.query("PRAGMA synchronous") == [(2,)]
    full.close()


def test_reopening_keeps_rows(tmp_path):
    first = StateDB.open(tmp_path, schema=SCHEMA)
    SqliteOutbox(first).add(note(1), "hook", 5.0)
    first.close()
    second = StateDB.open(tmp_path, schema=SCHEMA)
    assert rows(second) == [(1, "hook", "pending", 0, "fp1", "")]
    second.close()


def test_a_corrupt_file_is_a_clear_error_naming_it(tmp_path):
    (tmp_path / DB_FILE).write_bytes(b"this is not a database at all " * 200)
    with pytest.raises(StateError, match=rf"{tmp_path / DB_FILE} is corrupt or not a database"):
        StateDB.open(tmp_path, schema=SCHEMA)


def test_an_unwritable_state_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(StateError, match=rf"cannot create state directory {blocker}"):
        StateDB.open(blocker, schema=SCHEMA)
    (tmp_path / "d" / DB_FILE).mkdir(parents=True)  # the database path is a directory
    with pytest.raises(StateError, match=rf"{tmp_path / 'd' / DB_FILE}"):
        StateDB.open(tmp_path / "d", schema=SCHEMA)


def test_a_foreign_or_newer_database_is_refused(tmp_path):
    other = sqlite3.connect(tmp_path / DB_FILE)
    other.execute("CREATE TABLE t (x)")
    other.commit()
    other.close()
    with pytest.raises(StateError, match="is not an alertbot state database"):
        StateDB.open(tmp_path, schema=SCHEMA)
    newer = tmp_path / "newer"
    db = StateDB.open(newer, schema=SCHEMA)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateError, match="schema 99, newer than this alertbot"):
        StateDB.open(newer, schema=SCHEMA)


def test_notifications_survive_a_json_round_trip():
    grouped = note(3, alerts=(AlertSummary({"n": "1"}, "firing", "t", "m", 1.0, {"k": 1}),))
    assert note_from_json(note_to_json(grouped)) == grouped


def test_mask_hides_credentials_queries_and_tokens():
    text = "POST https://u:p@hooks.slack.com/services/T0/B0/abcdefghijklmnopqrstuvwx?x=1 failed"
    assert mask(text) == "POST https://***@hooks.slack.com/services/T0/B0/***?*** failed"
    assert len(mask("error " * 400)) == 500


def _fill_up(db: StateDB) -> None:
    """Cap the file at its current size, so the next insert finds the disk full."""
    pages = db.query("PRAGMA page_count")[0][0]
    db.query(f"PRAGMA max_page_count = {pages}")


async def test_disk_full_keeps_the_notification_in_memory_and_retries(make, db, caplog):
    hook = Recorder("hook")
    delivery = make(hook)
    big = "x" * 20_000
    delivery.submit(note(0, message=big))
    _fill_up(db)
    delivery.submit(note(1, message=big))
    assert delivery.status()["spilled"] == 1
    assert "1 notification(s) held in memory and retried (logged once a minute)" in caplog.text
    assert "database or disk is full" in caplog.text
    delivery.submit(note(2, message=big))  # still full: both kept, in order
    assert delivery.status()["spilled"] == 2
    assert [r[4] for r in rows(db)] == ["fp0"]
    await delivery.start()
    db.query("PRAGMA max_page_count = 1000000")  # space again: the retry writes them
    await until(lambda: hook.ids() == ["fp0", "fp1", "fp2"])
    await delivery.stop(timeout=10)
    assert delivery.status()["spilled"] == 0
    assert [(r[2], r[4]) for r in rows(db)] == [("sent", "fp0"), ("sent", "fp1"), ("sent", "fp2")]


def test_flush_writes_what_is_held_at_once_not_after_the_backoff(make, store, db):
    delivery = make(Recorder("hook"))  # not started: no retry loop runs
    big = "x" * 20_000
    delivery.submit(note(0, message=big))
    _fill_up(db)
    told = RuleStateChange("filled", "d", '["fill",["a",1,"f1"],["f1"]]', {"seen": 1.0})
    delivery.submit_many((note(1, message=big),), changes=StateChanges((told,)))
    assert not delivery.flush()  # still full: kept
    assert store.rules.load() == []
    db.query("PRAGMA max_page_count = 1000000")
    assert delivery.flush()  # written now: a take-over's load right after finds it
    assert store.rules.load() == [told]
    assert [r[4] for r in rows(db)] == ["fp0", "fp1"]


async def test_held_writes_are_retried_every_few_seconds_however_long_it_lasts(make, db, clock):
    delivery = make(Recorder("hook"))  # the notifier backoff grows to 300 s; not this one
    big = "x" * 20_000
    delivery.submit(note(0, message=big))
    _fill_up(db)
    delivery.submit(note(1, message=big))
    await delivery.start()
    await until(lambda: len(clock.slept) >= 12)  # a dozen failed retries
    assert delivery.status()["spilled"] == 1
    assert max(clock.slept) <= SPILL_RETRY_MAX
    db.query("PRAGMA max_page_count = 1000000")
    await until(lambda: delivery.status()["spilled"] == 0)
    await delivery.stop(timeout=10)


class Gated(Recorder):
    """Holds each send until the test opens the gate (a send in flight)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def send(self, batch):
        self.entered.set()
        await self.gate.wait()
        return await super().send(batch)


async def test_disk_full_sends_at_once_from_memory_and_records_it_once_space_returns(make, db):
    hook = Recorder("hook")
    delivery = make(hook)
    await delivery.start()
    _fill_up(db)
    delivery.submit(note(1, message="x" * 20_000))
    await until(lambda: hook.ids() == ["fp1"])  # the disk is still full: sent from memory
    assert delivery.status()["spilled"] == 1
    assert rows(db) == []
    db.query("PRAGMA max_page_count = 1000000")
    await until(lambda: delivery.status()["spilled"] == 0)
    assert [(r[2], r[4]) for r in rows(db)] == [("sent", "fp1")]  # recorded, never re-sent
    assert delivery.status()["held"] == 0
    await delivery.stop(timeout=10)
    assert hook.ids() == ["fp1"]


async def test_a_held_row_in_flight_when_space_returns_is_recorded_on_its_stored_row(make, db):
    hook = Gated("hook")
    delivery = make(hook)
    await delivery.start()
    _fill_up(db)
    delivery.submit(note(1, message="x" * 20_000))
    await asyncio.wait_for(hook.entered.wait(), 5)  # sending from memory
    db.query("PRAGMA max_page_count = 1000000")
    delivery.submit(note(2))  # the write that takes the held one too
    assert [(r[2], r[4]) for r in rows(db)] == [("pending", "fp1"), ("pending", "fp2")]
    hook.gate.set()
    await until(lambda: [r[2] for r in rows(db)] == ["sent", "sent"])
    await delivery.stop(timeout=10)
    assert sorted(hook.ids()) == ["fp1", "fp2"]  # each once


async def test_a_held_row_refused_for_good_is_written_as_a_dead_letter(make, db):
    hook = Recorder("hook", [Result(False, permanent=True, detail="400 bad payload")])
    delivery = make(hook)
    await delivery.start()
    _fill_up(db)
    delivery.submit(note(1, message="x" * 20_000))
    await until(lambda: delivery.lanes["hook"].stats.dead == 1)
    db.query("PRAGMA max_page_count = 1000000")
    await until(lambda: delivery.status()["spilled"] == 0)
    await delivery.stop(timeout=10)
    assert [(r[2], r[4], r[5]) for r in rows(db)] == [("dead", "fp1", "400 bad payload")]
    assert hook.ids() == ["fp1"]


async def test_a_held_row_that_fails_is_retried_from_memory(make, db, clock):
    hook = Recorder("hook", [Result(False, detail="503")])
    delivery = make(hook)
    await delivery.start()
    _fill_up(db)
    delivery.submit(note(1, message="x" * 20_000))
    await until(lambda: hook.ids() == ["fp1", "fp1"])  # the retry, still from memory
    assert rows(db) == []
    await delivery.stop(timeout=10)
