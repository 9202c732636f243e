"""The Indexer protocol without I/O: frames in, events and actions out (live, tests and replay)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from alertbot.core.model import Event
from alertbot.source.connstate import (
    ACTIVE,
    PENDING,
    REJECTED,
    WAITING,
    WANTED,
    Action,
    ConnState,
    SubState,
    index_sub,
)
from alertbot.source.gaps import GapDetector
from alertbot.source.normalize import Normalizer
from alertbot.source.numbers import BAD_ITEM
from alertbot.source.problems import ProblemLog, shape
from alertbot.source.server_errors import ServerErrors
from alertbot.source.subscriptions import ACCOUNT_CHANNELS, Subscription, key_of

MAX_SUBS = 1_000  # per connection; the server's own caps are 256 subaccounts and 32 per channel
UNWATCHED = (WAITING, REJECTED)  # a subscription in these states gets no updates


class Feed:
    """Turns raw Indexer frames into Events and tells the I/O layer what to do next.

    Pure: the time is always passed in, nothing is read from a clock or a socket, so the live
    source, the tests and `alertbot replay` share every decision.
    """

    def __init__(
        self,
        normalizer: Normalizer,
        *,
        gap_timeout: float = 30.0,
        silence_timeout: float = 60.0,
        snapshot_retry: float = 60.0,
        rejected_retry: float = 300.0,
        problems: ProblemLog | None = None,
    ) -> None:
        self.normalizer = normalizer
        self.gap_timeout = gap_timeout
        self.silence_timeout = silence_timeout
        self.snapshot_retry = snapshot_retry
        self.rejected_retry = rejected_retry
        self.problems = problems or ProblemLog()
        self.conns: dict[int, ConnState] = {}
        self.actions: list[Action] = []
        self.dropped: set[str] = set()  # keys given up at run time: late frames are ignored
        self.on_subscription_error: Callable[[str], None] | None = None
        self._handlers: dict[Any, Callable[[ConnState, dict[str, Any], float], list[Event]]] = {
            "connected": self._connected,
            "subscribed": self._subscribed,
            "channel_data": self._data,
            "channel_batch_data": self._batch,
            "unsubscribed": self._unsubscribed,
            "error": ServerErrors(self),
        }

    # --- set-up by the I/O layer -------------------------------------------------------------
    def conn(self, index: int, now: float = 0.0) -> ConnState:
        """The state of connection `index`, created on first use (down since `now`)."""
        state = self.conns.get(index)
        if state is None:
            state = ConnState(index, GapDetector(self.gap_timeout), down_since=now)
            self.conns[index] = state
        return state

    def assign(
        self, index: int, sub: Subscription, now: float = 0.0, lapsed_since: float | None = None
    ) -> None:
        """Make `sub` part of connection `index` (subscribed at its next `connected`).

        `lapsed_since` carries a subscription that went unwatched elsewhere (a move): its first
        snapshot is followed by a REST reconciliation of what happened in between.
        """
        state = self.conn(index, now)
        self.dropped.discard(sub.key)
        index_sub(state, SubState(sub, lapsed_since=lapsed_since))
        if state.up:
            self.actions.append(Action("subscribe", index, sub))

    def unassign(self, index: int, key: str) -> SubState | None:
        """Forget `key` on connection `index` (it moves to another connection)."""
        state = self.conn(index)
        found = state.subs.pop(key, None)
        state.pairs = {pair: s for pair, s in state.pairs.items() if s is not found}
        return found

    def drop(self, key: str) -> tuple[int, SubState] | None:
        """Stop following `key` (another replica owns it now); where it was, if anywhere.

        Frames for it still on the wire (before the server's `unsubscribed`) are ignored.
        """
        self.dropped.add(key)
        for index, state in self.conns.items():
            if key in state.subs:
                found = self.unassign(index, key)
                return (index, found) if found is not None else None
        return None

    def sent(self, index: int, sub: Subscription) -> None:
        """The I/O layer sent the subscribe for `sub`."""
        state = self.conn(index).subs.get(sub.key)
        if state is not None:
            state.status = PENDING

    def attempt_failed(self, index: int) -> None:
        """A connection attempt failed before `connected` arrived."""
        self.conn(index).attempts += 1

    # --- frames -------------------------------------------------------------------------------
    def receive(self, index: int, raw: bytes | str, now: float) -> list[Event]:
        """Handle one text frame; bad frames are logged once, counted and skipped."""
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.conn(index, now).last_message_at = now
            self.problems("frame that is not JSON", raw)
            return []
        return self.handle(index, msg, now, raw)

    def handle(self, index: int, msg: Any, now: float, raw: Any = None) -> list[Event]:
        """Handle one decoded message (replay feeds recordings in here directly).

        Never raises for a frame's content: whatever a frame holds is counted and skipped.
        """
        state = self.conns.get(index) or self.conn(index, now)
        state.last_message_at = now
        if msg.__class__ is not dict:
            self.problems("frame that is not a JSON object", raw or msg)
            return []
        try:
            if msg.get("type") == "channel_data":  # the hot path: one lookup, gap check inlined
                sub = state.pairs.get((msg.get("channel"), msg.get("id")))
                if sub is not None and sub.status == ACTIVE:
                    mid = msg.get("message_id")
                    gaps = state.gaps
                    if mid == gaps.highest + 1:
                        gaps.highest = mid
                        sub.messages += 1
                        contents = msg.get("contents")
                        try:
                            events: list[Event] = (sub.update or self._updater(sub))(
                                sub.sub.id, contents, now, index, msg.get("subaccountNumber")
                            )
                            return events
                        except BAD_ITEM as exc:
                            self.normalizer.update_failed(sub.sub.channel, exc, contents)
                        except Exception as exc:  # nobody foresaw it: it must not stop the others
                            self._unforeseen(exc, msg)
                        return []
            return self._other(state, msg, now, raw)
        except Exception as exc:  # a shape nobody foresaw (an unhashable id, a list for a type)
            self._unforeseen(exc, msg)
            return []

    def _other(self, state: ConnState, msg: dict[str, Any], now: float, raw: Any) -> list[Event]:
        """Every message but in-order updates: dispatch by type, with the gap check."""
        mtype = msg.get("type")
        handler = self._handlers.get(mtype) if type(mtype) is str else None
        if handler is None:
            what = repr(mtype)[:40] if type(mtype) is str else shape(mtype)
            self.problems(f"message of unknown type {what}", shape(msg))
            return []
        mid = msg.get("message_id")
        events: list[Event] = []
        if type(mid) is int and handler is not self._connected and state.gaps.see(mid, now):
            missing = sorted(state.gaps.missing)
            events = self._gap(state, now, missing, "too many missing messages")
        try:
            events += handler(state, msg, now)
        except Exception as exc:  # a shape nobody foresaw must not stop the other subscriptions
            self._unforeseen(exc, msg)
        return events

    def _updater(self, sub: SubState) -> Any:
        channel = sub.sub.channel
        sub.update = self.normalizer.updater(channel) or (
            lambda sub_id, contents, now, conn, child: self.normalizer.update(
                channel, sub_id, contents, now, conn, child
            )
        )
        return sub.update

    def _unforeseen(self, exc: Exception, msg: Any) -> None:
        """Logged with the message's shape, not its content (it may hold account data)."""
        self.problems(f"message that could not be handled ({type(exc).__name__})", shape(msg))

    def sizes(self) -> dict[str, int]:
        """Entries of the feed's maps keyed by server data, for /metrics (each is bounded)."""
        return {"subscriptions": sum(len(s.subs) for s in self.conns.values())}

    @property
    def messages(self) -> dict[str, int]:
        """Messages received per channel (every connection), for metrics."""
        out: dict[str, int] = {}
        for state in self.conns.values():
            for sub in state.subs.values():
                out[sub.sub.channel] = out.get(sub.sub.channel, 0) + sub.messages
        return out

    def closed(self, index: int, now: float, code: int | None, reason: str) -> list[Event]:
        """The socket closed (or never opened); emits connection.lost once per loss."""
        state = self.conn(index, now)
        if not state.up:
            return []
        state.up = False
        state.lost_at = state.down_since = now
        state.attempts = 0
        state.last_code = code
        for sub in state.subs.values():
            sub.lapsed_since = None  # the reconnect's reconciliation covers the whole connection
            if sub.status in (PENDING, ACTIVE):
                sub.status = WANTED
        data = {"conn": index, "code": code, "reason": reason, "uptime": now - state.connected_at}
        return [Event("connection.lost", now, data, index)]

    def check(self, now: float) -> list[Event]:
        """Timers: overdue gaps, silent connections, subscriptions due for a retry."""
        events: list[Event] = []
        for state in self.conns.values():
            if not state.up:
                continue
            late = state.gaps.overdue(now)
            if late:
                events += self._gap(state, now, late, f"message {late[0]} never arrived")
            silence = now - state.last_message_at
            if silence >= self.silence_timeout and not state.stale:
                state.stale = True
                events.append(Event("feed.stale", now, {"conn": state.index, "silence": silence}))
                self.actions.append(Action("reconnect", state.index, reason="stale feed"))
            for sub in state.subs.values():
                if sub.status in UNWATCHED and sub.lapsed_since is None:
                    sub.lapsed_since = now
                if sub.status == WAITING and sub.retry_at <= now:
                    sub.status = WANTED
                    self.actions.append(Action("subscribe", state.index, sub.sub))
        return events

    def lapsed_for(self, now: float) -> dict[tuple[int, str], float]:
        """Subscriptions unwatched on a live socket (refused or waiting to retry), and for how long.

        The REST fallback covers them as it covers a socket that is down.
        """
        return {
            (state.index, key): now - sub.lapsed_since
            for state in self.conns.values()
            if state.up
            for key, sub in state.subs.items()
            if sub.lapsed_since is not None and sub.status != ACTIVE
        }

    def down_for(self, now: float) -> dict[int, float]:
        """How long each connection that is down has been down."""
        return {i: now - s.down_since for i, s in self.conns.items() if not s.up}

    # --- handlers -----------------------------------------------------------------------------
    def _connected(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        events: list[Event] = []
        if state.up:  # a new `connected` with no close seen: a reconnect (as in recordings)
            events += self.closed(state.index, now, None, "reconnected")
        state.gaps.reset()
        state.gaps.see(msg.get("message_id", 0) if type(msg.get("message_id")) is int else 0, now)
        state.up, state.stale, state.connected_at = True, False, now
        state.connection_id = str(msg.get("connection_id", ""))
        attempts = state.attempts + 1
        data: dict[str, Any] = {"conn": state.index, "attempt": attempts}
        data["connection_id"] = state.connection_id
        events.append(Event("connection.connected", now, data, state.index))
        if state.lost_at is not None:
            data = {"conn": state.index, "attempts": attempts, "downtime": now - state.lost_at}
            data["code"] = state.last_code
            events.append(Event("connection.reconnect", now, data, state.index))
            self.actions.append(Action("reconcile", state.index, reason="reconnected"))
        state.lost_at, state.attempts = None, 0
        for sub in state.subs.values():
            if sub.status != REJECTED:
                sub.status = WANTED
                self.actions.append(Action("subscribe", state.index, sub.sub))
        return events

    def _sub_state(self, state: ConnState, msg: dict[str, Any]) -> SubState | None:
        channel = msg.get("channel")
        if type(channel) is not str:
            raise ValueError("no channel")
        key = key_of(channel, msg.get("id"))
        found = state.subs.get(key)
        if found is None and key in self.dropped:
            return None
        if found is None:  # replay, or a subscription the server kept: follow it all the same
            if len(state.subs) >= MAX_SUBS:  # ...unless a server invents them by the thousand
                raise ValueError("too many subscriptions on one connection")
            sub_id = None if key == channel else msg.get("id")
            found = index_sub(state, SubState(Subscription(channel, sub_id), WANTED))
        return found

    def _subscribed(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        sub = self._sub_state(state, msg)
        if sub is None:
            return []
        sub.status, sub.failures = ACTIVE, 0
        sub.messages += 1
        if sub.lapsed_since is not None:  # the snapshot holds no fills: ask REST what was missed
            sub.lapsed_since = None
            if sub.sub.channel in ACCOUNT_CHANNELS:
                self.actions.append(Action("reconcile", state.index, sub.sub, "resubscribed"))
        return self.normalizer.snapshot(
            sub.sub.channel, sub.sub.id, msg.get("contents"), now, state.index
        )

    def _data(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        sub = self._sub_state(state, msg)
        if sub is None:
            return []
        sub.messages += 1
        if sub.status != ACTIVE:
            self.problems("update that arrived before its snapshot")
            return []
        child = msg.get("subaccountNumber")
        return self.normalizer.update(
            sub.sub.channel, sub.sub.id, msg.get("contents"), now, state.index, child
        )

    def _batch(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        sub = self._sub_state(state, msg)
        if sub is None:
            return []
        sub.messages += 1
        contents = msg.get("contents")
        if sub.status != ACTIVE or type(contents) is not list:
            self.problems("batch before its snapshot or without a list", msg)
            return []
        child, index, sub_id = msg.get("subaccountNumber"), state.index, sub.sub.id
        update = sub.update or self._updater(sub)
        events: list[Event] = []
        for item in contents:  # one bad item is reported and skipped; the rest still count
            try:
                events += update(sub_id, item, now, index, child)
            except BAD_ITEM as exc:
                self.normalizer.update_failed(sub.sub.channel, exc, item)
        return events

    def _unsubscribed(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        sub = self._sub_state(state, msg)
        if sub is not None:
            sub.status = REJECTED
        return []

    def _gap(self, state: ConnState, now: float, missing: list[int], why: str) -> list[Event]:
        state.gaps.missing.clear()
        self.actions.append(Action("resync", state.index, reason=why))
        data: dict[str, Any] = {"conn": state.index, "missing": len(missing)}
        data.update(first_missing=missing[0], action="resync", reason=why)
        return [Event("connection.gap", now, data, state.index)]
