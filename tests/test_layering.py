"""Imports flow down: cli -> scheduling -> partition -> engine -> graph -> errors.

Walks every module of src/fluvius with ast and fails on an upward edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import fluvius

SRC = Path(fluvius.__file__).parent

# rank of each top-level part: a module may import parts of equal or lower rank only
RANKS = {
    "_lazy": 0,
    "_jsonable": 0,
    "_record": 0,
    "errors": 0,
    "feeds": 1,
    "graph": 1,
    "engine": 2,
    "nodes": 2,
    "workloads": 2,
    "observe": 3,
    "partition": 3,
    "config": 4,
    "scheduling": 4,
    "testing": 5,
    "live": 5,
    "cli": 6,
}


def _part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "fluvius" or len(parts) < 2:
        return None
    return parts[1]


def _edges() -> list[tuple[str, str, str]]:
    edges = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts == ("__init__.py",):
            continue  # the package root re-exports the user-facing API
        here = rel.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                there = _part(name)
                if there is not None:
                    edges.append((str(rel), here, there))
    return edges


def test_every_part_has_a_rank() -> None:
    parts = {
        p.name.removesuffix(".py")
        for p in SRC.iterdir()
        if not p.name.startswith("_") and (p.is_dir() or p.suffix == ".py")
    }
    parts.discard("py.typed")
    assert parts <= set(RANKS), f"give these parts a rank: {parts - set(RANKS)}"


def test_imports_flow_down() -> None:
    upward = [
        f"{where} imports fluvius.{there}"
        for where, here, there in _edges()
        if here != there and RANKS[there] > RANKS[here]
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_nothing_imports_cli() -> None:
    users = [where for where, here, there in _edges() if there == "cli" and here != "cli"]
    assert not users
