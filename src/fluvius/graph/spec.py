"""Graph spec files (YAML or JSON): load, validate, build into a Graph, and write.

A spec is a mapping with ``sources`` (key → initial value), ``nodes`` (key → ``op``,
``inputs``, optional ``params`` mapping) and an optional free-form ``meta`` mapping, which
is kept as read (the workload exporter records its parameters there). ``inputs`` is a
list of keys (values passed in order) or a mapping argument name → key (values passed by
keyword); ``params`` are always keywords.
Op names resolve through :func:`fluvius.graph.ops.resolve_op`.

Design decisions
----------------
- The format is detected from the content, not the suffix: a document whose first
  non-space character is ``{`` is parsed as JSON (fast, and its errors are clearer);
  if that fails it is tried as YAML (a flow mapping), and when both fail the JSON error is
  reported. Everything else is YAML, read with ``CSafeLoader`` when libyaml is available.
- Duplicate keys are errors in both formats (JSON through ``object_pairs_hook``, YAML
  through a mapping constructor that also reports the line): silently keeping the last of
  two nodes with one key would build a different graph than the author wrote.
- The YAML loader also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``) and the dumper
  quotes strings that would read back as such floats, so files round-trip.
- Nodes and sources record the spec file (``origin``) as where they were created, so a
  node that fails at run time points at the file rather than at fluvius internals.
- Every error is a :class:`~fluvius.errors.SpecError` whose one-line message starts with
  the file name (``origin``) and names the node, source, or line and column. Errors of the
  builder (missing inputs, cycles, bad params) are re-raised with the file name prefixed,
  chained with ``from``.
- :func:`dump_spec` is deterministic: key order is preserved, JSON is indented, floats are
  written with ``repr`` so they read back bit-identical, and lists of scalars are written in
  YAML flow style (``[a, b]``) to keep 40,000-node specs readable.

>>> spec = {"sources": {"x": 1.0},
...         "nodes": {"y": {"op": "add", "inputs": ["x", "x"], "params": {"c": 0.5}}}}
>>> graph = spec_to_graph(spec)
>>> graph.node_keys, graph.spec("y").op
(('y',), 'add')
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fluvius.errors import BadParamsError, GraphError, SpecError
from fluvius.graph._gc import gc_paused
from fluvius.graph._json import DuplicateKeyInFileError, unique_pairs
from fluvius.graph.builder import GraphBuilder
from fluvius.graph.ops import resolve_op

if TYPE_CHECKING:
    from os import PathLike

    from fluvius.graph.dag import Graph

    _LoaderBase = yaml.SafeLoader
    _DumperBase = yaml.SafeDumper
else:
    _LoaderBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    _DumperBase = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

__all__ = ["dump_spec", "load_graph", "load_spec", "parse_spec_text", "spec_to_graph"]

_TOP_FIELDS = ("sources", "nodes", "meta")
_NODE_FIELDS = ("op", "inputs", "params")
_FLOAT_TAG = "tag:yaml.org,2002:float"
_EXP_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


# -- parsing ----------------------------------------------------------------------------------
class _SpecLoader(_LoaderBase):
    """Safe YAML loader that rejects duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # merged keys may be overridden on purpose
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable key: the base constructor reports it
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_SpecLoader.add_implicit_resolver(_FLOAT_TAG, _EXP_FLOAT, list("-+0123456789"))


