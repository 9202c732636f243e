"""Every hook a plugin may implement, one documented spec each (keyword arguments only).

Evolve a hook by adding arguments, never by changing them: pluggy passes each implementation
only the arguments it names, so old plugins keep working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from alertbot.config import Config
    from alertbot.core.model import Notification
    from alertbot.notify.base import Notifier

PROJECT = "alertbot"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def alertbot_register_notifier_types(register: Callable[[type[Notifier]], None]) -> None:
    """Contribute notifier classes (new values for a notifier's `type:` key).

    :param register: call it once per class, ``register(MyNotifier)``. The class subclasses
        :class:`alertbot.notify.base.Notifier` and sets the class attributes ``type`` (the name
        users write in ``notifiers.<name>.type``) and ``config_model`` (a pydantic model derived
        from :class:`alertbot.notify.config.NotifierConfig`, validating the entry; after loading,
        ``config.notifiers[name]`` is an instance of it).
        Registering a type name twice is a PluginError naming both plugins.

    Called once per plugin manager: when rules.yaml is loaded and when ``run`` builds its
    notifiers. Synchronous: do no
    I/O here; connections belong in the notifier's ``send``.
    """


@hookspec
def alertbot_enrich_alert(notification: Notification) -> Mapping[str, Any] | None:
    """Add fields to a notification before it is queued for delivery (e.g. an explorer link).

    :param notification: the notification as the rule engine produced it (read only; a frozen
        dataclass). Its ``labels`` are the alert's identity labels; for a grouped notification
        only the labels all members share.
    :return: a mapping of extra fields, or None for nothing. Values are turned into text and
        merged into the notification's ``labels`` that every notifier shows. A rule's own labels
        win over a plugin's field of the same name, and among plugins the one asked first wins
        (local files, then entry points, then built-ins), so enrichment can add but never
        rewrite the identity. The fingerprint is not changed.

    Called once per notification, by the core, before the outbox stores it (so retries send the
    same text). Synchronous and fast: no network I/O. An implementation that raises is logged
    with its plugin's name and skipped; the others still run.
    """


@hookspec(firstresult=True)
def alertbot_render(notification: Notification, notifier_type: str) -> tuple[str, str] | None:
    """Replace the built-in wording of one notification for one kind of notifier.

    :param notification: the (enriched) notification about to be sent.
    :param notifier_type: the notifier's ``type`` (``"telegram"``, ``"slack"``, ``"email"``,
        ``"webhook"``, ``"console"``, ``"apprise"`` or a plugin's type).
    :return: ``(title, body)`` to use, or None to keep the default. The title is plain text
        (alertbot escapes it); the body is sent as written in the service's own markup: HTML
        for Telegram in HTML mode and for email, MarkdownV2 for Telegram in that mode, Slack
        mrkdwn for Slack, plain text elsewhere; the webhook puts them in ``title``/``message``.
        The plugin escapes what it inserts.

    The first plugin to return a value wins. Must be a plain ``def``: a coroutine is never None,
    so an ``async def`` would always win (loading refuses it).
    """


@hookspec
def alertbot_startup(config: Config) -> Awaitable[None] | None:
    """Run once when ``alertbot run`` starts, after the notifiers are built.

    :param config: the validated configuration (read only).
    :return: None, or an awaitable that the core awaits (with a timeout) before the source
        starts; so ``async def`` implementations are fine here.

    A failure is logged with the plugin's name; the bot still starts.
    """


@hookspec
def alertbot_shutdown() -> Awaitable[None] | None:
    """Run once when ``alertbot run`` stops, after deliveries drained, before state closes.

    :return: None, or an awaitable that the core awaits with a timeout.

    A failure is logged with the plugin's name; shutdown continues.
    """
