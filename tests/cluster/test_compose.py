"""The compose example of a cluster (no Docker engine here): it parses, it runs three replicas
of the one image against one PostgreSQL, and no password is written in it."""

from __future__ import annotations

from pathlib import Path

import yaml

from alertbot.config_load import parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_compose_cluster_runs_three_replicas_on_one_postgresql():
    spec = yaml.safe_load((ROOT / "compose.cluster.yaml").read_text("utf-8"))
    services = spec["services"]
    replicas = {n: s for n, s in services.items() if n.startswith("alertbot-")}
    assert len(replicas) == 3
    assert services["postgres"]["healthcheck"]["test"][0] == "CMD-SHELL"
    ports, hosts = set(), set()
    for service in replicas.values():  # the anchor merged into each one
        assert service["image"] == "alertbot:0.1.0"
        assert service["command"][-3:] == ["run", "-c", "/config/rules.yaml"]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        dsn = service["environment"]["ALERTBOT_PG_DSN"]
        assert "@postgres:5432/alertbot" in dsn
        assert "${ALERTBOT_PG_PASSWORD" in dsn  # from .env, never written here
        ports.add(service["ports"][0])
        hosts.add(service["hostname"])
    assert len(ports) == len(hosts) == 3


def test_the_scaling_guide_example_loads():
    text = (ROOT / "docs" / "scaling.md").read_text("utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = parse_config(example, "scaling.md", env={"ALERTBOT_PG_DSN": "postgresql://a@b/c"})
    assert config.cluster is not None
    assert config.state.backend == "postgresql"
