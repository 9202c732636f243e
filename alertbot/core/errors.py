"""One error hierarchy; the CLI is the only place that turns these into words and exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class AlertbotError(Exception):
    """Base of every error alertbot raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem, located in its file so the user can jump to it."""

    file: str
    line: int  # 1-based; 0 when unknown
    column: int  # 1-based; 0 when unknown
    key: str  # dotted path such as "source.subaccounts[2]"
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(AlertbotError):
    """The configuration is invalid; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class PluginError(AlertbotError):
    """A plugin cannot be loaded: bad file, unknown hook, clashing name; says which file."""
