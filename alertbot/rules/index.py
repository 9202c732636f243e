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
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from alertbot.rules.expr import Expression, compile_expression, compile_tree
from alertbot.rules.runtime import RuleRuntime

# Most selective first: when a condition has several equalities, the rule is filed under one.
PREFERRED = ("address", "ticker", "market", "order_id", "client_id", "id", "subaccount")
_SCALARS = (str, int, float, bool)
MAX_KEYS = 256  # value combinations one rule is filed under (`a in [...] and b in [...]`)
_NOT_INDEXED = "conn"  # key_of falls back to Event.conn for it: not the same as the field


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """A rule is filed under `fields` equal to one of `keys` (value tuples), or nowhere (())."""

    fields: tuple[str, ...]
    keys: tuple[tuple[Any, ...], ...]
    why: str  # in words, for `alertbot check --explain`
    rest: Expression | None = None  # what of `when` a filed rule still evaluates (`residual`)


def equalities(source: str) -> list[tuple[str, tuple[Any, ...]]]:
    """`(field, allowed values)` of each top-level `and` conjunct that is a label equality."""
    return [match for _, match in _filable(_conjuncts(source))]


def _conjuncts(source: str) -> list[ast.expr]:
    body = compile_expression(source).tree.body
    if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And):
        return list(body.values)
    return [body]


def _filable(conjuncts: list[ast.expr]) -> list[tuple[int, tuple[str, tuple[Any, ...]]]]:
    """The label equalities among the conjuncts, with their positions."""
    found = []
    for i, node in enumerate(conjuncts):
        match = _equality(node)
        if match is not None:
            found.append((i, match))
    return found


def residual(source: str, fields: tuple[str, ...]) -> Expression | None:
    """`when` less the conjuncts a route filed under `fields` already guarantees (None: all).

    An event reaches the rule only if its value of each filed field equals one of the values
    of that field's first equality, so that conjunct is true (a None constant stays: a missing
    field reads None from the index but is a NameError in the expression). `a and b` is as true
    as `b` when `a` is true, and the conjuncts left keep their order, so what is left raises
    and holds exactly as the whole does for every event the route lets through.
    """
    conjuncts = _conjuncts(source)
    done: set[int] = set()
    taken: set[str] = set()
    for i, (field, values) in _filable(conjuncts):
        if field in fields and values and field not in taken:  # the one entry_for filed
            taken.add(field)
            if None not in values:
                done.add(i)
    if not done:
        return compile_expression(source)
    rest = [node for i, node in enumerate(conjuncts) if i not in done]
    if not rest:
        return None
    node = rest[0] if len(rest) == 1 else ast.BoolOp(op=ast.And(), values=rest)
    return compile_tree(ast.fix_missing_locations(ast.Expression(body=node)))


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
    """Where the index files a rule (every usable equality together), and why (or why not)."""
    if not rt.cfg.when:
        return IndexEntry((), (), "no `when`")
    found: dict[str, tuple[Any, ...]] = {}
    for field, values in equalities(rt.cfg.when):
        if field != _NOT_INDEXED and values:
            found.setdefault(field, values)  # a second equality on it only narrows further
    if not found:
        return IndexEntry((), (), "`when` has no `label == value` conjunct")
    if rt.mode in ("level", "change"):  # the label must be part of the alert identity
        usable = {f: v for f, v in found.items() if all(f in rt.fields[k] for k in rt.kinds)}
        if not usable:
            return IndexEntry((), (), f"{', '.join(sorted(found))} not in its identity (group_by)")
        found = usable
    fields = sorted(found, key=_rank)
    while math.prod(len(found[f]) for f in fields) > MAX_KEYS:
        fields.remove(max(fields, key=lambda f: len(found[f])))
    keys = tuple(itertools.product(*(found[f] for f in fields)))
    why = " and ".join(
        f"{f} == {found[f][0]!r}" if len(found[f]) == 1 else f"{f} in {list(found[f])!r}"
        for f in fields
    )
    return IndexEntry(tuple(fields), keys, why, residual(rt.cfg.when, tuple(fields)))


