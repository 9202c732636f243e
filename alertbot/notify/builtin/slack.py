"""`type: slack`: an incoming webhook; mrkdwn text or Block Kit sections, `&<>` escaped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from alertbot.core.secrets import mask_url
from alertbot.hookspecs import hookimpl
from alertbot.notify.base import Notifier, SendResult
from alertbot.notify.builtin.http import HttpNotifier
from alertbot.notify.config import SlackConfig
from alertbot.notify.render import SLACK, batch_lines, batch_title, note_lines, slack_escape

if TYPE_CHECKING:
    from alertbot.core.model import Notification

MAX_TEXT = 39_000  # Slack truncates `text` at 40,000 characters
MAX_SECTION = 3_000  # a section block's text limit


class SlackNotifier(HttpNotifier):
    """Posts to a Slack webhook directly: exact payloads, and 429 Retry-After / 4xx made visible.

    (Apprise's Slack plugin reports only a boolean, so the outbox could not tell a revoked
    webhook from a rate limit.)
    """

    type = "slack"
    config_model = SlackConfig
    config: SlackConfig
    default_max_batch = 20  # 20 sections + dividers stay under Slack's 50 blocks
    default_rate = (1, 1.0)  # Slack: about one message per second per webhook

    def payload(self, batch: Sequence[Notification]) -> dict[str, Any]:
        """The JSON body in the configured style."""
        if self.config.style == "blocks":
            return {"text": slack_escape(batch_title(batch)), "blocks": self.blocks(batch)}
        return {"text": "\n".join(batch_lines(batch, SLACK, self.custom))[:MAX_TEXT]}

    def blocks(self, batch: Sequence[Notification]) -> list[dict[str, Any]]:
        """One section per notification, dividers between, a count on top for several."""
        out: list[dict[str, Any]] = []
        if len(batch) > 1:
            out.append(_section(SLACK.bold.format(slack_escape(batch_title(batch)))))
        for i, note in enumerate(batch):
            if i:
                out.append({"type": "divider"})
            out.append(_section("\n".join(note_lines(note, SLACK, self.custom(note)))))
        return out

    async def send(self, batch: Sequence[Notification]) -> SendResult:
        """One POST to the webhook; Slack answers `ok`, or a status and a short reason."""
        url = self.config.webhook_url.get_secret_value()
        response = await self.post(url, json=self.payload(batch))
        return response if isinstance(response, SendResult) else self.verdict(response)

    def describe(self) -> str:
        """Host only: the webhook path is the secret."""
        return f"slack {mask_url(self.config.webhook_url.get_secret_value())} ({self.config.style})"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}


@hookimpl
def alertbot_register_notifier_types(register: Callable[[type[Notifier]], None]) -> None:
    """Contribute `slack`."""
    register(SlackNotifier)
