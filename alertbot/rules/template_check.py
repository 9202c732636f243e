"""`check` renders each title and message with every event it can meet, firing and resolved."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from alertbot.core.errors import AlertbotError
from alertbot.core.located import Path
from alertbot.core.model import Event
from alertbot.rules.build import NullSink, build_rule
from alertbot.rules.config import RuleConfig, RuleSet, expand_kinds
from alertbot.rules.identity import key_of
from alertbot.rules.lifecycle import Alert
from alertbot.rules.render import context
from alertbot.rules.runtime import RuleRuntime, fingerprint
from alertbot.rules.samples import AT, SAMPLES, sample_event
from alertbot.rules.templates import Template, UndefinedVariable, environment


@dataclass(frozen=True, slots=True)
class Situation:
    """One way a rule's text gets rendered: a status and the event the alert then carries."""

    status: str  # "firing" or "resolved"
    event: Event
    words: str  # "when resolved by a connection.connected event"


def situations(rt: RuleRuntime) -> Iterator[Situation]:
    """Firing on each `on` kind, resolved on each `on` and `resolve_on` kind; absent: labels."""
    for kind in rt.kinds:
        yield Situation("firing", sample_event(kind), f"when firing on {_a(kind)} event")
    if rt.mode == "absent":  # the identity was restored from state, or never seen at all
        sample = SAMPLES[rt.kinds[0]]
        labels = {f: sample[f] for f in rt.label_fields if f in sample}
        words = "when firing for an identity restored or never seen (only its label fields)"
        yield Situation("firing", Event(rt.kinds[0], AT, labels, -1), words)
    if resolves_on_own_kinds(rt):
        for kind in rt.kinds:
            yield Situation("resolved", sample_event(kind), f"when resolved on {_a(kind)} event")
    for kind in expand_kinds(rt.cfg.resolve_on or ()):
        yield Situation("resolved", sample_event(kind), f"when resolved by {_a(kind)} event")


def _a(kind: str) -> str:
    """`an account`, `a fill`: the article for an event kind."""
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def resolves_on_own_kinds(rt: RuleRuntime) -> bool:
    """Whether an `on` event can end the alert (it then carries that event); see runtime.py."""
    if rt.mode == "event":  # one-offs never resolve
        return False
    if rt.mode == "level":  # without a condition every `on` event holds; resolve_on ends it
        return rt.cfg.when is not None or rt.cfg.resolve_when is not None
    return True  # count and change by time or value, absent by a sign of life


def template_problems(rule: RuleConfig, config: RuleSet) -> list[tuple[Path, str]]:
    """(path below the rule, message) for each template that cannot render somewhere."""
    try:
        rt = build_rule(rule, config, NullSink())
    except (AlertbotError, ValueError) as exc:
        return [((), str(exc))]
    cases = list(situations(rt))
    out: list[tuple[Path, str]] = []
    for key, template in (("title", rt.title), ("message", rt.message)):
        out.extend(((key,), message) for message in _problems(rt, template, cases))
    return out


def _problems(rt: RuleRuntime, template: Template, cases: list[Situation]) -> list[str]:
    """Names no situation defines (static), else the first situation that fails to render."""
    known = set(environment().globals)
    for case in cases:
        known |= set(situation_context(rt, case))
    never = sorted(template.names() - known)
    if never:
        return [f"undefined variable {n!r}: no event this rule renders has it{_hint(n, known)}"
                for n in never]  # fmt: skip
    for case in cases:
        try:
            template.render_strict(situation_context(rt, case))
        except UndefinedVariable as exc:
            what = f"undefined variable {exc.name!r}" if exc.name else str(exc)
            return [f"{what} {case.words}"]
        except Exception as exc:  # any failure is the user's to fix
            return [f"template fails {case.words}: {exc}"]
    return []


def _hint(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def situation_context(rt: RuleRuntime, case: Situation) -> dict[str, object]:
    """The template variables of a rule in one situation (what the engine would pass)."""
    fields = rt.fields.get(case.event.kind, rt.label_fields)
    alert = Alert(
        rt.name,
        key_of(fields, case.event),
        dict(rt.cfg.labels),
        fingerprint(rt.name, {}),
        case.event,
    )
    return context(rt, alert, case.status, case.event.at, False)
