"""TICKS files: JSON Lines of source changes, one line per cycle.

Each non-empty line is a JSON object ``{source key: new value}``; the objects are applied in
file order, one cycle each. Blank lines (only white space) are skipped but still counted,
so error messages quote the line number an editor shows.

Design decisions
----------------
- :func:`iter_ticks` streams the file (one line in memory at a time) for long replays;
  :func:`read_ticks` is the list form for small files and tests.
- When a graph is given, every key is checked against it: a key that names a node (not a
  source) and an unknown key are told apart, with a did-you-mean hint for typos.
- Duplicate keys on one line are an error: JSON keeps the last silently, which would hide
  a bug in whatever wrote the file.
- An empty object ``{}`` is a valid line: a cycle that changes nothing.
- :func:`write_ticks` writes floats with ``repr`` (via :mod:`json`), so a replay sees
  bit-identical values.

>>> import pathlib, tempfile
>>> tmp = tempfile.TemporaryDirectory()
>>> path = pathlib.Path(tmp.name, "t.jsonl")
>>> write_ticks(path, [{"spot": 101.5}, {"spot": 101.25, "rate": 0.05}])
2
>>> read_ticks(path)
[{'spot': 101.5}, {'spot': 101.25, 'rate': 0.05}]
>>> tmp.cleanup()
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluvius.errors import SpecError
from fluvius.graph._json import DuplicateKeyInFileError, unique_pairs
from fluvius.graph.validate import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from os import PathLike

    from fluvius.graph.dag import Graph

__all__ = ["iter_ticks", "read_ticks", "write_ticks"]


class _KeyChecker:
    """Checks tick keys against the sources of a graph."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.sources = frozenset(graph.source_keys)

    def problem(self, key: str) -> str:
        if key in self.graph:
            return f"{key!r} is a node, not a source; ticks may only set sources"
        return f"unknown source {key!r}{did_you_mean(key, self.sources)}"


def iter_ticks(path: str | PathLike[str], graph: Graph | None = None) -> Iterator[dict[str, Any]]:
    """Yield the ticks of a JSON Lines file one cycle at a time.

    Parameters
    ----------
    path
        The TICKS file.
    graph
        When given, every key must name one of its sources.

    Raises :class:`~fluvius.errors.SpecError` naming the file and the line number.
    """
    origin = str(path)
    checker = _KeyChecker(graph) if graph is not None else None
    try:
        stream = Path(path).open(encoding="utf-8")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise SpecError(f"{origin}: cannot read the ticks file: {exc}") from exc
    with stream:
        lineno = 0
        try:
            for lineno, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                yield _parse_line(line, origin, lineno, checker)
        except UnicodeDecodeError as exc:
            raise SpecError(f"{origin}: line {lineno + 1}: not UTF-8 text: {exc}") from exc


def _parse_line(line: str, origin: str, lineno: int, checker: _KeyChecker | None) -> dict[str, Any]:
    where = f"{origin}: line {lineno}"
    try:
        tick = json.loads(line, object_pairs_hook=unique_pairs)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{where}, column {exc.colno}: invalid JSON: {exc.msg}") from exc
    except DuplicateKeyInFileError as exc:
        raise SpecError(f"{where}: {exc}") from exc
    if not isinstance(tick, dict):
        raise SpecError(
            f"{where}: expected a JSON object {{source key: value}}, got {type(tick).__name__}"
        )
    if checker is not None:
        sources = checker.sources
        for key in tick:
            if key not in sources:
                raise SpecError(f"{where}: {checker.problem(key)}")
    return tick


def read_ticks(path: str | PathLike[str], graph: Graph | None = None) -> list[dict[str, Any]]:
    """Read a whole TICKS file into a list of ``{source key: value}`` dicts (see iter_ticks)."""
    return list(iter_ticks(path, graph))


def write_ticks(path: str | PathLike[str], ticks: Iterable[Mapping[str, Any]]) -> int:
    """Write ticks as JSON Lines (one compact object per line); return the number written."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        for tick in ticks:
            out.write(json.dumps(dict(tick), separators=(",", ":"), ensure_ascii=False))
            out.write("\n")
            count += 1
    return count
