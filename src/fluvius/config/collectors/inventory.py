"""Inventories: CSV and YAML files of instruments, hosts, anything listed by hand.

CSV rows become mappings of column → text (empty cells are left out, so schema defaults
apply); the schema coerces the text to the declared types. Every cell keeps its line and
column name, so a bad strike is reported as ``universe.csv:7 (column 'strike')``.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any

from fluvius.config._marks import Location, SourceMap, load_yaml_file
from fluvius.config.collectors.base import (
    CollectContext,
    Collected,
    check_args,
    resolve_path,
)
from fluvius.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["collect_csv", "collect_yaml", "read_csv_rows"]


def read_csv_rows(path: Path, origin: str) -> Collected:
    """Read a CSV file with a header row into a list of row mappings and their marks."""
    rows: list[dict[str, str]] = []
    marks = SourceMap(Location(origin, 1))
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                raise ConfigError(f"{origin}:1: empty CSV; expected a header row")
            header = [h.strip() for h in header]
            dup = sorted({h for h in header if header.count(h) > 1})
            if dup or "" in header:
                what = f"duplicate column {dup[0]!r}" if dup else "an empty column name"
                raise ConfigError(f"{origin}:1: header has {what}")
            for cells in reader:
                line = reader.line_num
                if not cells or all(not c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    raise ConfigError(
                        f"{origin}:{line}: expected {len(header)} cells "
                        f"({', '.join(header)}), found {len(cells)}"
                    )
                i = len(rows)
                marks.add((i,), Location(origin, line))
                row = {}
                for name, cell in zip(header, cells, strict=True):
                    if cell.strip():
                        row[name] = cell.strip()
                        marks.add((i, name), Location(origin, line, name))
                rows.append(row)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{origin}: cannot read the CSV file: {exc}") from exc
    return Collected(rows, marks)


def collect_csv(args: Mapping[str, Any], ctx: CollectContext) -> Collected:
    """``{kind: csv, path: FILE}``: the rows of a CSV file with a header row."""
    check_args(args, ctx, "csv", required=("path",))
    return read_csv_rows(resolve_path(args["path"], ctx, "csv"), str(args["path"]))


def collect_yaml(args: Mapping[str, Any], ctx: CollectContext) -> Collected:
    """``{kind: yaml, path: FILE, key: a.b}``: a YAML document, or the part under ``key``."""
    check_args(args, ctx, "yaml", required=("path",), optional=("key",))
    path = resolve_path(args["path"], ctx, "yaml")
    data, marks = load_yaml_file(str(path), origin=str(args["path"]))
    below: tuple[str | int, ...] = ()
    for part in str(args.get("key", "") or "").split("."):
        if not part:
            continue
        if not isinstance(data, dict) or part not in data:
            raise ConfigError(
                f"{marks.find(below)}: no key {part!r} (collector key {args['key']!r})"
            )
        data = data[part]
        below = (*below, part)
    result = SourceMap(marks.find(below))
    result.graft((), marks, below)
    return Collected(data, result)
