"""Value formatting shared by the simulator: the Indexer's decimal strings, ISO times and ids."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

# The indexer derives its ids with uuid5; a fixed namespace keeps simulated ids stable per run.
_NAMESPACE = uuid.UUID("0f6d2a52-6a43-4f5b-9a43-2b1f9a6c0de4")


def num(value: float | Decimal | int) -> str:
    """Render a number the way the Indexer does: a plain decimal string, never an exponent."""
    if isinstance(value, float):
        value = Decimal(repr(round(value, 10)))
    dec = Decimal(value).normalize()
    if dec == 0:
        return "0"
    text = format(dec, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def iso(timestamp: float) -> str:
    """ISO-8601 UTC with milliseconds and a Z, as every Indexer timestamp is written."""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stable_uuid(*parts: object) -> str:
    """A uuid5 like the indexer's own (orders, fills, positions, subaccounts are all uuid5)."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def event_id(height: int, transaction: int, event: int) -> str:
    """A 24-hex-digit event id whose first 8 digits are the block height, as on the chain."""
    return f"{height:08x}{transaction:08x}{event:08x}"


def tx_hash(*parts: object) -> str:
    """A 64-hex-digit upper-case transaction hash, derived from the parts for reproducibility."""
    seed = uuid.uuid5(_NAMESPACE, "tx/" + "/".join(str(p) for p in parts)).hex
    return (seed * 2).upper()


def quantize(value: float, step: float) -> Decimal:
    """Round `value` to a multiple of `step` (tick or step size) without float noise."""
    unit = Decimal(repr(step))
    return (Decimal(repr(value)) / unit).quantize(Decimal(1)) * unit