def _rank(field: str) -> tuple[int, str]:
    return (PREFERRED.index(field) if field in PREFERRED else len(PREFERRED), field)


class Route:
    """The rules of one kind: those every event reaches, and those filed under label values."""

    __slots__ = ("always", "cache", "order", "single", "tables")

    def __init__(self, rules: list[RuleRuntime], entries: Mapping[str, IndexEntry]) -> None:
        self.order = {id(rt): i for i, rt in enumerate(rules)}
        self.always = tuple(rt for rt in rules if not entries[rt.name].fields)
        tables: dict[tuple[str, ...], dict[Any, list[RuleRuntime]]] = {}
        for rt in rules:
            entry = entries[rt.name]
            if entry.fields:
                table = tables.setdefault(entry.fields, {})
                for key in entry.keys:
                    bucket = table.setdefault(key[0] if len(key) == 1 else key, [])
                    if rt not in bucket:
                        bucket.append(rt)
        # each key maps straight to its merged tuple (with `always`), in rule order
        self.tables = tuple(
            (fields, {k: self._merged(rts) for k, rts in table.items()})
            for fields, table in tables.items()
        )
        self.single = self.tables[0] if len(self.tables) == 1 else None
        self.cache: dict[tuple[Any, ...], tuple[RuleRuntime, ...]] = {}

    def _merged(self, rules: Iterable[RuleRuntime]) -> tuple[RuleRuntime, ...]:
        both = {id(rt): rt for rt in (*self.always, *rules)}
        return tuple(sorted(both.values(), key=lambda rt: self.order[id(rt)]))

    def match(self, data: Mapping[str, Any]) -> tuple[RuleRuntime, ...]:
        """The rules this event's fields can reach, in the engine's rule order."""
        single = self.single
        if single is not None:
            fields, table = single
            try:
                if len(fields) == 1:
                    return table.get(data.get(fields[0]), self.always)
                return table.get(tuple([data.get(f) for f in fields]), self.always)
            except TypeError:  # unhashable: equal to no constant
                return self.always
        if not self.tables:
            return self.always
        return self._match_many(data)

    def _match_many(self, data: Mapping[str, Any]) -> tuple[RuleRuntime, ...]:
        hits: list[Any] = []
        for fields, table in self.tables:
            key = data.get(fields[0]) if len(fields) == 1 else tuple([data.get(f) for f in fields])
            try:
                hits.append(key if key in table else _MISS)
            except TypeError:
                hits.append(_MISS)
        found = self.cache.get(tuple(hits))
        if found is None:
            chosen: list[RuleRuntime] = list(self.always)
            for (_, table), key in zip(self.tables, hits, strict=True):
                if key is not _MISS:
                    chosen.extend(table[key])
            found = self.cache[tuple(hits)] = self._merged(chosen)
        return found


_MISS = object()


class RuleIndex:
    """Routes per event kind, built at load time (and lazily for kinds outside the vocabulary)."""

    def __init__(self, rules: list[RuleRuntime], *, indexed: bool = True) -> None:
        self.rules = rules
        self.indexed = indexed
        self.entries = {rt.name: entry_for(rt) if indexed else _OFF for rt in rules}
        self.routes: dict[str, Route] = {}
        for rt in rules:
            entry = self.entries[rt.name]
            if entry.fields:  # the route checks the filed equalities: the rule need not
                rt.narrow(entry.rest)

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


_OFF = IndexEntry((), (), "index off")


def explain(index: RuleIndex) -> list[str]:
    """`alertbot check --explain`: per rule, the labels it is filed under, or why every event."""
    filed = sum(1 for rt in index.rules if index.entries[rt.name].fields)
    out = [
        f"index: {filed} of {len(index.rules)} rule(s) filed under label values "
        "(an event reaches only the rules its labels match)"
    ]
    width = max((len(rt.name) for rt in index.rules), default=0)
    for rt in index.rules:
        entry, kinds = index.entries[rt.name], ", ".join(rt.cfg.on)
        how = f"indexed on {entry.why}" if entry.fields else f"every event ({entry.why})"
        out.append(f"  {rt.name:<{width}}  {kinds}: {how}")
    return out
