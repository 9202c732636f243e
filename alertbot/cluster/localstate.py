"""A replica's local rule state is its own, also in the shared store.

Local identities (transport rules, counts across accounts, mixed kinds: `core/scope.py`) hold
what one replica saw. Saved under their plain key, every replica would write the same
`(rule, key)` row and a restart would load whichever replica wrote last: another replica's
firing `feed.stale`, another's count. So in a cluster they are saved under this replica's
name (key prefixed, scope `local:<replica>`) and only its own are read back at its start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from alertbot.core.scope import LOCAL
from alertbot.state.api import RuleStateChange, StateChanges

SEP = "\x1f"  # never inside a key: keys are JSON text, which escapes control characters


def local_scope(replica: str) -> str:
    """The stored scope of a replica's local rows."""
    return f"local:{replica}"


def qualified(scope: str) -> bool:
    """A local row already saved under its replica (by `own`)."""
    return scope.startswith("local:")


def own(changes: StateChanges, replica: str) -> StateChanges:
    """The changes with every local row keyed and scoped under this replica."""
    if not any(row.scope == LOCAL for row in changes.rules):
        return changes
    scope, prefix = local_scope(replica), f"{replica}{SEP}"
    rows = tuple(
        replace(row, key=prefix + row.key, scope=scope) if row.scope == LOCAL else row
        for row in changes.rules
    )
    return StateChanges(rows, changes.history)


def mine(rows: Iterable[RuleStateChange], replica: str) -> list[RuleStateChange]:
    """This replica's local rows with their keys as the engine wrote them.

    Rows of other replicas are left out; a row saved before keys were qualified (no SEP)
    passes, for the engine to sort by its scope.
    """
    prefix = f"{replica}{SEP}"
    out = []
    for row in rows:
        if row.key.startswith(prefix):
            out.append(replace(row, key=row.key[len(prefix) :], scope=LOCAL))
        elif SEP not in row.key:
            out.append(row)
    return out
