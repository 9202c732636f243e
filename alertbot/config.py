"""The rules.yaml model, every section typed (loading and checking: config_load.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, model_validator

from alertbot.cluster.config import ClusterConfig
from alertbot.core.paths import DEFAULT_STATE_DIR
from alertbot.core.strict import Strict
from alertbot.jobs import JobsConfig
from alertbot.notify.config import ConsoleConfig, NotifierConfig
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.rules.config import DefaultsConfig, InhibitRule, Rules
from alertbot.source.config import SourceConfig
from alertbot.state.config import StateConfig
from alertbot.web.config import HttpConfig


def _typed_notifiers(value: Any) -> Any:
    """Entries must already be their type's model: only the loader knows the plugins' types."""
    if isinstance(value, dict):
        for name, entry in value.items():
            if not isinstance(entry, NotifierConfig):
                raise ValueError(
                    f"notifier {name!r} is not validated: load the file with "
                    "alertbot.config_load, which picks its model by `type:`"
                )
    return value


CLUSTER_NEEDS_PG = (
    "a cluster needs the shared state of `state: {backend: postgresql, dsn: ...}`: the leases "
    "live there, and a new owner reads the old owner's cursors there"
)


class Config(Strict):
    """The whole rules.yaml, typed: `alertbot.config_load` builds it, section by section."""

    version: Literal[1] = 1
    source: SourceConfig
    state_dir: str = DEFAULT_STATE_DIR  # relative to this file's folder (core/paths.py)
    state: StateConfig = StateConfig()  # backend: sqlite (in state_dir) or postgresql (dsn)
    notifiers: Annotated[dict[str, NotifierConfig], BeforeValidator(_typed_notifiers)] = {
        "console": ConsoleConfig(type="console")
    }
    defaults: DefaultsConfig = DefaultsConfig()
    rules: Rules = []
    inhibit: list[InhibitRule] | None = (
        None  # None: the documented default (transport inhibits data)
    )
    delivery: DeliveryConfig = DeliveryConfig()  # outbox retries, fallback, rate limits
    plugins_dir: str = "plugins"  # local one-file plugins; relative to this file's folder
    http: HttpConfig = HttpConfig()  # health and metrics endpoint
    jobs: JobsConfig = JobsConfig()  # digest, heartbeat, pruning
    cluster: ClusterConfig | None = None  # replicas sharing the subaccounts (docs/scaling.md)

    @model_validator(mode="after")
    def _cluster_store(self) -> Config:
        if self.cluster is not None and self.state.backend != "postgresql":
            raise ValueError(CLUSTER_NEEDS_PG)
        return self
