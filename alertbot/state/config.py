"""The `state:` section of rules.yaml: which backend keeps the state, and how to reach it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from alertbot.core.durations import PositiveDuration
from alertbot.core.strict import Strict

DSN_HINT = "write postgresql://user:password@host:5432/dbname, or key=value pairs"


class StateConfig(Strict):
    """SQLite in `state_dir` (embedded, the default) or a PostgreSQL database shared by replicas."""

    backend: Literal["sqlite", "postgresql"] = "sqlite"
    dsn: SecretStr | None = None  # postgresql only; a secret: masked in every message
    pool_size: int = Field(default=4, ge=1, le=64)  # connections per process (postgresql)
    claim_ttl: PositiveDuration = 60.0  # an outbox claim of a dead replica comes back after this
    buffer: int = Field(default=10_000, ge=1)  # notifications held while the database is lost

    @model_validator(mode="after")
    def _dsn_matches_backend(self) -> StateConfig:
        if self.backend == "postgresql" and not self.dsn_text:
            raise ValueError(f"backend postgresql needs a dsn: {DSN_HINT}")
        if self.backend == "sqlite" and self.dsn is not None:
            raise ValueError("dsn is only used with backend: postgresql (set backend, or drop dsn)")
        if self.dsn_text and not _parses(self.dsn_text):
            raise ValueError(f"dsn is not a PostgreSQL connection string: {DSN_HINT}")
        return self

    @property
    def dsn_text(self) -> str:
        """The connection string itself (never print it: `masked_dsn` is for messages)."""
        return self.dsn.get_secret_value().strip() if self.dsn is not None else ""


def _parses(dsn: str) -> bool:
    """psycopg's own parser decides; its message is not echoed (it may quote the password)."""
    from psycopg.conninfo import conninfo_to_dict  # here: only postgresql users pay its import

    try:
        conninfo_to_dict(dsn)
    except Exception:  # psycopg.ProgrammingError; any failure means the same to the user
        return False
    return True


def masked_dsn(dsn: str) -> str:
    """host:port/dbname as user, password hidden: what messages may say of a dsn."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "(unparsable dsn)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    user = parts.get("user") or "?"
    password = ":***" if parts.get("password") else ""
    return f"postgresql://{user}{password}@{host}:{port}/{parts.get('dbname') or user}"
