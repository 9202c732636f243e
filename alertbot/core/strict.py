"""The one base of every config model: unknown keys are errors, values are immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors (a typo must never silently disable a rule); values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
