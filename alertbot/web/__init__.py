"""The HTTP endpoint for operators: /healthz for orchestrators, /metrics for Prometheus."""

from __future__ import annotations

from alertbot.web.config import HttpConfig
from alertbot.web.health import health
from alertbot.web.metrics import SnapshotCollector, render_metrics
from alertbot.web.server import WebServer, WebServerError
from alertbot.web.snapshot import ConnInfo, Latency, LatencyRecorder, Snapshot

__all__ = [
    "ConnInfo",
    "HttpConfig",
    "Latency",
    "LatencyRecorder",
    "Snapshot",
    "SnapshotCollector",
    "WebServer",
    "WebServerError",
    "health",
    "render_metrics",
]
