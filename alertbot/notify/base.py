"""The notifier contract the delivery pipeline relies on, and building notifiers from config."""

from __future__ import annotations

import abc
import asyncio
import builtins
import difflib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, SecretStr, ValidationError

from alertbot.core.durations import format_duration
from alertbot.core.errors import ConfigError, Problem
from alertbot.core.located import Located, Path, dotted
from alertbot.core.secrets import scrub
from alertbot.notify.config import NotifierConfig

if TYPE_CHECKING:
    from alertbot.config import Config
    from alertbot.core.model import Notification

log = logging.getLogger("alertbot.notify")


class RenderHook(Protocol):
    """What a notifier asks of the plugins: an `alertbot_render` (title, body), if any offers one.

    `alertbot.plugins.Plugins` provides it; notify never imports the plugin manager.
    """

    def render(self, notification: Notification, notifier_type: str) -> tuple[str, str] | None:
        """The first plugin's (title, body) for this notifier type, or None."""
        ...


class NotifierTypes(RenderHook, Protocol):
    """The plugins' notifier classes by `type:` name (what building notifiers needs)."""

    def notifier_types(self) -> dict[str, builtins.type[Notifier]]:
        """Every registered notifier class by type name."""
        ...


@dataclass(frozen=True, slots=True)
class SendResult:
    """How one send went: ok, or failed and whether (and when) retrying can help."""

    ok: bool
    retry_after: float | None = None  # seconds the service asked us to wait (429, Retry-After)
    permanent: bool = False  # retrying the same message cannot succeed (bad token, 4xx)
    detail: str = ""  # short, masked: safe to log and print

    @classmethod
    def success(cls, detail: str = "") -> SendResult:
        """Delivered."""
        return cls(True, detail=detail)

    @classmethod
    def retry(cls, detail: str, retry_after: float | None = None) -> SendResult:
        """Failed for now (timeout, 5xx, 429): the outbox should try again."""
        return cls(False, retry_after=retry_after, detail=detail)

    @classmethod
    def fail(cls, detail: str) -> SendResult:
        """Failed for good: retrying the same message cannot help."""
        return cls(False, permanent=True, detail=detail)


class Notifier(abc.ABC):
    """One configured destination. Subclasses set `type` and `config_model`; no I/O in __init__."""

    type: ClassVar[str]
    config_model: ClassVar[builtins.type[NotifierConfig]] = NotifierConfig
    default_max_batch: ClassVar[int] = 1  # notifications one message may carry
    default_rate: ClassVar[tuple[int, float] | None] = None  # (messages, per seconds)

    def __init__(
        self, name: str, config: NotifierConfig, *, plugins: RenderHook | None = None
    ) -> None:
        if not isinstance(config, self.config_model):
            raise TypeError(f"{type(self).__name__} needs a {self.config_model.__name__}")
        self.name = name
        self.config = config
        self.plugins = plugins
        self.timeout: float = config.timeout
        self.max_batch: int = config.max_batch or self.default_max_batch
        rate = config.rate
        self.rate: tuple[int, float] | None = (
            (rate.messages, rate.per) if rate else self.default_rate
        )

    @abc.abstractmethod
    async def send(self, batch: Sequence[Notification]) -> SendResult:
        """Send ONE message carrying the whole batch; never raise for transport errors."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The target with secrets masked: safe to print and log."""

    async def close(self) -> None:  # noqa: B027 - optional for notifiers that hold nothing
        """Release connections; the notifier is not used afterwards."""

    @property
    def deadline(self) -> float:
        """Upper bound for one `send` call (a few requests at most), used by guarded_send."""
        return self.timeout + 5.0

    def custom(self, note: Notification) -> tuple[str, str] | None:
        """A plugin's (title, body) for this notification and type, if any plugin offers one."""
        return self.plugins.render(note, self.type) if self.plugins else None

    def secrets(self) -> list[str]:
        """Every secret value in this notifier's config (for scrubbing error texts)."""
        return list(_secret_values(self.config))

    def scrub(self, text: str) -> str:
        """`text` with every secret of this notifier replaced by ***."""
        return scrub(text, self.secrets())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}: {self.describe()}>"


