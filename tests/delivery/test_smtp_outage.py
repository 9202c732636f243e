"""Email through the outbox while the SMTP server is down, then up: delivered exactly once."""

from __future__ import annotations

from aiosmtpd.controller import Controller

from alertbot.notify.builtin.mail import EmailNotifier
from alertbot.notify.config import EmailConfig
from tests.delivery.conftest import rows, until
from tests.delivery.fakes import note
from tests.notify.test_email import Inbox, _free_port


async def test_smtp_down_then_up_delivers_once(make, db, clock):
    port = _free_port()  # nothing listens here yet
    url = f"mailto://127.0.0.1:{port}?from=bot@example.com&to=ops@example.com"
    mailer = EmailNotifier("mail", EmailConfig.model_validate({"url": url, "timeout": "2s"}))
    delivery = make(mailer, backoff={"initial": "1s", "max": "5s"})
    await delivery.start()
    try:
        delivery.submit(note(1, notify=("mail",)))
        await until(lambda: rows(db)[0][3] >= 1)  # one attempt failed: the server is down
        assert rows(db)[0][2] == "pending"
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            await until(lambda: rows(db)[0][2] == "sent", within=15)
        finally:
            controller.stop()
    finally:
        await delivery.stop()
        await mailer.close()
    assert len(inbox.messages) == 1
    assert inbox.messages[0]["Subject"] == "[WARNING] alert 1"
