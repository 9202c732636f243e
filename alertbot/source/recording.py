"""The `record` format: one JSON line per server message, and the reader `replay` uses.

Line shapes:
  {"t": <unix seconds>, "conn": <connection index>, "msg": <message as received>}
  {"t": ..., "conn": ..., "raw": "<text>"}                 a frame that was not JSON
  {"t": ..., "conn": ..., "closed": {"code": 1006, "reason": "..."}}   optional lifecycle line
  {"t": ..., "conn": -1, "rest": {"origin": "poll", "responses": [[call, target, body], ...]}}
      one REST round (reconciliation, polling fallback, catch-up): the bodies the source used,
      applied at `t` exactly as live (`restsync.apply_round`)
Readers never require lifecycle lines: a second `connected` on a conn means it reconnected.
Recordings from before REST lines existed read as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from alertbot.core.model import Event
from alertbot.source.feed import Feed
from alertbot.source.normalize import Normalizer
from alertbot.source.problems import ProblemLog
from alertbot.source.restsync import Response, apply_round


class RecordingWriter:
    """Appends frames as they are received; flushed per line so a crash loses at most one."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.lines = 0

    def frame(self, conn: int, t: float, raw: bytes) -> None:
        """Record one received frame."""
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._write({"t": t, "conn": conn, "raw": raw.decode("utf-8", "replace")})
            return
        self._write({"t": t, "conn": conn, "msg": msg})

    def closed(self, conn: int, t: float, code: int | None, reason: str) -> None:
        """Record that a connection closed (lets replay time the loss exactly)."""
        self._write({"t": t, "conn": conn, "closed": {"code": code, "reason": reason}})

    def rest(self, t: float, origin: str, responses: list[Response]) -> None:
        """Record the bodies of one REST round, as the source applies them at `t`."""
        body = {"origin": origin, "responses": [list(r) for r in responses]}
        self._write({"t": t, "conn": -1, "rest": body})

    def _write(self, line: dict[str, Any]) -> None:
        self._stream.write(orjson.dumps(line) + b"\n")
        self._stream.flush()
        self.lines += 1


@dataclass
class RecordingError(Exception):
    """A line of a recording cannot be read."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def read_lines(path: str | Path) -> Iterator[dict[str, Any]]:
    """Decoded lines of a recording; malformed lines raise RecordingError naming the line."""
    with open(path, "rb") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise RecordingError(str(path), number, f"not JSON: {exc}") from None
            if not isinstance(item, dict) or not isinstance(item.get("t"), int | float):
                raise RecordingError(str(path), number, 'expected {"t": <seconds>, "conn": N, ...}')
            yield item


def replay_events(
    path: str | Path,
    *,
    feed: Feed | None = None,
    check_every: float = 1.0,
    lookback: float = 86400.0,
) -> Iterator[Event]:
    """Events a recording produces through the real feed and normalizer, on its own clock.

    REST rounds go through the same `apply_round` as live, with the catch-up `lookback`.
    """
    feed = feed or Feed(Normalizer(on_problem=ProblemLog()))
    next_check = None
    for item in read_lines(path):
        t = float(item["t"])
        conn = int(item.get("conn", 0))
        if next_check is None:
            next_check = t + check_every
        while next_check <= t:
            yield from feed.check(next_check)
            next_check += check_every
        feed.actions.clear()  # nothing to act on offline
        if "msg" in item:
            yield from feed.handle(conn, item["msg"], t)
        elif "raw" in item:
            yield from feed.receive(conn, str(item["raw"]).encode(), t)
        elif "rest" in item:
            yield from _rest_round(feed, item["rest"], t, lookback)
        elif "closed" in item:
            closed = item["closed"] if isinstance(item["closed"], dict) else {}
            yield from feed.closed(conn, t, closed.get("code"), str(closed.get("reason", "")))


def _rest_round(feed: Feed, round_: Any, t: float, lookback: float) -> list[Event]:
    """One recorded REST round; a malformed one is counted as a problem and skipped."""
    try:
        origin = str(round_["origin"])
        responses = [(str(c), str(target), body) for c, target, body in round_["responses"]]
    except (KeyError, TypeError, ValueError):
        feed.problems("REST round that could not be read", round_)
        return []
    return apply_round(feed.normalizer, responses, t, lookback, origin)
