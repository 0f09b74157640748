from __future__ import annotations

import json
import math
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

from fluvius.errors import BadParamsError, CycleError, MissingInputError, SpecError
from fluvius.graph.spec import dump_spec, load_graph, load_spec, parse_spec_text, spec_to_graph


def small_spec() -> dict[str, Any]:
    return {
        "meta": {"note": "free-form", "n": 1},
        "sources": {"spot": 100.0, "rate": 0.05},
        "nodes": {
            "fwd": {"op": "mul", "inputs": ["spot", "rate"], "params": {"c": 1.5}},
            "out/total": {"op": "add", "inputs": ["fwd", "spot"]},
            "neg": {"op": "neg", "inputs": ["out/total"], "params": {}},
        },
    }


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # errors quote the path as given: keep it short


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return Path(name)


# -- round trips ----------------------------------------------------------------------------
TRICKY_FLOATS = [0.1, 1e16, -0.0, 5e-324, 1e-05, 1.7976931348623157e308, 2.5e-7, 123456789.125]


@pytest.mark.parametrize("suffix", [".json", ".yaml", ".yml"])
def test_round_trip_keeps_order_values_and_meta(tmp_path: Path, suffix: str) -> None:
    spec = small_spec()
    spec["meta"]["floats"] = TRICKY_FLOATS
    spec["meta"]["strings"] = ["1e3", "yes", "null", "0x10", "1.0", "", "a: b"]
    spec["meta"]["specials"] = [math.inf, -math.inf]
    path = tmp_path / f"g{suffix}"
    dump_spec(spec, path)
    loaded = load_spec(path)
    assert loaded == spec
    assert list(loaded["nodes"]) == ["fwd", "out/total", "neg"]
    assert [repr(x) for x in loaded["meta"]["floats"]] == [repr(x) for x in TRICKY_FLOATS]
    first = path.read_bytes()
    dump_spec(loaded, path)
    assert path.read_bytes() == first  # deterministic


def test_nan_round_trips(tmp_path: Path) -> None:
    for name in ("n.json", "n.yaml"):
        dump_spec({"sources": {"x": math.nan}, "nodes": {}}, tmp_path / name)
        assert math.isnan(load_spec(tmp_path / name)["sources"]["x"])


def test_load_graph_builds_and_records_ops(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    dump_spec(small_spec(), path)
    graph = load_graph(path)
    assert graph.node_keys == ("fwd", "out/total", "neg")
    assert graph.spec("neg").created_at == str(path)
    assert graph.source_keys == ("spot", "rate")
    assert graph.spec("fwd").op == "mul"
    fwd = graph.spec("fwd").fn
    assert fwd(100.0, 0.05) == 100.0 * 0.05 * 1.5
    assert graph.descendants("rate") == ("fwd", "out/total", "neg")


def test_graph_built_from_a_spec_pickles() -> None:
    graph = spec_to_graph(small_spec())
    items = pickle.loads(pickle.dumps(graph.items))
    assert [it.key for it in items] == list(graph.keys)
    assert items[2].fn(100.0, 0.05) == graph.items[2].fn(100.0, 0.05)


def test_format_is_detected_from_content(tmp_path: Path) -> None:
    as_json = write(tmp_path, "spec.yaml", json.dumps(small_spec()))
    as_yaml = write(tmp_path, "spec.json", "sources:\n  x: 1e-3\nnodes: {}\n")
    flow = write(tmp_path, "flow.yaml", "{sources: {x: 1}, nodes: {}}")
    assert load_spec(as_json) == small_spec()
    assert load_spec(as_yaml) == {"sources": {"x": 0.001}, "nodes": {}}
    assert load_spec(flow) == {"sources": {"x": 1}, "nodes": {}}


def test_handwritten_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "hand.yaml",
        """
sources:
  spot/AAPL: 100
nodes:
  twice/AAPL:
    op: scale
    inputs: [spot/AAPL]
    params: {factor: 2}
  hyp/AAPL:
    op: math:hypot
    inputs:
      - spot/AAPL
      - twice/AAPL
  mid/AAPL:
    op: add
    inputs: [spot/AAPL]
    params:
      c: -1e-3
""",
    )
    graph = load_graph(path)
    assert graph.spec("hyp/AAPL").fn(3.0, 4.0) == 5.0
    assert graph.spec("mid/AAPL").fn(1.0) == 1.0 + -0.001


