"""The Indexer protocol without I/O: frames in, events and actions out (live, tests and replay)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from alertbot.events import Event
from alertbot.source.gaps import GapDetector
from alertbot.source.normalize import Normalizer
from alertbot.source.numbers import BAD_ITEM
from alertbot.source.problems import ProblemLog, truncate
from alertbot.source.subscriptions import ACCOUNT_CHANNELS, Subscription, key_of

WANTED, PENDING, ACTIVE, WAITING, REJECTED = "wanted", "pending", "active", "waiting", "rejected"
FIRST_RETRY = 2.0  # a failed snapshot fetch is retried once quickly, then after the cooldown


class Action(NamedTuple):
    """Something the I/O layer must do: subscribe, reconnect (`resync` also reconciles), move."""

    kind: str  # "subscribe" | "reconnect" | "resync" | "move" | "slow_down" | "reconcile"
    conn: int
    sub: Subscription | None = None
    reason: str = ""


@dataclass
class SubState:
    """One subscription on one connection."""

    sub: Subscription
    status: str = WANTED
    failures: int = 0
    retry_at: float = 0.0
    messages: int = 0  # snapshots and updates received, for metrics
    update: Any = None  # the normalizer's handler for this channel (hot path), set on first use


@dataclass
class ConnState:
    """What the feed knows about one connection (an index, stable across reconnects)."""

    index: int
    gaps: GapDetector
    subs: dict[str, SubState] = field(default_factory=dict)
    pairs: dict[tuple[Any, Any], SubState] = field(default_factory=dict)  # (channel, id) as sent
    up: bool = False
    connection_id: str = ""
    connected_at: float = 0.0
    last_message_at: float = 0.0
    lost_at: float | None = None  # set while down after having been up
    down_since: float = 0.0  # set while down, from start too (drives the polling fallback)
    attempts: int = 0  # failed connection attempts since the loss
    stale: bool = False
    last_code: int | None = None


ErrorHandler = Callable[[ConnState, dict[str, Any], re.Match[str], float], list[Event]]
_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Internal error, could not fetch data for subscription: (\w+)\.?$"), "fetch"),
    (re.compile(r"^Invalid subscribe message: already subscribed \((\w+)-(.*)\)$"), "already"),
    (re.compile(r"^Per-connection subscription limit reached for (\w+) \(limit=(\d+)\)"), "cap"),
    (re.compile(r"^Too many subscribe attempts for channel (\w+)-(.*?)\."), "too_fast"),
    (re.compile(r"^Too many invalid messages"), "too_fast"),
    (re.compile(r"^Invalid subscription id for channel: \((\w+)-(.*)\)$"), "invalid"),
    (re.compile(r"^Invalid channel: (.*)$"), "invalid"),
    (re.compile(r"^Invalid id: (.*)$"), "invalid"),
    (re.compile(r"^Because this address appears to be a resident of"), "blocked"),
    (re.compile(r"^Invalid (subscribe )?message"), "ours"),
]


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
        self.on_subscription_error: Callable[[str], None] | None = None
        self._handlers: dict[Any, Callable[[ConnState, dict[str, Any], float], list[Event]]] = {
            "connected": self._connected,
            "subscribed": self._subscribed,
            "channel_data": self._data,
            "channel_batch_data": self._batch,
            "unsubscribed": self._unsubscribed,
            "error": self._error,
        }
        self._error_handlers: dict[str, ErrorHandler] = {
            "fetch": self._on_fetch,
            "already": self._on_already,
            "cap": self._on_cap,
            "too_fast": self._on_too_fast,
            "invalid": self._on_invalid,
            "blocked": self._on_blocked,
            "ours": self._on_ours,
        }

    # --- set-up by the I/O layer -------------------------------------------------------------
    def conn(self, index: int, now: float = 0.0) -> ConnState:
        """The state of connection `index`, created on first use (down since `now`)."""
        state = self.conns.get(index)
        if state is None:
            state = ConnState(index, GapDetector(self.gap_timeout), down_since=now)
            self.conns[index] = state
        return state

    def assign(self, index: int, sub: Subscription, now: float = 0.0) -> None:
        """Make `sub` part of connection `index` (subscribed at its next `connected`)."""
        state = self.conn(index, now)
        _index(state, SubState(sub))
        if state.up:
            self.actions.append(Action("subscribe", index, sub))

    def unassign(self, index: int, key: str) -> SubState | None:
        """Forget `key` on connection `index` (it moves to another connection)."""
        state = self.conn(index)
        found = state.subs.pop(key, None)
        state.pairs = {pair: s for pair, s in state.pairs.items() if s is not found}
        return found

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
        """Handle one decoded message (replay feeds recordings in here directly)."""
        state = self.conns.get(index) or self.conn(index, now)
        state.last_message_at = now
        if msg.__class__ is not dict:
            self.problems("frame that is not a JSON object", raw or msg)
            return []
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
                    except Exception as exc:  # a shape nobody foresaw must not stop the others
                        self._unforeseen(exc, raw or msg)
                    return []
        return self._other(state, msg, now, raw)

    def _other(self, state: ConnState, msg: dict[str, Any], now: float, raw: Any) -> list[Event]:
        """Every message but in-order updates: dispatch by type, with the gap check."""
        mtype = msg.get("type")
        handler = self._handlers.get(mtype)
        if handler is None:
            self.problems(f"message of unknown type {mtype!r}", raw or msg)
            return []
        mid = msg.get("message_id")
        events: list[Event] = []
        if type(mid) is int and handler is not self._connected and state.gaps.see(mid, now):
            missing = sorted(state.gaps.missing)
            events = self._gap(state, now, missing, "too many missing messages")
        try:
            events += handler(state, msg, now)
        except Exception as exc:  # a shape nobody foresaw must not stop the other subscriptions
            self._unforeseen(exc, raw or msg)
        return events

    def _updater(self, sub: SubState) -> Any:
        channel = sub.sub.channel
        sub.update = self.normalizer.updater(channel) or (
            lambda sub_id, contents, now, conn, child: self.normalizer.update(
                channel, sub_id, contents, now, conn, child
            )
        )
        return sub.update

    def _unforeseen(self, exc: Exception, raw: Any) -> None:
        self.problems(f"message that could not be handled ({type(exc).__name__}: {exc})", raw)

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
                if sub.status == WAITING and sub.retry_at <= now:
                    sub.status = WANTED
                    self.actions.append(Action("subscribe", state.index, sub.sub))
        return events

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

    def _sub_state(self, state: ConnState, msg: dict[str, Any]) -> SubState:
        channel = msg.get("channel")
        if type(channel) is not str:
            raise ValueError("no channel")
        key = key_of(channel, msg.get("id"))
        found = state.subs.get(key)
        if found is None:  # replay, or a subscription the server kept: follow it all the same
            sub_id = None if key == channel else msg.get("id")
            found = _index(state, SubState(Subscription(channel, sub_id), WANTED))
        return found

    def _subscribed(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        sub = self._sub_state(state, msg)
        sub.status, sub.failures = ACTIVE, 0
        sub.messages += 1
        return self.normalizer.snapshot(
            sub.sub.channel, sub.sub.id, msg.get("contents"), now, state.index
        )

    def _data(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        sub = self._sub_state(state, msg)
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
        sub.messages += 1
        contents = msg.get("contents")
        if sub.status != ACTIVE or type(contents) is not list:
            self.problems("batch before its snapshot or without a list", msg)
            return []
        child = msg.get("subaccountNumber")
        update, channel, sub_id = self.normalizer.update, sub.sub.channel, sub.sub.id
        events: list[Event] = []
        for item in contents:
            events += update(channel, sub_id, item, now, state.index, child)
        return events

    def _unsubscribed(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        sub = self._sub_state(state, msg)
        sub.status = REJECTED
        return []

    def _gap(self, state: ConnState, now: float, missing: list[int], why: str) -> list[Event]:
        state.gaps.missing.clear()
        self.actions.append(Action("resync", state.index, reason=why))
        data: dict[str, Any] = {"conn": state.index, "missing": len(missing)}
        data.update(first_missing=missing[0], action="resync", reason=why)
        return [Event("connection.gap", now, data, state.index)]

    # --- server errors ------------------------------------------------------------------------
    def _error(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        text = str(msg.get("message", ""))
        for pattern, kind in _ERRORS:
            match = pattern.match(text)
            if match:
                return self._error_handlers[kind](state, msg, match, now)
        self.problems("server error", truncate(text))
        return self._error_event(state, msg, text, "logged", now)

    def _error_event(
        self, state: ConnState, msg: dict[str, Any], text: str, action: str, now: float
    ) -> list[Event]:
        data = {"conn": state.index, "channel": msg.get("channel"), "id": msg.get("id")}
        data.update(message=text, action=action)
        return [Event("subscription.error", now, data, state.index)]

    def _targets(self, state: ConnState, msg: dict[str, Any], channel: str) -> list[SubState]:
        """Subscriptions an error is about: by channel+id, or every pending one of the channel."""
        if "id" in msg or msg.get("channel") in ("v4_markets", "v4_block_height"):
            found = state.subs.get(key_of(channel, msg.get("id")))
            return [found] if found else []
        return [s for s in state.subs.values() if s.sub.channel == channel and s.status == PENDING]

    def _on_fetch(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        channel = str(msg.get("channel") or m.group(1))
        for sub in self._targets(state, msg, channel):
            sub.failures += 1
            delay = (
                min(FIRST_RETRY, self.snapshot_retry) if sub.failures == 1 else self.snapshot_retry
            )
            sub.status, sub.retry_at = WAITING, now + delay
        return self._error_event(state, msg, m.string, "retry", now)

    def _on_already(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        found = state.subs.get(key_of(m.group(1), m.group(2)))
        if found is not None and found.status == PENDING:
            found.status = ACTIVE
        return []

    def _on_cap(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        channel = m.group(1)
        pending = [
            s for s in state.subs.values() if s.sub.channel == channel and s.status == PENDING
        ]
        if pending:
            self.actions.append(Action("move", state.index, pending[-1].sub, reason=m.group(2)))
        return self._error_event(state, msg, m.string, "shard", now)

    def _on_too_fast(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        self.actions.append(Action("slow_down", state.index, reason=m.string))
        return self._error_event(state, msg, m.string, "slow_down", now)

    def _on_invalid(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        events: list[Event] = []
        for sub in self._rejected_targets(state, msg, m):
            retry = sub.sub.channel not in ACCOUNT_CHANNELS  # a new market may be refused a while
            sub.status = WAITING if retry else REJECTED
            sub.retry_at = now + self.rejected_retry
            what = f"{sub.sub.channel} {sub.sub.id or ''}".strip()
            note = f"the server rejected subscription {what}: {m.string}"
            if self.on_subscription_error:
                self.on_subscription_error(note)
            events += self._error_event(
                state, msg, note, "retry_later" if retry else "rejected", now
            )
        return events or self._error_event(state, msg, m.string, "rejected", now)

    def _rejected_targets(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str]
    ) -> list[SubState]:
        if m.re.groups == 2:
            found = state.subs.get(key_of(m.group(1), m.group(2)))
            return [found] if found else []
        return [s for s in state.subs.values() if s.status == PENDING and m.group(1) in s.sub.key]

    def _on_blocked(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        for sub in self._targets(state, msg, str(msg.get("channel") or "")):
            sub.status = REJECTED
        if self.on_subscription_error:
            self.on_subscription_error(
                f"the server refused an account as geo/compliance blocked: {m.string}"
            )
        return self._error_event(state, msg, m.string, "blocked", now)

    def _on_ours(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        self.problems("server refused a message we sent (a bug in alertbot)", m.string)
        return []


def _index(state: ConnState, sub: SubState) -> SubState:
    """File a subscription under its key and under every (channel, id) the server may echo."""
    spec = sub.sub
    state.subs[spec.key] = sub
    state.pairs[(spec.channel, spec.id)] = sub
    if spec.id is None:  # block height messages echo the channel name as their id
        state.pairs[(spec.channel, spec.channel)] = sub
    return sub
