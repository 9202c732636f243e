"""A cursor save that fails (a full disk) never ends the source: the last saved cursors stand."""

from __future__ import annotations

from alertbot.source.client import IndexerSource
from alertbot.source.config import SourceConfig
from alertbot.state import StateWriteError
from tests.rules.helpers import ADDR


class FullDisk:
    def __init__(self) -> None:
        self.tries = 0

    def save(self, now: float, **_: object) -> None:
        self.tries += 1
        raise StateWriteError("database or disk is full (SQLITE_FULL)")


def test_a_failed_cursor_save_is_retried_not_fatal(caplog):
    source = IndexerSource(
        SourceConfig(
            subaccounts=[f"{ADDR}/0"], ws_url="ws://127.0.0.1:9", rest_url="http://127.0.0.1:9"
        )
    )
    source.cursors = FullDisk()  # type: ignore[assignment]
    source._save_cursors()
    source._save_cursors()
    assert source.cursors.tries == 2  # type: ignore[union-attr]
    assert source.cursors_unsaved
    assert caplog.text.count("cannot save the catch-up cursors") == 1  # said once, not per try
