"""YAML and CSV read with their line numbers, so every error names file, line and field.

A :class:`SourceMap` maps a *path* into a document (a tuple of mapping keys and list
indices, the shape of pydantic's error ``loc``) to the :class:`Location` it was read from.
YAML locations come from the node marks of ``yaml.compose`` (the parser's own record of
where each node starts); CSV locations are the row's line and the column's name.

Looking up a path returns the location of its deepest recorded prefix, so an error about a
value that a model filled in (a default) still points at the nearest thing the user wrote.

>>> data, marks = load_yaml_text("a:\\n  b: [1, 2]\\n", "s.yaml")
>>> data
{'a': {'b': [1, 2]}}
>>> str(marks.find(("a", "b", 1)))
's.yaml:2:10'
>>> str(marks.find(("a", "zz")))
's.yaml:2:3'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from fluvius.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    _Loader = yaml.SafeLoader
else:
    _Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = ["Location", "SourceMap", "check_yaml_text", "load_yaml_file", "load_yaml_text"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value was read: file, 1-based line, and a 1-based column or a column name."""

    file: str
    line: int = 0
    column: int | str = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        if isinstance(self.column, str):
            return f"{self.file}:{self.line} (column {self.column!r})"
        return (
            f"{self.file}:{self.line}:{self.column}" if self.column else f"{self.file}:{self.line}"
        )


class SourceMap:
    """Path (keys and indices) → :class:`Location`; lookups fall back to the deepest prefix."""

    __slots__ = ("_by_path", "default")

    def __init__(self, default: Location, by_path: dict[Path_, Location] | None = None) -> None:
        self.default = default
        self._by_path: dict[Path_, Location] = dict(by_path or {})

    def add(self, path: Path_, location: Location) -> None:
        """Record where the value at ``path`` was read."""
        self._by_path[path] = location

    def graft(self, prefix: Path_, other: SourceMap, below: Path_ = ()) -> None:
        """Copy ``other``'s entries under ``below`` into this map, re-rooted at ``prefix``."""
        n = len(below)
        self._by_path.setdefault(prefix, other.find(below))
        for path, location in other.items():
            if path[:n] == below:
                self._by_path[prefix + path[n:]] = location

    def items(self) -> Iterator[tuple[Path_, Location]]:
        """Every recorded (path, location) pair."""
        return iter(self._by_path.items())

    def find(self, path: Path_) -> Location:
        """The location of ``path`` or of its deepest recorded prefix."""
        for end in range(len(path), -1, -1):
            found = self._by_path.get(tuple(path[:end]))
            if found is not None:
                return found
        return self.default


class _MarkedLoader(_Loader):
    """Safe loader that rejects duplicate keys (a silent overwrite hides a typo)."""


def _walk(node: yaml.Node, path: Path_, origin: str, marks: SourceMap) -> None:
    mark = node.start_mark
    marks.add(path, Location(origin, mark.line + 1, mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        seen: set[object] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key in seen:
                m = key_node.start_mark
                raise ConfigError(f"{origin}:{m.line + 1}:{m.column + 1}: duplicate key {key!r}")
            seen.add(key)
            if key is not None:
                _walk(value_node, (*path, key), origin, marks)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), origin, marks)


def load_yaml_text(text: str, origin: str) -> tuple[Any, SourceMap]:
    """Parse YAML ``text`` into plain data and the :class:`SourceMap` of its values."""
    marks = SourceMap(Location(origin))
    try:
        node = yaml.compose(text, Loader=_MarkedLoader)
        if node is None:
            return None, marks
        _walk(node, (), origin, marks)
        data = yaml.load(text, Loader=_MarkedLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = " ".join(str(exc.problem).split())
        raise ConfigError(f"{origin}{where}: invalid YAML: {problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: invalid YAML: {' '.join(str(exc).split())}") from exc
    return data, marks


def check_yaml_text(text: str, origin: str) -> None:
    """Raise ConfigError naming line and column when ``text`` is not valid YAML (any number
    of documents) or repeats a key in a mapping.

    Works on the parser's event stream (no node objects, no tag resolution): generated
    files are checked on every run and can be large.

    >>> check_yaml_text("a: 1\\nb: [1, {c: 2, c: 3}]\\n", "x.yaml")
    Traceback (most recent call last):
    ...
    fluvius.errors.ConfigError: x.yaml:2:15: duplicate key 'c'
    """
    # per open collection: its keys (None for a sequence) and whether a key comes next
    keys_stack: list[set[str] | None] = []
    key_next: list[bool] = []
    scalar, mapping_start, sequence_start = (
        yaml.ScalarEvent,
        yaml.MappingStartEvent,
        yaml.SequenceStartEvent,
    )
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    try:
        for event in yaml.parse(text, Loader=_MarkedLoader):
            cls = event.__class__
            if cls is scalar or cls is mapping_start or cls is sequence_start:
                if keys_stack and keys_stack[-1] is not None:  # a node inside a mapping
                    if key_next[-1] and cls is scalar:
                        keys = keys_stack[-1]
                        value: str = event.value  # type: ignore[attr-defined]
                        if value in keys:
                            m = event.start_mark
                            line, column = (m.line + 1, m.column + 1) if m else (0, 0)
                            raise ConfigError(f"{origin}:{line}:{column}: duplicate key {value!r}")
                        keys.add(value)
                    key_next[-1] = not key_next[-1]
                if cls is not scalar:
                    keys_stack.append(set() if cls is mapping_start else None)
                    key_next.append(True)
            elif cls in ends:
                keys_stack.pop()
                key_next.pop()
            elif cls is yaml.AliasEvent and keys_stack and keys_stack[-1] is not None:
                key_next[-1] = not key_next[-1]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise ConfigError(f"{origin}{where}: {' '.join(str(exc.problem).split())}") from exc


def load_yaml_file(path: str, *, origin: str | None = None) -> tuple[Any, SourceMap]:
    """Read and parse a YAML file (see :func:`load_yaml_text`); errors name the file."""
    name = origin or path
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{name}: cannot read the file: {exc}") from exc
    return load_yaml_text(text, name)