class _SpecDumper(_DumperBase):
    """Safe YAML dumper: flow-style scalar lists, tuples as lists, round-trippable floats."""

    def represent_list(self, data: Any) -> yaml.SequenceNode:
        flow = all(isinstance(x, str | int | float | bool) or x is None for x in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", list(data), flow_style=flow)


_SpecDumper.add_representer(list, _SpecDumper.represent_list)
_SpecDumper.add_representer(tuple, _SpecDumper.represent_list)
_SpecDumper.add_implicit_resolver(_FLOAT_TAG, _EXP_FLOAT, list("-+0123456789"))


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _parse_json(text: str, origin: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=unique_pairs)
    except DuplicateKeyInFileError as exc:
        raise SpecError(f"{origin}: invalid JSON: {exc} in an object") from exc


def _parse_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.load(text, Loader=_SpecLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        context = f" ({_one_line(exc.context)})" if exc.context else ""
        raise SpecError(
            f"{origin}:{where} invalid YAML: {_one_line(exc.problem)}{context}"
        ) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"{origin}: invalid YAML: {_one_line(exc)}") from exc


def parse_spec_text(text: str, origin: str = "<spec>") -> dict[str, Any]:
    """Parse spec text (JSON or YAML, detected from the content) into a dict.

    >>> parse_spec_text('{"sources": {"x": 1}, "nodes": {}}')
    {'sources': {'x': 1}, 'nodes': {}}
    >>> parse_spec_text("sources: {x: 1e-3}")
    {'sources': {'x': 0.001}}
    >>> parse_spec_text("a: 1\\na: 2", "s.yaml")
    Traceback (most recent call last):
    ...
    fluvius.errors.SpecError: s.yaml: line 2, column 1: invalid YAML: duplicate key 'a'
    """
    if text.lstrip().startswith("{"):
        try:
            data = _parse_json(text, origin)
        except json.JSONDecodeError as json_exc:
            try:
                data = _parse_yaml(text, origin)
            except SpecError:
                raise SpecError(
                    f"{origin}: line {json_exc.lineno}, column {json_exc.colno}: "
                    f"invalid JSON: {json_exc.msg}"
                ) from json_exc
    else:
        data = _parse_yaml(text, origin)
    if data is None:
        raise SpecError(f"{origin}: empty spec; expected a mapping with 'sources' and 'nodes'")
    if not isinstance(data, dict):
        raise SpecError(
            f"{origin}: a spec must be a mapping with 'sources' and 'nodes', "
            f"got {type(data).__name__}"
        )
    return data


def load_spec(path: str | PathLike[str]) -> dict[str, Any]:
    """Read a YAML or JSON spec file into a dict (structure is checked by the graph build)."""
    origin = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{origin}: cannot read the spec file: {_one_line(exc)}") from exc
    return parse_spec_text(text, origin)


# -- building -------------------------------------------------------------------------------
def _mapping(value: Any, origin: str, what: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError(f"{origin}: {what} must be a mapping, got {type(value).__name__}")
    return value


def _valid_key(key: Any, origin: str, what: str) -> str:
    if not isinstance(key, str):
        raise SpecError(
            f"{origin}: {what} key {key!r} is a {type(key).__name__}, not a string "
            "(quote it in YAML)"
        )
    return key  # its syntax is checked once, by the builder (see _spec_to_graph)


def _check_fields(mapping: Mapping[Any, Any], allowed: tuple[str, ...], problem: str) -> None:
    """Raise SpecError ``"<problem> 'x' (did you mean 'y'?); allowed: ..."`` for a stray field."""
    for field in mapping:
        if field not in allowed:
            close = difflib.get_close_matches(str(field), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SpecError(f"{problem} {field!r}{hint}; allowed: {', '.join(allowed)}")


def _node_fields(
    key: str, entry: Any, origin: str
) -> tuple[str, list[str] | dict[str, str], Mapping[str, Any]]:
    where = f"{origin}: node {key!r}"
    if not isinstance(entry, Mapping):
        raise SpecError(
            f"{where}: expected a mapping with 'op' and 'inputs', got {type(entry).__name__}"
        )
    _check_fields(entry, _NODE_FIELDS, f"{where}: unknown field")
    if "op" not in entry:
        raise SpecError(f"{where}: missing 'op' (a built-in op name or 'package.module:function')")
    op = entry["op"]
    if not isinstance(op, str) or not op:
        raise SpecError(f"{where}: 'op' must be a non-empty string, got {op!r}")
    if "inputs" not in entry:
        raise SpecError(
            f"{where}: missing 'inputs' (a list of input keys, or a mapping argument name -> "
            "key; [] for none)"
        )
    inputs = entry["inputs"]
    if isinstance(inputs, Mapping):
        for name, target in inputs.items():
            if not isinstance(name, str):
                raise SpecError(f"{where}: input name {name!r} is not a string")
            if not isinstance(target, str):
                raise SpecError(f"{where}: input {name!r} is {target!r}, not a string key")
        inputs = dict(inputs)
    elif isinstance(inputs, list):
        for name in inputs:
            if not isinstance(name, str):
                raise SpecError(f"{where}: input {name!r} is not a string key")
    else:
        raise SpecError(
            f"{where}: 'inputs' must be a list of keys or a mapping argument name -> key, "
            f"got {inputs!r}"
        )
    params = entry.get("params")
    if params is None:
        params = {}
    elif not isinstance(params, Mapping):
        raise SpecError(f"{where}: 'params' must be a mapping, got {params!r}")
    for name in params:
        if not isinstance(name, str):
            raise SpecError(f"{where}: param name {name!r} is not a string")
    return op, inputs, params


def spec_to_graph(spec: Mapping[str, Any], *, origin: str = "<spec>") -> Graph:
    """Validate a spec dict and build its :class:`~fluvius.graph.Graph`.

    Raises :class:`~fluvius.errors.SpecError` naming ``origin`` and the node at fault.
    """
    with gc_paused():
        return _spec_to_graph(spec, origin)


def _spec_to_graph(spec: Mapping[str, Any], origin: str) -> Graph:
    if not isinstance(spec, Mapping):
        raise SpecError(f"{origin}: a spec must be a mapping, got {type(spec).__name__}")
    _check_fields(spec, _TOP_FIELDS, f"{origin}: unknown top-level field")
    sources = _mapping(spec.get("sources"), origin, "'sources'")
    nodes = _mapping(spec.get("nodes"), origin, "'nodes'")
    _mapping(spec.get("meta"), origin, "'meta'")
    builder = GraphBuilder()
    for key, value in sources.items():
        try:
            builder.source(_valid_key(key, origin, "source"), value, created_at=origin)
        except (GraphError, ValueError) as exc:  # a bad key or a duplicate
            raise SpecError(f"{origin}: source {key!r}: {exc}") from exc
    for key, entry in nodes.items():
        key = _valid_key(key, origin, "node")
        if key in sources:
            raise SpecError(f"{origin}: node {key!r}: the key is also a source")
        op, inputs, params = _node_fields(key, entry, origin)
        by_name = isinstance(inputs, dict)
        try:
            fn, bound = resolve_op(op, len(inputs), params, by_keyword=by_name)
        except BadParamsError as exc:
            raise SpecError(f"{origin}: node {key!r}: {exc}") from exc
        try:
            if isinstance(inputs, dict):
                builder.node(key, fn, inputs=inputs, params=bound, op=op, created_at=origin)
            else:
                builder.node(key, fn, *inputs, params=bound, op=op, created_at=origin)
        except GraphError as exc:  # the builder's message names the node
            raise SpecError(f"{origin}: {exc}") from exc
        except ValueError as exc:  # the key's syntax (keys.check_key)
            raise SpecError(f"{origin}: node {key!r}: {exc}") from exc
    try:
        return builder.build()
    except GraphError as exc:
        raise SpecError(f"{origin}: {exc}") from exc


def load_graph(path: str | PathLike[str]) -> Graph:
    """Read a spec file and build its graph (errors name the file)."""
    return spec_to_graph(load_spec(path), origin=str(path))


# -- writing --------------------------------------------------------------------------------
def dump_spec(spec: Mapping[str, Any], path: str | PathLike[str]) -> None:
    """Write ``spec`` as JSON (``.json``) or YAML (``.yaml``, ``.yml``), deterministically.

    >>> import pathlib, tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> out = pathlib.Path(tmp.name, "g.yaml")
    >>> dump_spec({"sources": {"x": 0.1}, "nodes": {"y": {"op": "neg", "inputs": ["x"]}}}, out)
    >>> print(out.read_text(), end="")
    sources:
      x: 0.1
    nodes:
      y:
        op: neg
        inputs: [x]
    >>> load_spec(out)["sources"]["x"] == 0.1
    True
    >>> tmp.cleanup()
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".json":
        text = json.dumps(spec, indent=2, ensure_ascii=False) + "\n"
    elif suffix in (".yaml", ".yml"):
        text = yaml.dump(spec, Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=100)
    else:
        raise SpecError(f"{path}: cannot tell the format from {suffix!r}; use .json, .yaml or .yml")
    target.write_text(text, encoding="utf-8")