def test_stateful_and_parametrised_dotted_ops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fluvius_test_spec_helper.py").write_text(
        "class Count:\n"
        "    def __init__(self, step=1):\n"
        "        self.n, self.step = 0, step\n"
        "    def update(self, x):\n"
        "        self.n += self.step\n"
        "    def get(self):\n"
        "        return self.n\n"
        "def shift(x, *, by):\n"
        "    return x + by\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fluvius_test_spec_helper", raising=False)
    spec = {
        "sources": {"x": 1.0},
        "nodes": {
            "count": {
                "op": "fluvius_test_spec_helper:Count",
                "inputs": ["x"],
                "params": {"step": 2},
            },
            "shifted": {
                "op": "fluvius_test_spec_helper:shift",
                "inputs": ["x"],
                "params": {"by": 0.5},
            },
        },
    }
    graph = spec_to_graph(spec)
    assert graph.spec("count").kind == "stateful"
    assert graph.spec("count").fn.step == 2
    assert graph.spec("shifted").params == {"by": 0.5}


# -- errors: every message names the file and the node or line -----------------------------
NODE = "  a/b:\n    op: add\n    inputs: [x]\n"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: ad, inputs: [x]}\n",
            r"^spec\.yaml: node 'a/b': unknown op 'ad' \(did you mean 'add'\?\)$",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {inputs: [x]}\n",
            r"^spec\.yaml: node 'a/b': missing 'op'",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: add}\n",
            r"^spec\.yaml: node 'a/b': missing 'inputs'",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: add, inputs: x}\n",
            r"^spec\.yaml: node 'a/b': 'inputs' must be a list of keys or a mapping "
            r"argument name -> key, got 'x'$",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: add, inputs: [x, 3]}\n",
            r"^spec\.yaml: node 'a/b': input 3 is not a string key$",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: add, inputs: [x], params: [1]}\n",
            r"^spec\.yaml: node 'a/b': 'params' must be a mapping, got \[1\]$",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: add, inputs: [x], params: {c: abc}}\n",
            r"^spec\.yaml: node 'a/b': op 'add': param 'c' must be a real number, got 'abc'",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: add, inputs: [x], params: {k: 1}}\n",
            r"^spec\.yaml: node 'a/b': op 'add': unknown param 'k'",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: sub, inputs: [x]}\n",
            r"^spec\.yaml: node 'a/b': op 'sub' takes exactly 2 input\(s\), got 1$",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: add, input: [x]}\n",
            r"^spec\.yaml: node 'a/b': unknown field 'input' \(did you mean 'inputs'\?\)",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: add\n",
            r"^spec\.yaml: node 'a/b': expected a mapping with 'op' and 'inputs', got str$",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a/b: {op: 3, inputs: [x]}\n",
            r"^spec\.yaml: node 'a/b': 'op' must be a non-empty string, got 3$",
        ),
        (
            "sources: {x: 1}\nnodes:\n  a//b: {op: add, inputs: [x]}\n",
            r"^spec\.yaml: node 'a//b': invalid key 'a//b': empty part",
        ),
        (
            "sources: {x: 1}\nnodes:\n  yes: {op: add, inputs: [x]}\n",
            r"^spec\.yaml: node key True is a bool, not a string \(quote it in YAML\)$",
        ),
        (
            "sources: {x: 1}\nnodes:\n  x: {op: add, inputs: [x]}\n",
            r"^spec\.yaml: node 'x': the key is also a source$",
        ),
        (
            "sources: {x: 1}\nnode:\n" + NODE,
            r"^spec\.yaml: unknown top-level field 'node' \(did you mean 'nodes'\?\)",
        ),
        ("sources: [x]\n", r"^spec\.yaml: 'sources' must be a mapping, got list$"),
        ("sources: {}\nmeta: 3\n", r"^spec\.yaml: 'meta' must be a mapping, got int$"),
        ("", r"^spec\.yaml: empty spec; expected a mapping"),
        ("- 1\n- 2\n", r"^spec\.yaml: a spec must be a mapping .*, got list$"),
    ],
)
def test_spec_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(SpecError, match=match) as info:
        load_graph(write(tmp_path, "spec.yaml", text))
    assert "\n" not in str(info.value)


