"""Small builders for rule-engine tests: a config from a few YAML lines, events from samples."""

from __future__ import annotations

import textwrap

from alertbot.config import Config
from alertbot.config_load import parse_config
from alertbot.core.model import Event
from alertbot.rules import Engine, Notification, SilenceStore
from alertbot.rules.samples import sample_event

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
HEAD = (
    f"source: {{subaccounts: [{ADDR}/0], markets: [BTC-USD]}}\n"
    "notifiers: {ops: {type: console}}\n"
)


def config(rules: str, extra: str = "") -> Config:
    """A valid config with these rules (YAML list items) and extra top-level YAML."""
    body = textwrap.indent(textwrap.dedent(rules).strip("\n"), "  ")
    return parse_config(
        HEAD + textwrap.dedent(extra) + "rules:\n" + body + "\n", "rules.yaml", env={}
    )


def engine(rules: str, extra: str = "", silences: SilenceStore | None = None) -> Engine:
    """An engine over `config(rules, extra)`."""
    return Engine(config(rules, extra), silences=silences)


def ev(kind: str, *, conn: int | None = None, **fields: object) -> Event:
    """The sample event of `kind` with `fields` laid over it."""
    event = sample_event(kind)
    event.data.update(fields)
    if conn is not None:
        event.conn = conn
        if "conn" in event.data:
            event.data["conn"] = conn
    return event


def run(
    eng: Engine, timeline: list[tuple[float, Event]], until: float, step: float = 1.0
) -> list[Notification]:
    """Process (time, event) pairs in order, ticking every `step` from 0 to `until`."""
    out: list[Notification] = []
    pending = sorted(timeline, key=lambda pair: pair[0])
    t = 0.0
    while t <= until:
        while pending and pending[0][0] <= t:
            at, event = pending.pop(0)
            out.extend(eng.process(event, at))
        out.extend(eng.tick(t))
        t = round(t + step, 6)
    return out


def brief(notes: list[Notification]) -> list[tuple[float, str, str]]:
    """(at, rule, status) of each notification: what most tests compare."""
    return [(n.at, n.rule, n.status) for n in notes]