async def guarded_send(
    notifier: Notifier, batch: Sequence[Notification], min_deadline: float = 0.0
) -> SendResult:
    """The one send guard: a stray exception or timeout becomes a masked, retryable result."""
    limit = max(min_deadline, notifier.deadline)
    try:
        async with asyncio.timeout(limit):
            return await notifier.send(batch)
    except TimeoutError:
        return SendResult.retry(f"no answer within {format_duration(limit)}")
    except Exception as exc:
        detail = notifier.scrub(f"{type(exc).__name__}: {exc}")
        log.error("notifier %s (%s) raised: %s", notifier.name, notifier.type, detail)
        return SendResult.retry(detail)


def _secret_values(model: BaseModel) -> Iterable[str]:
    for name in type(model).model_fields:
        yield from _secrets_in(getattr(model, name))


def _secrets_in(value: Any) -> Iterable[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        yield from _secret_values(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets_in(item)


def build_notifiers(
    config: Config, plugins: NotifierTypes, *, located: Located | None = None
) -> dict[str, Notifier]:
    """One notifier per `notifiers:` entry, or ConfigError listing every problem (located)."""
    types = plugins.notifier_types()
    built: dict[str, Notifier] = {}
    problems: list[tuple[Path, str, bool]] = []
    for name, spec in config.notifiers.items():
        result = _build_one(name, spec, types, plugins)
        if isinstance(result, Notifier):
            built[name] = result
        else:
            problems.extend(result)
    if problems:
        # Without the file we cannot tell ${ENV} secrets apart: mask every text value.
        secrets = located.secrets if located else set(_strings(config.notifiers))
        found = [_problem(p, m, k, located, secrets) for p, m, k in problems]
        raise ConfigError(sorted(found, key=lambda p: (p.line, p.column)))
    return built


def _strings(value: Any) -> Iterable[str]:
    """Every text value below `value`, except notifier type names."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "type":
                yield from _strings(item)


def _problem(
    path: Path, message: str, key: bool, located: Located | None, secrets: set[str]
) -> Problem:
    message = scrub(message, secrets)
    if located is None:
        return Problem("config", 0, 0, dotted(path), message)
    return located.problem(path, message, key=key)


def _build_one(
    name: str, spec: Any, types: dict[str, type[Notifier]], plugins: NotifierTypes
) -> Notifier | list[tuple[Path, str, bool]]:
    """The notifier, or the (path, message, points-at-key) problems of its config."""
    at: Path = ("notifiers", name)
    if not isinstance(spec, dict):
        return [(at, "must be a mapping with a `type` key", False)]
    kind = spec.get("type")
    known = ", ".join(types) or "none"
    if kind is None:
        return [((*at, "type"), f"required key is missing (types: {known})", True)]
    if not isinstance(kind, str) or kind not in types:
        hint = difflib.get_close_matches(str(kind), list(types), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else f" (types: {known})"
        return [((*at, "type"), f"unknown notifier type {kind!r}{suggestion}", False)]
    cls = types[kind]
    settings = {k: v for k, v in spec.items() if k != "type"}
    try:
        cfg = cls.config_model.model_validate(settings)
        return cls(name, cfg, plugins=plugins)
    except ValidationError as exc:
        return [_from_pydantic(at, err, cls.config_model) for err in exc.errors()]
    except ValueError as exc:  # a notifier's own check, e.g. an Apprise URL it cannot parse
        return [(at, str(exc), False)]


def _from_pydantic(at: Path, err: Any, model: type[BaseModel]) -> tuple[Path, str, bool]:
    """A located message that never repeats the input (it may be a secret)."""
    path: Path = (*at, *err["loc"])
    kind = err["type"]
    if kind == "missing":
        return (path, "required key is missing", True)
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        hint = difflib.get_close_matches(key, list(model.model_fields), n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        return (path, f"unknown key {key!r}{suggestion}", True)
    message = str(err["msg"]).removeprefix("Value error, ")
    return (path, message, False)


def notifier_problems(
    config: Config, located: Located, *, env: dict[str, str] | None = None
) -> list[Problem]:
    """For `alertbot check`: plugin loading and every notifier's config, located in the file."""
    from pathlib import Path as FsPath

    from alertbot.core.errors import PluginError
    from alertbot.plugins import make_plugin_manager, plugins_path

    folder = plugins_path(located.file, config.plugins_dir)
    if "plugins_dir" in config.model_fields_set and not FsPath(folder).is_dir():
        return [located.problem(("plugins_dir",), f"{folder} is not a folder")]
    try:
        build_notifiers(config, make_plugin_manager(folder, env=env), located=located)
    except PluginError as exc:
        return [located.problem(("plugins_dir",), scrub(str(exc), located.secrets))]
    except ConfigError as exc:
        return exc.problems
    return []
