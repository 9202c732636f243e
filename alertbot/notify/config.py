"""Notifier config models: one pydantic model per type; unknown keys are errors, secrets masked."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from alertbot.core.durations import PositiveDuration
from alertbot.core.model import Severity
from alertbot.core.strict import Strict


class RateConfig(Strict):
    """At most `messages` sends per `per` seconds (the delivery pipeline batches the rest)."""

    messages: int = Field(ge=1)
    per: PositiveDuration


class NotifierConfig(Strict):
    """Keys every notifier accepts; a type's model adds its own (`type` picked the model)."""

    type: str = ""  # the `type:` key of rules.yaml; set by the loader, "" when built in code
    timeout: PositiveDuration = 10.0  # one request to the service, connect to last byte
    max_batch: int | None = Field(default=None, ge=1)  # None: the type's default
    rate: RateConfig | None = None  # None: the type's default


def http_url(value: SecretStr) -> SecretStr:
    """Validator: an http(s) URL with a host; the message never repeats the value."""
    parts = urlsplit(value.get_secret_value())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


class ConsoleConfig(NotifierConfig):
    """Prints each message; handy for trying rules out."""

    stream: Literal["stdout", "stderr"] = "stdout"


class WebhookConfig(NotifierConfig):
    """POSTs a versioned JSON document to any URL."""

    url: SecretStr  # a URL often carries a token in its path or query
    headers: dict[str, SecretStr] = {}  # e.g. Authorization: Bearer ${TOKEN}

    @field_validator("url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return http_url(value)


class SlackConfig(NotifierConfig):
    """An incoming-webhook URL of a Slack app."""

    webhook_url: SecretStr
    style: Literal["mrkdwn", "blocks"] = "mrkdwn"

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return http_url(value)


class TelegramConfig(NotifierConfig):
    """A bot token from @BotFather and the chat to write to."""

    bot_token: SecretStr
    chat_id: int | str
    parse_mode: Literal["HTML", "MarkdownV2"] = "HTML"
    silent: list[Severity] = []  # severities sent without a sound (disable_notification)
    message_thread_id: int | None = None  # a topic in a forum group
    api_url: str = "https://api.telegram.org"  # or a self-hosted Bot API server

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        head, _, tail = token.partition(":")
        if not (head.isdigit() and tail and all(c.isalnum() or c in "_-" for c in tail)):
            raise ValueError("must look like 123456:ABC-def (the token @BotFather gave)")
        return value

    @field_validator("chat_id")
    @classmethod
    def _chat(cls, value: int | str) -> int | str:
        if isinstance(value, str) and not (value.startswith("@") or value.lstrip("-").isdigit()):
            raise ValueError("must be a number such as -1001234567890 or a @channelname")
        return value

    @field_validator("api_url")
    @classmethod
    def _api(cls, value: str) -> str:
        http_url(SecretStr(value))
        return value.rstrip("/")


class EmailConfig(NotifierConfig):
    """An Apprise mail URL: mailto:// (plain or STARTTLS when offered) or mailtos:// (TLS)."""

    url: SecretStr  # mailto://user:pass@smtp.example.com?from=bot@example.com&to=ops@example.com

    @field_validator("url")
    @classmethod
    def _mail(cls, value: SecretStr) -> SecretStr:
        if urlsplit(value.get_secret_value()).scheme not in ("mailto", "mailtos"):
            raise ValueError("must be a mailto:// or mailtos:// URL")
        return value


class AppriseConfig(NotifierConfig):
    """Any Apprise URL (discord://, ntfy://, pover://, ...), for services without a type here."""

    url: SecretStr
    format: Literal["text", "markdown", "html"] = "text"
