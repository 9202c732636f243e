"""`type: apprise`: any Apprise URL, for services without a dedicated type."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from alertbot.hookspecs import hookimpl
from alertbot.notify.base import Notifier
from alertbot.notify.builtin.apprise_base import AppriseNotifier
from alertbot.notify.config import AppriseConfig
from alertbot.notify.render import MARKDOWN, PLAIN, batch_lines, batch_title, email_html

if TYPE_CHECKING:
    from alertbot.core.model import Notification


class AppriseUrlNotifier(AppriseNotifier):
    """The body in the configured format; Apprise converts it for the service."""

    type = "apprise"
    config_model = AppriseConfig
    config: AppriseConfig
    default_max_batch = 20

    @property
    def body_format(self) -> str:  # type: ignore[override]  # per instance, from config
        """text, markdown or html."""
        return self.config.format

    def texts(self, batch: Sequence[Notification]) -> tuple[str, str]:
        """Title and body in `format`."""
        if self.config.format == "html":
            return batch_title(batch), email_html(batch, self.custom)
        markup = MARKDOWN if self.config.format == "markdown" else PLAIN
        return batch_title(batch), "\n".join(batch_lines(batch, markup, self.custom))


@hookimpl
def alertbot_register_notifier_types(register: Callable[[type[Notifier]], None]) -> None:
    """Contribute `apprise`."""
    register(AppriseUrlNotifier)
