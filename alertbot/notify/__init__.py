"""Notifiers: the contract (base), built-in types (builtin/), wording per service (render)."""

from __future__ import annotations

from alertbot.notify.base import Notifier, SendResult, guarded_send
from alertbot.notify.config import NotifierConfig

__all__ = ["Notifier", "NotifierConfig", "SendResult", "guarded_send"]
