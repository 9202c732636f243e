"""`type: telegram`: Bot API sendMessage; HTML or MarkdownV2, split at 4096 characters."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from alertbot.hookspecs import hookimpl
from alertbot.notify.base import Notifier, SendResult
from alertbot.notify.builtin.http import HttpNotifier
from alertbot.notify.config import TelegramConfig
from alertbot.notify.render import TELEGRAM_HTML, TELEGRAM_MD2, batch_lines, pack

if TYPE_CHECKING:
    from alertbot.core.model import Notification

LIMIT = 4096  # characters of one Telegram message
MAX_PROGRESS = 256  # batches remembered half-sent, so a retry resumes instead of repeating


class TelegramNotifier(HttpNotifier):
    """Sends the parts of a long message in order; a retry resumes at the part that failed."""

    type = "telegram"
    config_model = TelegramConfig
    config: TelegramConfig
    default_max_batch = 10
    default_rate = (20, 60.0)  # Telegram: about 20 messages a minute to one group

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._progress: dict[str, int] = {}  # batch digest -> parts already delivered

    @property
    def deadline(self) -> float:
        """A batch of 10 fits in a few parts; each part gets the full timeout."""
        return 4 * self.timeout + 5.0

    def messages(self, batch: Sequence[Notification]) -> list[str]:
        """The texts to send, each at most 4096 characters, split on line boundaries."""
        markup = TELEGRAM_HTML if self.config.parse_mode == "HTML" else TELEGRAM_MD2
        return pack(batch_lines(batch, markup, self.custom), LIMIT)

    async def send(self, batch: Sequence[Notification]) -> SendResult:
        """Every part in order; on failure remember how far we got."""
        parts = self.messages(batch)
        silent = bool(self.config.silent) and all(n.severity in self.config.silent for n in batch)
        key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        for i in range(self._progress.get(key, 0), len(parts)):
            result = await self._send_part(parts[i], silent)
            if not result.ok:
                self._remember(key, i)
                where = f"part {i + 1}/{len(parts)}: " if len(parts) > 1 else ""
                return SendResult(
                    False, result.retry_after, result.permanent, where + result.detail
                )
        self._progress.pop(key, None)
        return SendResult.success(f"{len(parts)} messages" if len(parts) > 1 else "")

    def _remember(self, key: str, delivered: int) -> None:
        self._progress[key] = delivered
        while len(self._progress) > MAX_PROGRESS:
            self._progress.pop(next(iter(self._progress)))

    def payload(self, text: str, silent: bool) -> dict[str, Any]:
        """sendMessage parameters for one part."""
        body: dict[str, Any] = {
            "chat_id": self.config.chat_id,
            "text": text,
            "parse_mode": self.config.parse_mode,
            "link_preview_options": {"is_disabled": True},
        }
        if silent:
            body["disable_notification"] = True
        if self.config.message_thread_id is not None:
            body["message_thread_id"] = self.config.message_thread_id
        return body

    async def _send_part(self, text: str, silent: bool) -> SendResult:
        token = self.config.bot_token.get_secret_value()
        url = f"{self.config.api_url}/bot{token}/sendMessage"
        response = await self.post(url, json=self.payload(text, silent))
        if isinstance(response, SendResult):
            return response
        answer = _json(response)
        if response.is_success and answer.get("ok") is True:
            return SendResult.success()
        result = self.verdict(response, str(answer.get("description", "")))
        wait = (answer.get("parameters") or {}).get("retry_after")
        if isinstance(wait, int | float) and not result.ok and not result.permanent:
            return SendResult.retry(result.detail, float(wait))  # delivery bounds what it waits
        if response.is_success:  # 200 without ok: true is not a delivery
            return SendResult.retry(self.scrub(f"unexpected answer: {response.text[:200]}"))
        return result

    def describe(self) -> str:
        """Chat and API host; the bot token is never shown."""
        host = httpx.URL(self.config.api_url).host
        return f"telegram chat {self.config.chat_id} via {host} (bot token ***)"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@hookimpl
def alertbot_register_notifier_types(register: Callable[[type[Notifier]], None]) -> None:
    """Contribute `telegram`."""
    register(TelegramNotifier)
