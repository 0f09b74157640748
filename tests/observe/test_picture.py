"""Graph pictures: collapse() counts, DOT/Mermaid text, Graph.to_dot, ``fluvius graph``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.errors import FluviusError
from fluvius.graph import GraphBuilder
from fluvius.graph.spec import dump_spec, spec_to_graph
from fluvius.observe.picture import Box, Edge, collapse, dot_text, mermaid_text, render_svg
from fluvius.workloads import export_workload

if TYPE_CHECKING:
    from fluvius.graph import Graph


def _two_underlyings() -> Graph:
    g = GraphBuilder()
    for und in ("AAPL", "MSFT"):
        s = g.scope(und)
        spot = s.source("spot", 100.0)
        fwd = s.node("fwd", lambda x: x * 1.01, spot)
        s.node("half", lambda x, y: x / 2 + y, spot, fwd)
    g.node("total", lambda a, b, c: a + b + c, "AAPL/fwd", "MSFT/fwd", "MSFT/half")
    return g.build()


def test_collapse_counts_nodes_sources_and_edges_per_scope() -> None:
    picture = collapse(_two_underlyings())
    assert picture.boxes == (
        Box("AAPL", 2, 1),
        Box("MSFT", 2, 1),
        Box("total", 1, 0, single=True),
    )
    assert picture.edges == (Edge("AAPL", "total", 1), Edge("MSFT", "total", 2))


def test_scope_shows_its_keys_and_the_neighbours_outside() -> None:
    picture = collapse(_two_underlyings(), "MSFT", depth=None)
    names = [(b.name, b.outside, b.single) for b in picture.boxes]
    assert names == [
        ("MSFT/spot", False, True),
        ("MSFT/fwd", False, True),
        ("MSFT/half", False, True),
        ("total", True, True),
    ]
    assert Edge("MSFT/fwd", "total", 1) in picture.edges
    assert all("AAPL" not in e.src + e.dst for e in picture.edges)


def test_unknown_scope_suggests_close_prefixes() -> None:
    with pytest.raises(ValueError, match=r"scope 'MSFX'.*did you mean 'MSFT'"):
        collapse(_two_underlyings(), "MSFX")
    with pytest.raises(ValueError, match="depth must be None or an int >= 1"):
        collapse(_two_underlyings(), depth=0)


def test_overhead_workload_collapses_to_one_box_per_underlying() -> None:
    spec = export_workload("overhead", {"underlyings": "3"})
    graph = spec_to_graph(spec)
    picture = collapse(graph)
    unds = [b for b in picture.boxes if b.name != "total"]
    assert len(unds) == 3
    assert sum(b.nodes for b in picture.boxes) == len(graph)
    assert sum(b.sources for b in picture.boxes) == len(graph.source_keys)
    assert {(e.src, e.dst, e.count) for e in picture.edges} == {(b.name, "total", 1) for b in unds}
    # the edge counts of a scope add up to the graph's edges that cross its boundary
    inner = collapse(graph, unds[0].name, depth=1)
    crossing = sum(e.count for e in inner.edges if e.dst == "total")
    assert crossing == 1


def test_dot_and_mermaid_text_name_every_box_and_edge() -> None:
    graph = _two_underlyings()
    dot = graph.to_dot()
    assert dot.startswith("digraph fluvius {")
    assert dot.endswith("}")
    assert '"MSFT" -> "total" [label="2"];' in dot
    assert '"AAPL" [label="AAPL\\n2 nodes, 1 source", shape=box];' in dot
    mermaid = graph.to_mermaid()
    assert mermaid.splitlines()[0] == "flowchart LR"
    assert "b1 -->|2| b2" in mermaid
    assert graph.to_dot("AAPL", collapse=False) == dot_text(collapse(graph, "AAPL", depth=None))
    assert graph.to_mermaid(collapse=False) == mermaid_text(collapse(graph, depth=None))


def test_keys_with_quotes_are_escaped() -> None:
    g = GraphBuilder()
    g.node('a"b', lambda x: x, g.source("s", 1.0))
    assert '"a\\"b"' in g.build().to_dot(collapse=False)
    assert "a#quot;b" in g.build().to_mermaid(collapse=False)


def test_render_svg_without_graphviz_says_what_to_do() -> None:
    with pytest.raises(FluviusError, match=r"install Graphviz.*--format dot\|mermaid"):
        render_svg("digraph {}", dot_binary="no-such-dot-binary-here")


def test_render_svg_with_graphviz() -> None:
    if shutil.which("dot") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but Graphviz's dot is not installed")
        pytest.skip("Graphviz's dot is not installed (the missing case is tested above)")
    svg = render_svg(_two_underlyings().to_dot())
    assert "<svg" in svg
    assert "MSFT" in svg


def _spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "overhead.json"
    dump_spec(export_workload("overhead", {"underlyings": "2"}), path)
    return path


def test_cli_graph_writes_the_picture_to_stdout(tmp_path: Path) -> None:
    spec = _spec_file(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["graph", str(spec), "--format", "mermaid"])
    assert result.exit_code == 0, result.output
    graph = spec_to_graph(export_workload("overhead", {"underlyings": "2"}))
    assert result.stdout == mermaid_text(collapse(graph)) + "\n"
    scoped = runner.invoke(app, ["graph", str(spec), "--scope", "U001", "--collapse"])
    assert scoped.exit_code == 0, scoped.output
    assert scoped.stdout == dot_text(collapse(graph, "U001")) + "\n"
    one_by_one = runner.invoke(app, ["graph", str(spec), "--scope", "U001"])
    assert one_by_one.stdout == dot_text(collapse(graph, "U001", depth=None)) + "\n"


def test_cli_graph_errors(tmp_path: Path) -> None:
    spec = _spec_file(tmp_path)
    runner = CliRunner()
    bad = runner.invoke(app, ["graph", str(spec), "--format", "png"])
    assert bad.exit_code == 2, bad.output
    assert "unknown format 'png'" in bad.stderr
    scope = runner.invoke(app, ["graph", str(spec), "--scope", "U00"])
    assert scope.exit_code == 1, scope.output
    assert "did you mean" in scope.stderr


def test_cli_graph_svg_without_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(app, ["graph", str(_spec_file(tmp_path)), "--format", "svg"])
    assert result.exit_code == 1, result.output
    assert "install Graphviz" in result.stderr
    assert result.stdout == ""


def _dashboard_scopes(graph: Graph) -> dict[str, int]:
    from fluvius.live.graphview import collapse as dashboard_collapse
    from fluvius.live.graphview import scope_function as dashboard_scopes

    view = dashboard_collapse(graph, dashboard_scopes(graph.keys))
    return {s["id"]: s["nodes"] for s in view["scopes"]}


def test_options_workload_draws_one_box_per_underlying_like_the_dashboard(
    tmp_path: Path,
) -> None:
    """Keys ``iv/U000/…`` beside ``U000/spot``: one box per underlying (and ``risk``), not one
    per kind (``mid``, ``iv``, …), in ``fluvius graph`` as on the dashboard."""
    spec = export_workload("options", {"underlyings": "3", "strikes": "4", "expiries": "2"})
    graph = spec_to_graph(spec)
    picture = collapse(graph)
    boxes = {b.name: b.nodes + b.sources for b in picture.boxes}
    assert set(boxes) == {"U000", "U001", "U002", "risk"}
    assert boxes == _dashboard_scopes(graph)
    assert sum(boxes.values()) == len(graph.keys)
    # one underlying: its own keys and the kind-first keys that name it, none of another's
    inside = collapse(graph, "U001")
    names = [b.name for b in inside.boxes if not b.outside]
    assert "U001/spot" in names
    assert any(n.startswith("iv/U001/") for n in names)
    assert not any("U000" in n or "U002" in n for n in names)
    assert {b.name for b in inside.boxes if b.outside} == {"risk"}
    path = tmp_path / "options.json"
    dump_spec(spec, path)
    out = CliRunner().invoke(app, ["graph", str(path), "--format", "mermaid"])
    assert out.exit_code == 0, out.output
    assert "U002<br/>" in out.output
    assert '"iv<br/>' not in out.output


def test_iex_pipeline_spec_draws_one_box_per_symbol_like_the_dashboard() -> None:
    from fluvius.graph.spec import load_graph

    examples = Path(__file__).resolve().parents[2] / "examples" / "specs"
    graph = load_graph(examples / "iex_pipeline.yaml")
    symbols = {k.split("/")[1] for k in graph.source_keys if k.startswith("mid/")}
    boxes = {b.name: b.nodes + b.sources for b in collapse(graph).boxes}
    assert symbols <= set(boxes)
    assert boxes == _dashboard_scopes(graph)
    assert sum(boxes.values()) == len(graph.keys)


def test_feed_kinds_are_the_adapter_source_kinds() -> None:
    from fluvius.feeds.adapter import SOURCE_KINDS
    from fluvius.observe.picture import FEED_KINDS

    assert FEED_KINDS == SOURCE_KINDS