def test_bad_params_error_is_chained(tmp_path: Path) -> None:
    text = "sources: {x: 1}\nnodes:\n  a: {op: scale, inputs: [x]}\n"
    with pytest.raises(SpecError, match=r"node 'a': op 'scale': missing required param 'factor'"):
        load_graph(write(tmp_path, "spec.yaml", text))


def test_unknown_input_names_node_and_input(tmp_path: Path) -> None:
    text = "sources: {spot: 1}\nnodes:\n  a/b: {op: add, inputs: [spto]}\n"
    with pytest.raises(SpecError) as info:
        load_graph(write(tmp_path, "spec.yaml", text))
    assert str(info.value).startswith("spec.yaml: node 'a/b' reads input 'spto'")
    assert "did you mean 'spot'?" in str(info.value)
    assert isinstance(info.value.__cause__, MissingInputError)


def test_cycle_is_printed(tmp_path: Path) -> None:
    spec = {
        "sources": {"x": 1},
        "nodes": {
            "a": {"op": "add", "inputs": ["x", "b"]},
            "b": {"op": "neg", "inputs": ["a"]},
        },
    }
    cycle = r"^cyc\.json: the graph has a cycle: (a -> b -> a|b -> a -> b)$"
    with pytest.raises(SpecError, match=cycle) as info:
        spec_to_graph(spec, origin="cyc.json")
    assert isinstance(info.value.__cause__, CycleError)


def test_dotted_signature_mismatch_names_node(tmp_path: Path) -> None:
    text = "sources: {x: 1}\nnodes:\n  r: {op: 'math:sqrt', inputs: [x, x]}\n"
    with pytest.raises(SpecError, match=r"^spec\.yaml: node 'r': .*sqrt") as info:
        load_graph(write(tmp_path, "spec.yaml", text))
    assert isinstance(info.value.__cause__, BadParamsError)


def test_dotted_import_error_names_node(tmp_path: Path) -> None:
    text = "sources: {x: 1}\nnodes:\n  r: {op: 'nope_mod_q:f', inputs: [x]}\n"
    with pytest.raises(SpecError, match=r"^spec\.yaml: node 'r': op 'nope_mod_q:f': cannot import"):
        load_graph(write(tmp_path, "spec.yaml", text))


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        (
            "bad.yaml",
            "sources:\n  x: 1\n nodes: {}\n",
            r"^bad\.yaml: line 3, column 2: invalid YAML: ",
        ),
        ("bad.yaml", "sources: [1, 2\n", r"^bad\.yaml: line 2, column 1: invalid YAML: "),
        (
            "bad.json",
            '{"sources": {"x": 1},\n "nodes": {,}}',
            r"^bad\.json: line 2, column 12: invalid JSON: Expecting property name",
        ),
        (
            "dup.yaml",
            "sources:\n  x: 1\n  x: 2\n",
            r"^dup\.yaml: line 3, column 3: invalid YAML: duplicate key 'x'",
        ),
        (
            "dup.yaml",
            "sources: {}\nsources: {}\n",
            r"^dup\.yaml: line 2, column 1: invalid YAML: duplicate key 'sources'",
        ),
        (
            "dup.json",
            '{"sources": {"x": 1, "x": 2}, "nodes": {}}',
            r"^dup\.json: invalid JSON: duplicate key 'x' in an object$",
        ),
        ("tag.yaml", "x: !!python/name:os.system\n", r"^tag\.yaml: line 1, column 4: invalid YAML"),
    ],
)
def test_malformed_files_name_file_line_and_column(
    tmp_path: Path, name: str, text: str, match: str
) -> None:
    with pytest.raises(SpecError, match=match) as info:
        load_spec(write(tmp_path, name, text))
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is not None


def test_yaml_merge_keys_may_override(tmp_path: Path) -> None:
    text = "base: &b {op: add, inputs: [x]}\nother:\n  <<: *b\n  op: neg\n"
    assert parse_spec_text(text)["other"] == {"op": "neg", "inputs": ["x"]}


def test_missing_file_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"nope\.yaml: cannot read the spec file"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match=r"g\.txt: cannot tell the format from '\.txt'"):
        dump_spec(small_spec(), tmp_path / "g.txt")


def test_spec_to_graph_rejects_a_non_mapping() -> None:
    with pytest.raises(SpecError, match=r"^<spec>: a spec must be a mapping, got list$"):
        spec_to_graph([])  # type: ignore[arg-type]
