"""YAML and CSV inputs keep their line numbers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fluvius.config._marks import Location, SourceMap, check_yaml_text, load_yaml_text
from fluvius.config.collectors.inventory import read_csv_rows
from fluvius.errors import ConfigError


def test_yaml_marks_point_at_each_value() -> None:
    text = "top:\n  items:\n    - a\n    - {b: 2}\n"
    data, marks = load_yaml_text(text, "f.yaml")
    assert data == {"top": {"items": ["a", {"b": 2}]}}
    assert marks.find(("top", "items", 0)) == Location("f.yaml", 3, 7)
    assert marks.find(("top", "items", 1, "b")) == Location("f.yaml", 4, 11)
    # an unrecorded path falls back to its deepest recorded prefix
    assert marks.find(("top", "items", 1, "missing", 3)) == Location("f.yaml", 4, 7)


def test_yaml_duplicate_key_names_line() -> None:
    with pytest.raises(ConfigError, match=r"^f\.yaml:3:1: duplicate key 'a'"):
        load_yaml_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    with pytest.raises(ConfigError, match=r"out\.yaml:3:3: duplicate key 'k'"):
        check_yaml_text("m:\n  k: 1\n  k: 2\n", "out.yaml")


def test_yaml_syntax_error_names_line() -> None:
    with pytest.raises(ConfigError, match=r"^f\.yaml:2:\d+: invalid YAML"):
        load_yaml_text("a: [1, 2\nb: 3\n", "f.yaml")


def test_graft_reroots_a_map() -> None:
    inner = SourceMap(Location("in.csv", 1), {(0, "x"): Location("in.csv", 2, "x")})
    outer = SourceMap(Location("spec.yaml"))
    outer.graft(("rows",), inner)
    assert outer.find(("rows", 0, "x")) == Location("in.csv", 2, "x")
    assert str(outer.find(("rows", 0, "x"))) == "in.csv:2 (column 'x')"


def test_csv_rows_keep_lines_and_skip_empty_cells(case: Callable[[dict[str, str]], Path]) -> None:
    folder = case({"u.csv": "a,b\n1,2\n\n3,\n"})
    collected = read_csv_rows(folder / "u.csv", "u.csv")
    assert collected.data == [{"a": "1", "b": "2"}, {"a": "3"}]
    assert str(collected.marks.find((1, "a"))) == "u.csv:4 (column 'a')"
    assert str(collected.marks.find((1, "b"))) == "u.csv:4"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", r"u\.csv:1: empty CSV"),
        ("a,a\n1,2\n", r"u\.csv:1: header has duplicate column 'a'"),
        ("a,b\n1,2\n1\n", r"u\.csv:3: expected 2 cells \(a, b\), found 1"),
    ],
)
def test_csv_errors_name_the_line(
    case: Callable[[dict[str, str]], Path], text: str, message: str
) -> None:
    folder = case({"u.csv": text})
    with pytest.raises(ConfigError, match=message):
        read_csv_rows(folder / "u.csv", "u.csv")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: a\nb: a\nc: [a, a]\n---\na: 1\n", None),  # values and other documents may repeat
        ("l:\n  - {k: 1}\n  - {k: 2}\n", None),  # each mapping has its own keys
        ("l:\n  - k: 1\n    j: 2\n    k: 3\n", r"o\.yaml:4:5: duplicate key 'k'"),
        ("? [x]\n: 1\nx: 2\nx: 3\n", r"o\.yaml:4:1: duplicate key 'x'"),  # a complex key
        ("a: [1\n", r"o\.yaml:2:1: "),
    ],
)
def test_check_yaml_text(text: str, message: str | None) -> None:
    if message is None:
        check_yaml_text(text, "o.yaml")
    else:
        with pytest.raises(ConfigError, match=message):
            check_yaml_text(text, "o.yaml")
