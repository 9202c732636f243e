"""The source's catch-up cursors in the state store: one JSON value per subaccount."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from typing import Any

import orjson

from alertbot.source import catchup
from alertbot.source.config import SourceConfig
from alertbot.source.normalize import Normalizer
from alertbot.state.api import StateStore
from alertbot.state.db import StateError

log = logging.getLogger("alertbot.source")
INDEX = "source/index"  # the names of every subaccount cursor (children of parents included)
Keep = Callable[[str, int], bool]  # (address, number) -> save this subaccount's cursor now


class SourceCursors:
    """Saves what changed since the last save, in one transaction; restores what is watched."""

    def __init__(
        self,
        state: StateStore,
        normalizer: Normalizer,
        config: SourceConfig,
        *,
        keep: Keep | None = None,
    ) -> None:
        self.state = state
        self.normalizer = normalizer
        self.config = config
        self._saved: dict[str, bytes] = {}
        # a cluster replica saves only what it owns at the moment of saving, and merges the
        # index with the other replicas' names (the store is shared)
        self.keep = keep

    def watched(self, name: str) -> bool:
        """A cursor of a configured subaccount, or of a child of a configured parent."""
        address, _, number_text = name[len(catchup.PREFIX) :].rpartition("/")
        if not number_text.isdigit():
            return False
        number = int(number_text)
        if any(s.address == address and s.number == number for s in self.config.subaccounts):
            return True
        return any(
            p.address == address and number % 128 == p.number
            for p in self.config.parent_subaccounts
        )

    def restore(self) -> int:
        """Load every watched subaccount's cursor into the normalizer; how many were loaded."""
        names = self.state.cursors.get(INDEX)
        loaded = 0
        for name in names if isinstance(names, list) else []:
            if not isinstance(name, str) or not self.watched(name):
                continue
            value = self.state.cursors.get(name)
            if catchup.restore(self.normalizer.subs, name, value):
                self._saved[name] = orjson.dumps(value)
                loaded += 1
        return loaded

    def restore_some(self, plain: Iterable[str], parents: Iterable[str]) -> int:
        """Load the cursors of these subaccounts and parents (keys "address/number"), fresh.

        A replica taking shards over reads what their previous owner saved last.
        """
        wanted = {catchup.PREFIX + key for key in plain}
        families = {tuple(key.rsplit("/", 1)) for key in parents}
        names = self.state.cursors.get(INDEX)
        for name in names if isinstance(names, list) else []:
            if isinstance(name, str) and name.startswith(catchup.PREFIX):
                address, _, number = name[len(catchup.PREFIX) :].rpartition("/")
                if number.isdigit() and (address, str(int(number) % 128)) in families:
                    wanted.add(name)
        wanted |= {catchup.PREFIX + "/".join(f) for f in families}
        loaded = 0
        for name in sorted(wanted):
            value = self.state.cursors.get(name)
            if catchup.restore(self.normalizer.subs, name, value):
                self._saved[name] = orjson.dumps(value)
                loaded += 1
            elif catchup.restore_marker(self.normalizer.subs, name, value):
                loaded += 1  # not saved: the first sight writes its cursor over it
        return loaded

    def mark(self, plain: Iterable[str], parents: Iterable[str], height: int, now: float) -> int:
        """Save a marker for each of these accounts that has nothing saved; how many were saved.

        A take-over writes it before its REST round: if this owner dies before it saves the
        account's first cursor, the next owner still catches fills and transfers up from
        `height` instead of taking a baseline of its own. StateError propagates (retried).
        """
        subs = self.normalizer.subs.accounts.by_key
        wanted: list[tuple[str, int | None]] = [(key, None) for key in plain]
        wanted += [(key, int(key.rpartition("/")[2])) for key in parents]
        written = 0
        with self.state.transaction():
            for key, parent in wanted:
                name = catchup.PREFIX + key
                address, _, number = key.rpartition("/")
                acct = subs.get((address, int(number)))
                if acct is not None and (acct.synced or acct.baseline_height is not None):
                    continue  # restored: a cursor or a marker is there already
                if self.state.cursors.get(name) is None:
                    self.state.cursors.put(name, catchup.marker(height, parent), now)
                    written += 1
        return written

    def forget(self, address: str, number: int, *, parent: bool) -> None:
        """This replica no longer saves these cursors (the next owner does)."""
        for name in list(self._saved):
            acct_address, _, text = name[len(catchup.PREFIX) :].rpartition("/")
            if acct_address == address and text.isdigit():
                n = int(text)
                if n == number or (parent and n % 128 == number):
                    del self._saved[name]

    def save(self, now: float, *, skip: Collection[tuple[str, int]] = ()) -> int:
        """Write the cursors that changed, but those of `skip`; how many were written."""
        current = catchup.export(self.normalizer.subs)
        changed: list[tuple[str, Any, bytes]] = []
        keep = self.keep
        for name, value in current.items():
            if keep is not None or skip:
                address, _, text = name[len(catchup.PREFIX) :].rpartition("/")
                number = int(text)
                if (address, number) in skip or (keep is not None and not keep(address, number)):
                    continue
            raw = orjson.dumps(value)
            if self._saved.get(name) != raw:
                changed.append((name, value, raw))
        try:
            return self._write(changed, now, first=False)
        except StateError as exc:  # the next save tries again; nothing is lost but the save
            log.warning("cannot save the catch-up cursors: %s", exc)
            return 0

    def save_first(
        self,
        plain: Iterable[str],
        parents: Iterable[str],
        now: float,
        *,
        skip: Collection[tuple[str, int]] = (),
    ) -> int:
        """Write the first cursor of these accounts (none restored), now; how many were written.

        A take-over's first sight of an account is its baseline. Saved before the subscription,
        it is there for the next owner even if this one never makes an ordinary save (it dies,
        or loses the lease in a database outage): the next owner catches up from it instead of
        taking a baseline of its own and missing what happened in between. A cursor another
        owner wrote meanwhile is left alone. `skip`: accounts whose events the consumer has not
        handled yet (a new child of a parent reports its history), saved the ordinary way.
        StateError propagates: the caller retries.
        """
        plain_keys = set(plain)
        families = {(a, int(n)) for a, _, n in (k.rpartition("/") for k in parents)}
        changed: list[tuple[str, Any, bytes]] = []
        for name, value in catchup.export(self.normalizer.subs).items():
            if name in self._saved:
                continue
            key = name[len(catchup.PREFIX) :]
            address, _, text = key.rpartition("/")
            number = int(text)
            parent = value.get("parent")
            ours = key in plain_keys or (isinstance(parent, int) and (address, parent) in families)
            if ours and (address, number) not in skip:
                changed.append((name, value, orjson.dumps(value)))
        return self._write(changed, now, first=True)

    def _write(self, changed: list[tuple[str, Any, bytes]], now: float, *, first: bool) -> int:
        """Put these cursors (and new names in the index) in one transaction."""
        if not changed:
            return 0
        written = []
        new_names = any(name not in self._saved for name, _, _ in changed)
        with self.state.transaction():
            for item in changed:
                if first and not _replaceable(self.state.cursors.get(item[0])):
                    continue  # another owner's cursor: never overwritten by a baseline
                self.state.cursors.put(item[0], item[1], now)
                written.append(item)
            if new_names:
                names = {*self._saved, *(n for n, _, _ in changed)}
                stored = self.state.cursors.get(INDEX) if self.keep is not None else None
                if isinstance(stored, list):
                    names |= {n for n in stored if isinstance(n, str)}
                self.state.cursors.put(INDEX, sorted(names), now)
        for name, _, raw in written:
            self._saved[name] = raw
        return len(written)


def _replaceable(stored: Any) -> bool:
    """Nothing saved, or only a marker: a first sight's cursor may take its place."""
    return stored is None or catchup.is_marker(stored)
