"""The rule index: an event reaches only the rules whose kind and label equalities it can match.

At load time each rule's `when` is read for a conjunct `label == constant` (or
`label in [constants]`); the rule is then filed under those values of that label. An event looks
its label up once per indexed label of its kind, instead of every rule evaluating its
condition: cost grows with the rules that can match, not with the rules that exist. A rule
without such a conjunct is "every event of its kinds", as before.

Skipping an event is exact only when evaluating it could not change the rule's state. That holds
for one-offs, counts and absences (a false `when` returns before any state), and for level and
change rules when the label is part of the alert identity (an event with another value has
another identity, and no alert can exist for it: alerts are created only when `when` holds).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from alertbot.rules.expr import compile_expression
from alertbot.rules.runtime import RuleRuntime

# Most selective first: when a condition has several equalities, the rule is filed under one.
PREFERRED = ("address", "ticker", "market", "order_id", "client_id", "id", "subaccount")
_SCALARS = (str, int, float, bool)
_NOT_INDEXED = "conn"  # key_of falls back to Event.conn for it: not the same as the field


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """A rule is filed under `field` equal to one of `values`, or (field None) not at all."""

    field: str | None
    values: tuple[Any, ...]
    why: str  # in words, for `alertbot check --explain`


def equalities(source: str) -> list[tuple[str, tuple[Any, ...]]]:
    """`(field, allowed values)` of each top-level `and` conjunct that is a label equality."""
    body = compile_expression(source).tree.body
    is_and = isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And)
    conjuncts = body.values if isinstance(body, ast.BoolOp) and is_and else [body]
    found = []
    for node in conjuncts:
        match = _equality(node)
        if match is not None:
            found.append(match)
    return found


def _equality(node: ast.expr) -> tuple[str, tuple[Any, ...]] | None:
    if not isinstance(node, ast.Compare) or len(node.ops) != 1:
        return None
    op, left, right = node.ops[0], node.left, node.comparators[0]
    if isinstance(op, ast.Eq):
        if isinstance(right, ast.Name):
            left, right = right, left
        if isinstance(left, ast.Name) and _constant(right):
            assert isinstance(right, ast.Constant)
            return left.id, (right.value,)
    listed = isinstance(right, ast.List | ast.Tuple) and all(_constant(e) for e in right.elts)
    if isinstance(op, ast.In) and isinstance(left, ast.Name) and listed:
        assert isinstance(right, ast.List | ast.Tuple)
        return left.id, tuple(e.value for e in right.elts if isinstance(e, ast.Constant))
    return None


def _constant(node: ast.expr) -> bool:
    """A literal whose `==` is the same as a dictionary lookup (hashable, no NaN)."""
    if not isinstance(node, ast.Constant):
        return False
    value = node.value
    if value is None:
        return True
    return isinstance(value, _SCALARS) and not (isinstance(value, float) and math.isnan(value))


def entry_for(rt: RuleRuntime) -> IndexEntry:
    """Where the index files a rule, and why (or why not)."""
    if not rt.cfg.when:
        return IndexEntry(None, (), "no `when`: every event of its kinds")
    found = [(f, v) for f, v in equalities(rt.cfg.when) if f != _NOT_INDEXED]
    if not found:
        return IndexEntry(None, (), "`when` has no `label == value` conjunct")
    if rt.mode in ("level", "change"):  # the label must be part of the alert identity
        usable = [(f, v) for f, v in found if all(f in rt.fields[k] for k in rt.kinds)]
        if not usable:
            names = ", ".join(sorted({f for f, _ in found}))
            return IndexEntry(None, (), f"{names} not in its identity (group_by)")
        found = usable
    field, values = min(found, key=lambda fv: _rank(fv[0]))
    shown = ", ".join(repr(v) for v in values)
    why = f"{field} in [{shown}]" if len(values) > 1 else f"{field} == {shown}"
    return IndexEntry(field, values, why)


def _rank(field: str) -> int:
    return PREFERRED.index(field) if field in PREFERRED else len(PREFERRED)


class Route:
    """The rules of one kind: those every event reaches, and those filed under label values."""

    __slots__ = ("always", "cache", "fields", "order", "single")

    def __init__(self, rules: list[RuleRuntime], entries: Mapping[str, IndexEntry]) -> None:
        order = {id(rt): i for i, rt in enumerate(rules)}
        self.always = tuple(rt for rt in rules if entries[rt.name].field is None)
        tables: dict[str, dict[Any, list[RuleRuntime]]] = {}
        for rt in rules:
            entry = entries[rt.name]
            if entry.field is not None:
                table = tables.setdefault(entry.field, {})
                for value in entry.values:
                    bucket = table.setdefault(value, [])
                    if rt not in bucket:
                        bucket.append(rt)
        # one field (the common case): each value maps straight to its merged tuple, in rule order
        self.fields = tuple(
            (f, {v: _merged(self.always, rts, order) for v, rts in t.items()})
            for f, t in tables.items()
        )
        self.single = self.fields[0] if len(self.fields) == 1 else None
        self.cache: dict[tuple[Any, ...], tuple[RuleRuntime, ...]] = {}
        self.order = order

    def match(self, data: Mapping[str, Any]) -> tuple[RuleRuntime, ...]:
        """The rules this event's fields can reach, in the engine's rule order."""
        single = self.single
        if single is not None:
            value = data.get(single[0])
            try:
                return single[1].get(value, self.always)
            except TypeError:  # unhashable: equal to no constant
                return self.always
        if not self.fields:
            return self.always
        return self._match_many(data)

    def _match_many(self, data: Mapping[str, Any]) -> tuple[RuleRuntime, ...]:
        hits = []
        for field, table in self.fields:
            value = data.get(field)
            try:
                hits.append(value if value in table else _MISS)
            except TypeError:
                hits.append(_MISS)
        key = tuple(hits)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._combine(key)
        return found

    def _combine(self, hits: tuple[Any, ...]) -> tuple[RuleRuntime, ...]:
        chosen: dict[int, RuleRuntime] = {id(rt): rt for rt in self.always}
        for (_, table), value in zip(self.fields, hits, strict=True):
            if value is not _MISS:
                chosen.update((id(rt), rt) for rt in table[value])  # merged: `always` again
        return tuple(sorted(chosen.values(), key=lambda rt: self.order[id(rt)]))


_MISS = object()


def _merged(
    always: tuple[RuleRuntime, ...], filed: Iterable[RuleRuntime], order: dict[int, int]
) -> tuple[RuleRuntime, ...]:
    both = {id(rt): rt for rt in (*always, *filed)}
    return tuple(sorted(both.values(), key=lambda rt: order[id(rt)]))


class RuleIndex:
    """Routes per event kind, built at load time (and lazily for kinds outside the vocabulary)."""

    def __init__(self, rules: list[RuleRuntime], *, indexed: bool = True) -> None:
        self.rules = rules
        self.indexed = indexed
        self.entries = {rt.name: entry_for(rt) if indexed else _OFF for rt in rules}
        self.routes: dict[str, Route] = {}

    def route(self, kind: str) -> Route:
        """The route of `kind` (built on first use)."""
        found = self.routes.get(kind)
        if found is None:
            rules = [rt for rt in self.rules if any(fnmatchcase(kind, p) for p in rt.cfg.on)]
            found = self.routes[kind] = Route(rules, self.entries)
        return found

    def without(self, rule: RuleRuntime) -> RuleIndex:
        """The same index less one rule (a disabled one)."""
        return RuleIndex([rt for rt in self.rules if rt is not rule], indexed=self.indexed)


_OFF = IndexEntry(None, (), "index off")
