"""The source's catch-up cursors in the state store: one JSON value per subaccount."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
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
        return loaded

    def forget(self, address: str, number: int, *, parent: bool) -> None:
        """This replica no longer saves these cursors (the next owner does)."""
        for name in list(self._saved):
            acct_address, _, text = name[len(catchup.PREFIX) :].rpartition("/")
            if acct_address == address and text.isdigit():
                n = int(text)
                if n == number or (parent and n % 128 == number):
                    del self._saved[name]

    def save(self, now: float) -> int:
        """Write the cursors that changed; how many were written."""
        current = catchup.export(self.normalizer.subs)
        changed: list[tuple[str, Any, bytes]] = []
        keep = self.keep
        for name, value in current.items():
            if keep is not None:
                address, _, number = name[len(catchup.PREFIX) :].rpartition("/")
                if not keep(address, int(number)):
                    continue
            raw = orjson.dumps(value)
            if self._saved.get(name) != raw:
                changed.append((name, value, raw))
        if not changed:
            return 0
        new_names = any(name not in self._saved for name, _, _ in changed)
        try:
            with self.state.transaction():
                for name, value, _ in changed:
                    self.state.cursors.put(name, value, now)
                if new_names:
                    names = {*self._saved, *(n for n, _, _ in changed)}
                    stored = self.state.cursors.get(INDEX) if keep is not None else None
                    if isinstance(stored, list):
                        names |= {n for n in stored if isinstance(n, str)}
                    self.state.cursors.put(INDEX, sorted(names), now)
        except StateError as exc:  # the next save tries again; nothing is lost but the save
            log.warning("cannot save the catch-up cursors: %s", exc)
            return 0
        for name, _, raw in changed:
            self._saved[name] = raw
        return len(changed)
