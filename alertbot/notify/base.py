"""The notifier contract the delivery pipeline relies on (building them: notifier_setup.py)."""

from __future__ import annotations

import abc
import asyncio
import builtins
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, SecretStr

from alertbot.core.durations import format_duration
from alertbot.core.secrets import scrub
from alertbot.notify.config import NotifierConfig

if TYPE_CHECKING:
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
        return list(secret_values(self.config))

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


def secret_values(model: BaseModel) -> Iterable[str]:
    """Every SecretStr value in a config model, nested ones included."""
    for name in type(model).model_fields:
        yield from _secrets_in(getattr(model, name))


def _secrets_in(value: Any) -> Iterable[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        yield from secret_values(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _secrets_in(item)
