"""The package's import graph, read from source with `ast` (shared by the architecture test and
bench/structure.py, which measures it)."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "alertbot"
ROOT = Path(os.environ.get("ALERTBOT_TREE", Path(__file__).resolve().parent.parent)) / PACKAGE


@dataclass(frozen=True, slots=True)
class Import:
    """One `import` or `from ... import` of an alertbot module by an alertbot module."""

    source: str  # importing module, dotted
    target: str  # imported module, dotted (the deepest module that exists)
    line: int
    typing_only: bool  # under `if TYPE_CHECKING:` (no runtime arrow, still a design arrow)


def module_name(path: Path) -> str:
    """`alertbot/rules/engine.py` -> `alertbot.rules.engine` (packages drop `__init__`)."""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _typing_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def imports() -> list[Import]:
    """Every import between alertbot modules, with its line and whether it is typing-only."""
    known = modules()
    out: list[Import] = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_lines = _typing_lines(tree)
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name if is_pkg else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                targets = [f"{base}.{a.name}" for a in node.names] or [base]
            for target in targets:
                if not target.startswith(PACKAGE):
                    continue
                resolved = _resolve(target, known)
                if resolved and resolved != name:
                    line = node.lineno
                    out.append(Import(name, resolved, line, line in typing_lines))
    return out


def part_of(module: str) -> str:
    """The architectural part a module belongs to: its subpackage, or the top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected groups of more than one module over runtime imports (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.typing_only:
            graph.setdefault(e.source, set()).add(e.target)
            graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)
