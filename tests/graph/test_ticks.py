from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from fluvius import GraphBuilder, ReferenceEvaluator, run_graph
from fluvius.cli.app import app
from fluvius.errors import SpecError, UnknownSourceError
from fluvius.graph.spec import spec_to_graph
from fluvius.graph.ticks import iter_ticks, read_ticks, write_ticks

if TYPE_CHECKING:
    from fluvius.graph.dag import Graph


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # errors quote the path as given: keep it short


@pytest.fixture
def graph() -> Graph:
    return spec_to_graph(
        {
            "sources": {"U000/spot": 100.0, "U000/rate": 0.05},
            "nodes": {"U000/fwd": {"op": "mul", "inputs": ["U000/spot", "U000/rate"]}},
        }
    )


def write(text: str, name: str = "ticks.jsonl") -> Path:
    Path(name).write_text(text)
    return Path(name)


def test_one_line_is_one_cycle_and_blank_lines_are_skipped(graph: Graph) -> None:
    path = write('{"U000/spot": 101.5}\n\n  \n{"U000/spot": 0.1, "U000/rate": 0.06}\n{}\n')
    assert read_ticks(path, graph) == [
        {"U000/spot": 101.5},
        {"U000/spot": 0.1, "U000/rate": 0.06},
        {},
    ]
    assert list(iter_ticks(path)) == read_ticks(path)


def test_write_then_read_is_bit_identical() -> None:
    ticks = [{"a": 0.1 + 0.2}, {"a": -0.0, "b": 5e-324}, {"c": [1, 2.5]}, {"d": None}]
    assert write_ticks("t.jsonl", iter(ticks)) == 4
    back = read_ticks("t.jsonl")
    assert back == ticks
    assert repr(back[1]["a"]) == "-0.0"
    assert Path("t.jsonl").read_text().splitlines()[0] == '{"a":0.30000000000000004}'


def test_iter_ticks_is_lazy() -> None:
    path = write('{"a": 1}\n{"a": 2}\nnot json\n')
    stream = iter_ticks(path)
    assert next(stream) == {"a": 1}
    assert next(stream) == {"a": 2}
    with pytest.raises(SpecError, match=r"^ticks\.jsonl: line 3"):
        next(stream)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            '{"U000/spot": 1}\n{"U000/spot": }\n',
            r"^ticks\.jsonl: line 2, column 15: invalid JSON: Expecting value$",
        ),
        (
            "\n\n[1, 2]\n",
            r"^ticks\.jsonl: line 3: expected a JSON object \{source key: value\}, "
            r"got list$",
        ),
        ("3\n", r"^ticks\.jsonl: line 1: expected a JSON object .*, got int$"),
        (
            '{"U000/spot": 1}\n{"U000/spto": 2}\n',
            r"^ticks\.jsonl: line 2: unknown source 'U000/spto' \(did you mean 'U000/spot'\?\)$",
        ),
        ('{"zzz": 2}\n', r"^ticks\.jsonl: line 1: unknown source 'zzz'$"),
        (
            '{"U000/fwd": 2}\n',
            r"^ticks\.jsonl: line 1: 'U000/fwd' is a node, not a source; ticks may only set "
            r"sources$",
        ),
        (
            '{"U000/spot": 1, "U000/spot": 2}\n',
            r"^ticks\.jsonl: line 1: duplicate key 'U000/spot'$",
        ),
    ],
)
def test_errors_name_file_and_line(graph: Graph, text: str, match: str) -> None:
    with pytest.raises(SpecError, match=match) as info:
        read_ticks(write(text), graph)
    assert "\n" not in str(info.value)


def test_keys_are_not_checked_without_a_graph() -> None:
    assert read_ticks(write('{"anything": 1}\n')) == [{"anything": 1}]


def test_missing_file_and_bad_encoding() -> None:
    with pytest.raises(SpecError, match=r"^nope\.jsonl: cannot read the ticks file"):
        read_ticks("nope.jsonl")
    Path("latin.jsonl").write_bytes(b'{"a": 1}\n{"\xe9": 1}\n')
    with pytest.raises(SpecError, match=r"^latin\.jsonl: line \d+: not UTF-8 text"):
        read_ticks("latin.jsonl")


def test_a_mistyped_tick_key_gets_a_did_you_mean_everywhere(tmp_path: Path) -> None:
    """Issue 16: ``AAPL/spto`` names ``AAPL/spot`` in a ticks file, a batch and the oracle."""
    spec = tmp_path / "s.yaml"
    spec.write_text("sources: {AAPL/spot: 1.0}\nnodes:\n  AAPL/y: {op: neg, inputs: [AAPL/spot]}\n")
    ticks = tmp_path / "t.jsonl"
    ticks.write_text('{"AAPL/spto": 2.0}\n')
    result = CliRunner().invoke(app, ["run", str(spec), "--ticks", str(ticks)])
    assert result.exit_code == 1
    assert "unknown source 'AAPL/spto' (did you mean 'AAPL/spot'?)" in result.stderr
    g = GraphBuilder()
    g.node("AAPL/y", abs, g.source("AAPL/spot", 1.0))
    graph = g.build()
    hint = r"\(did you mean 'AAPL/spot'\?\)"
    with pytest.raises(UnknownSourceError, match=rf"cannot set 'AAPL/spto': .*{hint}"):
        run_graph(graph, [{"AAPL/spto": 2.0}])
    oracle = ReferenceEvaluator(graph)
    oracle.start()
    with pytest.raises(UnknownSourceError, match=rf"'AAPL/spto' is not a source.*{hint}"):
        oracle.cycle({"AAPL/spto": 2.0})
