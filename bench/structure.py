"""The shape of the code: modules, lines, longest functions, import arrows between parts, cycles
and the places repeated pieces live. `python bench/structure.py [TREE]` measures this checkout or
another one (e.g. a `git worktree` of an older commit), so before and after use one script.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections import Counter
from pathlib import Path

if len(sys.argv) > 1:  # the tree to measure, read by tests/imports.py at import time
    os.environ["ALERTBOT_TREE"] = str(Path(sys.argv[1]).resolve())
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.imports import ROOT, cycles, imports, modules, part_of
from tests.test_architecture import LEVELS, TOP

# Before the core/ package existed, its pieces were top-level modules: measure them as core.
OLD_CORE = {"errors", "durations", "events", "yamlpos"}

# Each repeated piece the "House in order" issue names, as a pattern that finds one definition.
REPEATED = {
    "strict pydantic base model": (
        r'class \w+\((BaseModel)\):\n(?:\s+"""[^\n]*\n)?\s+'
        r'model_config = ConfigDict\(extra="forbid"'
    ),
    "validation error -> located message": r"for err in exc\.errors\(|def _from_pydantic",
    "secret masker": r"(?m)^def (mask|scrub|mask_url|redact)\w*\(",
    "Indexer channel caps": r'"v4_subaccounts": 256',
    "send guard (timeout around Notifier.send)": (
        r"asyncio\.timeout\([^)]*\):\n\s+(return|result =) "
        r"await \w+\.(notifier\.)?send\("
    ),
    "backoff class": r"class Backoff\b",
    "duration parser": r"def parse_duration\(",
}


def level(module: str) -> int:
    """The architecture test's layer of a module (the package root, the version only, is -1)."""
    part = part_of(module)
    if module == "alertbot":
        return -1
    return 0 if part in OLD_CORE else LEVELS.get(part, TOP)


def functions(path: Path) -> list[tuple[int, str]]:
    """(length in lines, qualified name) of every function in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            out.append((length, f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}"))
    return out


def main() -> None:
    """Print the figures."""
    mods = modules()
    lines = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in mods.values())
    print(f"modules: {len(mods)}  lines: {lines}")
    funcs = sorted((f for p in mods.values() for f in functions(p)), reverse=True)
    print(f"functions: {len(funcs)}, over 40 lines: {sum(1 for n, _ in funcs if n > 40)}")
    print("longest functions:")
    for length, name in funcs[:6]:
        print(f"  {length:>4}  {name}")
    edges = imports()
    arrows = Counter(
        (part_of(e.source), part_of(e.target))
        for e in edges
        if part_of(e.source) != part_of(e.target)
    )
    crossing = sum(arrows.values())
    print(f"import arrows between parts: {len(arrows)} (imports crossing parts: {crossing})")
    for (a, b), n in sorted(arrows.items()):
        print(f"  {a:>10} -> {b:<10} {n}")
    up = [e for e in edges if level(e.target) > level(e.source)]
    print(f"imports pointing up a layer (tests/test_architecture.py): {len(up)}")
    for e in up:
        print(f"  {e.source}:{e.line} -> {e.target}{' (typing only)' if e.typing_only else ''}")
    loops = cycles(edges)
    print(f"runtime import cycles: {len(loops)}")
    for group in loops:
        print("  " + " <-> ".join(group))
    print("modules each repeated piece lives in:")
    texts = {name: p.read_text(encoding="utf-8") for name, p in mods.items()}
    for piece, pattern in REPEATED.items():
        where = [n for n, t in texts.items() for _ in re.finditer(pattern, t)]
        places = sorted(set(where))
        print(f"  {len(places)} ({len(where)} definitions)  {piece}: {', '.join(places)}")


if __name__ == "__main__":
    main()
