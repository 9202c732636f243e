"""`type: email`: mail through Apprise's SMTP support; subject from the title, text + HTML."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from alertbot.hookspecs import hookimpl
from alertbot.notify.base import Notifier
from alertbot.notify.builtin.apprise_base import AppriseNotifier
from alertbot.notify.config import EmailConfig
from alertbot.notify.render import batch_title, email_html

if TYPE_CHECKING:
    from alertbot.core.model import Notification


class EmailNotifier(AppriseNotifier):
    """An HTML body; Apprise adds the plain-text alternative derived from it."""

    type = "email"
    config_model = EmailConfig
    config: EmailConfig
    default_max_batch = 50
    body_format = "html"

    def texts(self, batch: Sequence[Notification]) -> tuple[str, str]:
        """Subject and HTML body."""
        return batch_title(batch), email_html(batch, self.custom)


@hookimpl
def alertbot_register_notifier_types(register: Callable[[type[Notifier]], None]) -> None:
    """Contribute `email`."""
    register(EmailNotifier)
