"""Silences: time-bounded mutes by rule and labels, kept in state_dir/silences.json."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from alertbot.core.errors import AlertbotError

FILE_NAME = "silences.json"
KEEP_EXPIRED = 7 * 86_400.0  # expired silences stay listable for a week


class SilenceError(AlertbotError):
    """A silence cannot be created, found or stored."""


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes notifications of alerts whose rule and labels match, from starts_at to ends_at."""

    id: str
    rule: str  # a rule name or a glob
    labels: dict[str, str] = field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float = 0.0
    comment: str = ""
    created_by: str = ""

    def active(self, now: float) -> bool:
        """In force at `now`."""
        return self.starts_at <= now < self.ends_at

    def matches(self, rule: str, labels: dict[str, str]) -> bool:
        """The rule matches the name or glob and every silence label is equal."""
        if not fnmatchcase(rule, self.rule):
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())


class SilenceStore:
    """The silences in memory; load/save do the file I/O, the engine only calls `match`."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.silences: list[Silence] = []
        self._mtime: float | None = None

    @classmethod
    def open(cls, state_dir: str | os.PathLike[str]) -> SilenceStore:
        """The store of a state directory (empty when the file does not exist yet)."""
        store = cls(Path(state_dir) / FILE_NAME)
        store.reload()
        return store

    def reload(self) -> None:
        """Read the file again (another process, e.g. `alertbot silence add`, may have written)."""
        if self.path is None or not self.path.exists():
            self.silences = []
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.silences = [Silence(**item) for item in raw.get("silences", [])]
            self._mtime = self.path.stat().st_mtime
        except (OSError, ValueError, TypeError) as exc:
            raise SilenceError(f"cannot read silences from {self.path}: {exc}") from None

    def reload_if_changed(self) -> bool:
        """Reload when the file changed on disk; for the live loop's periodic job."""
        if self.path is None or not self.path.exists():
            return False
        if self.path.stat().st_mtime == self._mtime:
            return False
        self.reload()
        return True

    def save(self) -> None:
        """Write atomically: a temporary file in the same directory, then rename over."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        blob = json.dumps({"version": 1, "silences": [asdict(s) for s in self.silences]}, indent=2)
        fd, tmp = tempfile.mkstemp(prefix=".silences-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(blob + "\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise SilenceError(f"cannot write {self.path}: {exc.strerror}") from None
        self._mtime = self.path.stat().st_mtime

    def add(
        self, rule: str, labels: dict[str, str], duration: float, now: float, **extra: Any
    ) -> Silence:
        """Create a silence lasting `duration` seconds from `now`."""
        if duration <= 0:
            raise SilenceError("a silence needs a positive duration, e.g. --for 2h")
        silence_id = str(extra.pop("id", "") or uuid.uuid4().hex[:8])
        silence = Silence(silence_id, rule, dict(labels), now, now + duration, **extra)
        self.purge(now)
        self.silences.append(silence)
        return silence

    def expire(self, silence_id: str, now: float) -> Silence:
        """End a silence now; `silence_id` may be a unique prefix."""
        found = [s for s in self.silences if s.id.startswith(silence_id)]
        if len(found) != 1:
            what = "no silence" if not found else "more than one silence"
            raise SilenceError(f"{what} with id {silence_id!r}; see `alertbot silence list`")
        old = found[0]
        if not old.active(now):
            raise SilenceError(f"silence {old.id} is not active")
        new = Silence(**{**asdict(old), "ends_at": now})
        self.silences[self.silences.index(old)] = new
        return new

    def listing(self, now: float, *, expired: bool = False) -> list[Silence]:
        """Active (and pending) silences, plus recently expired ones when asked."""
        return [s for s in self.silences if expired or s.ends_at > now]

    def match(self, rule: str, labels: dict[str, str], now: float) -> Silence | None:
        """The first silence in force at `now` that matches, or None."""
        for silence in self.silences:
            if silence.active(now) and silence.matches(rule, labels):
                return silence
        return None

    def purge(self, now: float) -> None:
        """Forget silences that expired more than KEEP_EXPIRED ago."""
        self.silences = [s for s in self.silences if s.ends_at > now - KEEP_EXPIRED]
