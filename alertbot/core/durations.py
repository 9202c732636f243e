"""Durations as users write them in rules.yaml: 500ms, 30s, 2m, 1h, 1d, or 1h30m."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")


def parse_duration(text: str) -> float:
    """Return seconds for a duration string; raise ValueError naming the accepted forms."""
    value = text.strip()
    if not _WHOLE.match(value):
        raise ValueError(
            f"invalid duration {text!r}: write a number and a unit, e.g. 500ms, 30s, 2m, 1h, 1d"
        )
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))


def format_duration(seconds: float) -> str:
    """Render seconds compactly for messages (90 -> '1m30s')."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    rest = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            count, rest = divmod(rest, size)
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _coerce(value: Any) -> Any:
    """pydantic hook: '30s' -> 30.0; plain numbers are seconds; booleans are refused."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s")
    return value


# Config field types: a duration written as text or as a number of seconds.
Duration = Annotated[float, BeforeValidator(_coerce), Field(ge=0)]
PositiveDuration = Annotated[float, BeforeValidator(_coerce), Field(gt=0)]
