"""The `cluster:` section of rules.yaml: this replica's name, the shards and the lease timing."""

from __future__ import annotations

import os
import socket

from pydantic import Field, model_validator

from alertbot.core.durations import PositiveDuration
from alertbot.core.strict import Strict


def default_replica_id() -> str:
    """hostname-pid: unique per process on a host, readable in `alertbot status`."""
    return f"{socket.gethostname()}-{os.getpid()}"


class ClusterConfig(Strict):
    """Several replicas share the subaccounts through leases in the PostgreSQL of `state.dsn`."""

    replica_id: str | None = Field(default=None, min_length=1, max_length=200)
    shards: int = Field(default=64, ge=1, le=4096)
    lease_ttl: PositiveDuration = 15.0  # a dead replica's shards are taken over within this
    heartbeat: PositiveDuration = 5.0  # how often leases are renewed and the plan recomputed
    fence_margin: PositiveDuration = 3.0  # stop alerting this long before a lease can expire
    max_moves: int = Field(default=4, ge=1)  # shards moved between live replicas per heartbeat

    @model_validator(mode="after")
    def _timing(self) -> ClusterConfig:
        if self.heartbeat + self.fence_margin >= self.lease_ttl:
            raise ValueError(
                f"heartbeat ({self.heartbeat:g}s) + fence_margin ({self.fence_margin:g}s) must be "
                f"below lease_ttl ({self.lease_ttl:g}s), or a lease lapses between two renewals"
            )
        return self

    @property
    def replica(self) -> str:
        """This replica's id (configured, or hostname-pid)."""
        return self.replica_id or default_replica_id()
