"""The rule engine: pure (event + time in, notifications out), its config models and checks.

Its commands (check, test, silence) live in the command layer, `alertbot.commands.rules`.
"""

from __future__ import annotations

from alertbot.core.model import AlertSummary, Notification
from alertbot.rules.config import DefaultsConfig, InhibitRule, RuleConfig
from alertbot.rules.engine import AlertView, Engine
from alertbot.rules.expr import Expression, ExpressionError, compile_expression
from alertbot.rules.runtime import RuleStats
from alertbot.rules.silences import Silence, SilenceError, SilenceStore

__all__ = [
    "AlertSummary",
    "AlertView",
    "DefaultsConfig",
    "Engine",
    "Expression",
    "ExpressionError",
    "InhibitRule",
    "Notification",
    "RuleConfig",
    "RuleStats",
    "Silence",
    "SilenceError",
    "SilenceStore",
    "compile_expression",
]
