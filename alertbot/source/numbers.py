"""Indexer decimal strings and heights to Python numbers, with one error type for bad data."""

from __future__ import annotations

from typing import Any


class BadValue(ValueError):
    """A field holds something that is not the number (or shape) the Indexer documents."""


# What a handler catches around one data item: a missing key, a wrong type or a bad number.
BAD_ITEM = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


def num(value: Any) -> float:
    """Parse a decimal string (or a JSON number) once; NaN, infinities and booleans are refused."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise BadValue("non-numeric value") from None
    if out - out != 0.0 or value is True or value is False:
        raise BadValue("non-numeric value")
    return out


def opt_num(value: Any) -> float | None:
    """Like num, but JSON null (oraclePrice of an INITIALIZING market, triggerPrice) stays None."""
    return None if value is None else num(value)


def height(value: Any) -> int:
    """Block heights arrive as strings ("19300873"); JSON integers are accepted too."""
    if value.__class__ is int:
        return int(value)
    if value.__class__ is not str:
        raise BadValue("non-numeric value")
    try:
        return int(value)
    except ValueError:
        raise BadValue("non-numeric value") from None


def opt_height(value: Any) -> int | None:
    """A height that may be absent or null (older snapshots, trade updates)."""
    return None if value is None else height(value)


def count(value: Any) -> int:
    """JSON integer counters (trades24H, candle trades); a numeric string is tolerated."""
    if value.__class__ is int:
        return int(value)
    return int(num(value))


def describe(exc: BaseException) -> str:
    """A short, bounded reason for on_problem (the raw item carries the details)."""
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    if isinstance(exc, BadValue):
        return str(exc)
    if isinstance(exc, ValueError):
        return "non-numeric value"
    return "wrong type"


def text(value: Any) -> str:
    """A string field (ids, enums, tickers); anything else is a wrong type."""
    if value.__class__ is not str:
        raise BadValue("wrong type")
    return str(value)


def opt_text(value: Any) -> str | None:
    """A string field that may be null or absent (removalReason)."""
    return None if value is None else text(value)


def flag(value: Any) -> bool:
    """A JSON boolean (postOnly, reduceOnly)."""
    if value is not True and value is not False:
        raise BadValue("wrong type")
    return bool(value)
