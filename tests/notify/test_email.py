"""The email notifier through Apprise to a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alertbot.notify.builtin.mail import EmailNotifier
from alertbot.notify.config import EmailConfig
from tests.notify.fakes import note

PASSWORD = "pa55-w0rd-secret"


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd API
        raw = envelope.original_content or envelope.content
        self.messages.append(email.message_from_bytes(raw, policy=email.policy.default))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def mailer(url: str, **extra: object) -> EmailNotifier:
    return EmailNotifier("mail", EmailConfig.model_validate({"url": url, **extra}))


async def test_subject_plain_and_html_parts(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    notifier = mailer(f"mailto://127.0.0.1:{port}?from=bot@example.com&to=ops@example.com")
    assert notifier.rate is not None  # Apprise's pacing becomes ours; Apprise's own is off
    result = await notifier.send([note(message="equity 950.5 < 1000 & falling")])
    await notifier.close()
    assert result.ok, result.detail
    (message,) = inbox.messages
    assert message["Subject"] == "[CRITICAL] Equity below 1000 on acct"
    assert message["To"] == "ops@example.com"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "equity 950.5 < 1000 & falling" in plain
    assert "CRITICAL" in plain
    assert "equity 950.5 &lt; 1000 &amp; falling" in html
    assert '<b style="color:#b00020">CRITICAL</b>' in html
    assert "<code>subaccount=0</code>" in html


async def test_batch_subject_counts(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    notifier = mailer(f"mailto://127.0.0.1:{port}?from=bot@example.com&to=ops@example.com")
    resolved = note(status="resolved", title="Equity below 1000", ends_at=1.7e9)
    assert (await notifier.send([note(), resolved])).ok
    assert inbox.messages[0]["Subject"] == "2 notifications: 1 firing, 1 resolved"


async def test_unreachable_server_is_retryable_and_masked(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"mailto://bot:{PASSWORD}@127.0.0.1:{_free_port()}?from=bot@example.com&to=o@example.com"
    notifier = mailer(url, timeout="2s")
    result = await notifier.send([note()])
    assert (result.ok, result.permanent) == (False, False)
    assert PASSWORD not in result.detail
    assert PASSWORD not in notifier.describe()
    assert notifier.describe().startswith("email mailto://bot:")
    assert PASSWORD not in caplog.text


def test_url_apprise_cannot_use_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Apprise cannot use this URL") as info:
        mailer(f"mailto://{PASSWORD}")
    assert PASSWORD not in str(info.value)


def test_apprise_reason_is_kept_and_its_half_masked_url_not_logged(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ValueError, match="Invalid ~From~ email") as info:
        mailer(f"mailto://bot:{PASSWORD}@127.0.0.1:25?from=a@b.c&to=o@example.com")
    assert PASSWORD not in str(info.value)
    assert "Could not load" not in caplog.text
