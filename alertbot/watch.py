"""`alertbot tail` and `alertbot record`: the live event stream and raw recordings."""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Callable
from typing import IO, Any

import orjson

from alertbot.config import Config
from alertbot.core.errors import AlertbotError
from alertbot.core.model import Event, iso_utc
from alertbot.rules.config import pattern_problem
from alertbot.source.client import IndexerSource
from alertbot.source.recording import RecordingWriter


def format_text(event: Event) -> str:
    """One readable line: time, kind, then key=value for scalar fields."""
    parts = [iso_utc(event.at), f"{event.kind:<22}"]
    for key, value in event.data.items():
        if value is None:
            continue
        if isinstance(value, list):
            parts.append(f"{key}=[{len(value)}]")
        elif isinstance(value, float):
            parts.append(f"{key}={value:.10g}")
        else:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def format_json(event: Event) -> str:
    """The `tail --json` line: kind, at (ISO-8601 UTC) and the fields at top level."""
    return orjson.dumps(event.to_json_dict()).decode()


def kind_filter(patterns: list[str] | None) -> Callable[[str], bool]:
    """A predicate on event kinds from glob patterns (all kinds when none are given).

    A pattern that matches no event kind is refused: it would print nothing, forever.
    """
    if not patterns:
        return lambda _kind: True
    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem:
            raise AlertbotError(f"--kind {problem}")
    return lambda kind: any(fnmatch.fnmatchcase(kind, p) for p in patterns)


async def tail(
    config: Config, *, as_json: bool, kinds: list[str] | None, out: IO[str] | None = None
) -> None:
    """Print every event until interrupted."""
    out = out if out is not None else sys.stdout
    render = format_json if as_json else format_text
    wanted = kind_filter(kinds)
    async with IndexerSource(config.source) as source:
        async for event in source:
            if wanted(event.kind):
                out.write(render(event) + "\n")
                out.flush()


async def record(config: Config, stream: IO[bytes], *, echo: Callable[[str], Any] | None) -> None:
    """Write every received frame to `stream` in the recording format until interrupted."""
    writer = RecordingWriter(stream)
    source = IndexerSource(
        config.source, on_raw=writer.frame, on_close=writer.closed, on_rest=writer.rest
    )
    async with source:
        async for event in source:
            if echo is not None and event.kind.startswith(("connection.", "source.", "feed.")):
                echo(format_text(event))
