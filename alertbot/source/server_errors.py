"""Every error text the Indexer sends gets a deliberate reaction (docs/events.md lists them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from alertbot.core.model import Event
from alertbot.source.connstate import (
    ACTIVE,
    PENDING,
    REJECTED,
    WAITING,
    Action,
    ConnState,
    SubState,
)
from alertbot.source.problems import truncate
from alertbot.source.subscriptions import ACCOUNT_CHANNELS, key_of

if TYPE_CHECKING:
    from alertbot.source.feed import Feed

FIRST_RETRY = 2.0  # a failed snapshot fetch is retried once quickly, then after the cooldown
ErrorHandler = Callable[[ConnState, dict[str, Any], re.Match[str], float], list[Event]]
ERRORS: list[tuple[re.Pattern[str], str]] = [
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


class ServerErrors:
    """Turns an `error` message into state changes, actions for the I/O layer and an event."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self._error_handlers: dict[str, ErrorHandler] = {
            "fetch": self._on_fetch,
            "already": self._on_already,
            "cap": self._on_cap,
            "too_fast": self._on_too_fast,
            "invalid": self._on_invalid,
            "blocked": self._on_blocked,
            "ours": self._on_ours,
        }

    def __call__(self, state: ConnState, msg: dict[str, Any], now: float) -> list[Event]:
        """React to one `error` message (unknown texts are logged once and counted)."""
        text = str(msg.get("message", ""))
        for pattern, kind in ERRORS:
            match = pattern.match(text)
            if match:
                return self._error_handlers[kind](state, msg, match, now)
        self.feed.problems("server error", truncate(text))
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
                min(FIRST_RETRY, self.feed.snapshot_retry)
                if sub.failures == 1
                else self.feed.snapshot_retry
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
            self.feed.actions.append(
                Action("move", state.index, pending[-1].sub, reason=m.group(2))
            )
        return self._error_event(state, msg, m.string, "shard", now)

    def _on_too_fast(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        self.feed.actions.append(Action("slow_down", state.index, reason=m.string))
        return self._error_event(state, msg, m.string, "slow_down", now)

    def _on_invalid(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        events: list[Event] = []
        for sub in self._rejected_targets(state, msg, m):
            retry = sub.sub.channel not in ACCOUNT_CHANNELS  # a new market may be refused a while
            sub.status = WAITING if retry else REJECTED
            sub.retry_at = now + self.feed.rejected_retry
            what = f"{sub.sub.channel} {sub.sub.id or ''}".strip()
            note = f"the server rejected subscription {what}: {m.string}"
            if self.feed.on_subscription_error:
                self.feed.on_subscription_error(note)
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
        if self.feed.on_subscription_error:
            self.feed.on_subscription_error(
                f"the server refused an account as geo/compliance blocked: {m.string}"
            )
        return self._error_event(state, msg, m.string, "blocked", now)

    def _on_ours(
        self, state: ConnState, msg: dict[str, Any], m: re.Match[str], now: float
    ) -> list[Event]:
        self.feed.problems("server refused a message we sent (a bug in alertbot)", m.string)
        return []
