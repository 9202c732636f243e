"""Simulator knobs: the Indexer's timings and limits by default, shrinkable for fast tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from alertbot.source.protocol import CAPS


def _default_caps() -> dict[str, int]:
    return dict(CAPS)


@dataclass
class SimSettings:
    """Socks' defaults (30 s heartbeat, 250 ms batches, 2/1 s limits, §4 caps) unless overridden."""

    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    heartbeat_interval: float = 30.0
    heartbeat_timeout: float = 10.0
    batch_interval: float = 0.25
    subscribe_rate_points: int = 2
    subscribe_rate_window: float = 1.0
    invalid_rate_points: int = 2
    invalid_rate_window: float = 1.0
    caps: dict[str, int] = field(default_factory=_default_caps)
    block_interval: float = 1.0  # a new block this often while running; 0 = off
    # every market's oracle price re-sent this often (the real v4_markets feed never goes quiet
    # for long), so a feed watchdog stays quiet after a timeline ends; 0 = off (the default,
    # for tests that count messages); `alertbot simulate` turns it on
    oracle_interval: float = 0.0
    time_scale: float = 1.0  # timeline speed-up for the scenario player
