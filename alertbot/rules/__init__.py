"""The rule engine: pure (event + time in, notifications out), plus its config and commands.

`commands` (check, test, silence) is imported by the CLI directly, not from here, so that
`alertbot.config` can import the rule models without a cycle.
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
