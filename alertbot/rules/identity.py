"""Alert identities on the hot path: an event's key, and the table of a rule's alerts by key."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from alertbot.core.model import Event
from alertbot.rules.lifecycle import Alert, Key

KeyFn = Callable[[Event], Key]
# Value classes kept as they are in a key (anything else becomes its repr); a subclass takes
# the general path, which gives the same key.
_PLAIN = frozenset({str, int, float, bool, type(None)})


def key_of(fields: tuple[str, ...], event: Event) -> Key:
    """Hashable identity values of an event (conn falls back to Event.conn)."""
    data = event.data
    out = []
    for name in fields:
        value = data.get(name, event.conn if name == "conn" else None)
        out.append(value if isinstance(value, str | int | float | None) else repr(value))
    return tuple(out)


def key_fn(fields: tuple[str, ...]) -> KeyFn:
    """`key_of` for one tuple of fields, without its loop for the usual one or two labels."""
    if "conn" in fields or not 1 <= len(fields) <= 2:
        return partial(key_of, fields)
    if len(fields) == 1:
        (name,) = fields

        def one(event: Event) -> Key:
            value = event.data.get(name)
            return (value,) if value.__class__ in _PLAIN else key_of(fields, event)

        return one
    first, second = fields

    def two(event: Event) -> Key:
        data = event.data
        a, b = data.get(first), data.get(second)
        if a.__class__ in _PLAIN and b.__class__ in _PLAIN:
            return (a, b)
        return key_of(fields, event)

    return two


def first_label(fields: tuple[str, ...]) -> str | None:
    """The field `AlertTable.may_hold` checks for events of a kind (None: always build the key)."""
    return fields[0] if fields and fields[0] != "conn" else None


class AlertTable(dict[Key, Alert]):
    """A rule's alerts by identity, counting the alerts held per first label value.

    A level rule whose condition is false must still find the alert of the event's identity
    (to resolve it); `may_hold` answers "no alert could be it" from one lookup of the first
    label's value, before the whole key is built. Every write goes through the methods below.
    """

    __slots__ = ("firsts",)

    def __init__(self) -> None:
        super().__init__()
        self.firsts: dict[Any, int] = {}  # first key value -> alerts held with it

    def may_hold(self, field: str | None, event: Event) -> bool:
        """False only when no alert of the table can have the identity of `event`."""
        if field is None:
            return bool(self)
        value = event.data.get(field)
        return value.__class__ not in _PLAIN or value in self.firsts

    def __setitem__(self, key: Key, alert: Alert) -> None:
        if key and key not in self:
            first = key[0]
            self.firsts[first] = self.firsts.get(first, 0) + 1
        super().__setitem__(key, alert)

    def __delitem__(self, key: Key) -> None:
        super().__delitem__(key)
        if key:
            first = key[0]
            left = self.firsts[first] - 1
            if left:
                self.firsts[first] = left
            else:
                del self.firsts[first]

    def pop(self, key: Key, *default: Any) -> Any:
        """dict.pop, keeping the counts."""
        if key not in self:
            return super().pop(key, *default)
        alert = self[key]
        del self[key]
        return alert

    def clear(self) -> None:
        """dict.clear, keeping the counts."""
        super().clear()
        self.firsts.clear()

    def _unsupported(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("AlertTable: assign or delete one key at a time")

    setdefault = update = popitem = __ior__ = _unsupported  # would bypass the counts
