"""`type: webhook`: POST a versioned JSON document of the batch to any URL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from alertbot.core.secrets import mask_url
from alertbot.hookspecs import hookimpl
from alertbot.notify.base import Notifier, SendResult
from alertbot.notify.builtin.http import HttpNotifier
from alertbot.notify.config import WebhookConfig
from alertbot.notify.render import alert_json

if TYPE_CHECKING:
    from alertbot.core.model import Notification

VERSION = 1  # of the JSON document; bumped only for incompatible changes


class WebhookNotifier(HttpNotifier):
    """JSON `{"version": 1, "alerts": [...]}`; 2xx ok, 429/5xx retry, other 4xx permanent."""

    type = "webhook"
    config_model = WebhookConfig
    config: WebhookConfig
    default_max_batch = 100

    def document(self, batch: Sequence[Notification]) -> dict[str, Any]:
        """The JSON body for a batch."""
        return {"version": VERSION, "alerts": [alert_json(n, self.custom(n)) for n in batch]}

    async def send(self, batch: Sequence[Notification]) -> SendResult:
        """One POST for the whole batch."""
        headers = {"Content-Type": "application/json"}
        headers.update({k: v.get_secret_value() for k, v in self.config.headers.items()})
        body = orjson.dumps(self.document(batch))
        response = await self.post(
            self.config.url.get_secret_value(), content=body, headers=headers
        )
        if isinstance(response, SendResult):
            return response
        return self.verdict(response)

    def describe(self) -> str:
        """The URL's scheme and host; header names without values."""
        target = mask_url(self.config.url.get_secret_value())
        names = ", ".join(self.config.headers)
        return f"webhook {target}" + (f" (headers: {names})" if names else "")


@hookimpl
def alertbot_register_notifier_types(register: Callable[[type[Notifier]], None]) -> None:
    """Contribute `webhook`."""
    register(WebhookNotifier)
