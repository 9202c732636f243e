"""Batching of one rule's alerts into one message: Alertmanager's timers, tuned for traders.

A quiet group (nothing sent for `group_interval`) sends its first alert after `group_wait`
(default 0: at once). Alerts arriving while a message went out less than `group_interval` ago
wait until `group_interval` after it, and go out together. So a burst of 40 fills gives at most
2 messages with the defaults (the first fill, then the other 39), and 1 when `group_wait` > 0
covers the burst.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alertbot.rules.lifecycle import Alert

INF = float("inf")


@dataclass(slots=True)
class Member:
    """One alert waiting in a group, with the status it is to be told in."""

    alert: Alert
    status: str  # firing | resolved
    repeat: bool = False  # a reminder of an alert already told


@dataclass(slots=True)
class Group:
    """The members of one (rule, status) waiting for their flush time."""

    members: list[Member] = field(default_factory=list)
    due: float = INF
    last_flush: float = -INF


class Grouper:
    """Holds members per group key and says which groups are due."""

    __slots__ = ("groups", "next_due")

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], Group] = {}
        self.next_due = INF

    def add(
        self, key: tuple[str, str], member: Member, now: float, wait: float, interval: float
    ) -> None:
        """Queue: a quiet group is due after `wait`, a busy one `interval` after its last."""
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group()
        if not group.members:
            group.due = max(now + wait, group.last_flush + interval)
        group.members.append(member)
        self.next_due = min(self.next_due, group.due)

    def pop_due(self, now: float) -> list[tuple[tuple[str, str], list[Member]]]:
        """Take the members of every group due at `now`, oldest group first."""
        if self.next_due > now:
            return []
        ready = sorted(
            ((g.due, key) for key, g in self.groups.items() if g.members and g.due <= now),
        )
        out = []
        for _, key in ready:
            group = self.groups[key]
            out.append((key, group.members))
            group.members, group.due = [], INF
        self.next_due = min((g.due for g in self.groups.values()), default=INF)
        return out

    def flushed(self, key: tuple[str, str], now: float) -> None:
        """A message went out for this group: the next one waits `group_interval`."""
        self.groups[key].last_flush = now

    def forget_idle(self, now: float, horizon: float) -> None:
        """Drop empty groups idle for longer than `horizon` (bounded memory)."""
        idle = [k for k, g in self.groups.items() if not g.members and g.last_flush < now - horizon]
        for key in idle:
            del self.groups[key]
