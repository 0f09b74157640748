"""The cost model: how many seconds each node of a graph takes to compute.

Partitioners and the simulator work on a tuple ``costs`` indexed by rank (the graph's
topological index): ``costs[rank]`` is the compute time, in seconds, of that item at
start-up. Sources cost nothing (they are given, not computed).

Costs come from one of two places:

* **Estimates** (:func:`estimate_costs`): every node costs the calibrated per-node
  overhead of the serial scheduler (``Calibration.node_s``), and a ``spin`` node costs in
  addition its param ``n`` times the calibrated seconds per spin iteration
  (``Calibration.spin_iter_s``). Good for the built-in ops; blind to user callables,
  which all look alike.
* **A profiling run** (``fluvius profile SPEC --out costs.json``, :mod:`.profile`): each
  node timed serially, written as a JSON object ``{node key: seconds}`` and read back by
  :func:`load_costs`, which checks that the file names exactly the graph's nodes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluvius.errors import SpecError
from fluvius.graph._json import DuplicateKeyInFileError, unique_pairs
from fluvius.graph.node import NodeSpec
from fluvius.partition.calibrate import Calibration, default_calibration

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from os import PathLike

    from fluvius.graph.dag import Graph

__all__ = [
    "check_costs",
    "critical_path_s",
    "dump_costs",
    "estimate_costs",
    "load_costs",
    "lower_bound",
]


def _spin_n(spec: NodeSpec) -> int:
    if spec.op != "spin":
        return 0
    # a spec file's op object keeps its params (bound methods of the op object carry it)
    op = getattr(spec.fn, "__self__", spec.fn)
    n = spec.params.get("n", getattr(op, "n", 0))
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0


def estimate_costs(graph: Graph, calibration: Calibration | None = None) -> tuple[float, ...]:
    """Estimated start-up compute seconds of every item, by rank.

    Parameters
    ----------
    graph
        The graph.
    calibration
        The machine figures to use; default: :func:`default_calibration` (the stored
        calibration of this machine when there is one, else the documented defaults).

    Examples
    --------
    >>> from fluvius import GraphBuilder
    >>> from fluvius.partition import Calibration
    >>> b = GraphBuilder()
    >>> x = b.source("x", 1.0)
    >>> _ = b.node("y", lambda v: v, x)
    >>> estimate_costs(b.build(), Calibration(node_s=1e-6))
    (0.0, 1e-06)
    """
    cal = calibration or default_calibration()
    node_s, spin_s = cal.node_s, cal.spin_iter_s
    return tuple(
        (node_s + _spin_n(item) * spin_s if item.op == "spin" else node_s)
        if isinstance(item, NodeSpec)
        else 0.0
        for item in graph.items
    )


def check_costs(graph: Graph, costs: Sequence[float], origin: str = "costs") -> tuple[float, ...]:
    """Return ``costs`` as a tuple after checking its length and values (finite, >= 0)."""
    if len(costs) != len(graph.items):
        raise ValueError(
            f"{origin}: expected one cost per graph item ({len(graph.items)}), got {len(costs)}"
        )
    out = tuple(float(c) for c in costs)
    for rank, c in enumerate(out):
        if not math.isfinite(c) or c < 0:
            raise ValueError(
                f"{origin}: the cost of {graph.keys[rank]!r} must be a finite number of "
                f"seconds >= 0, got {c!r}"
            )
    return out


def load_costs(path: str | PathLike[str], graph: Graph) -> tuple[float, ...]:
    """Read a costs file (JSON ``{node key: seconds}``) into costs by rank.

    The file must name every node of ``graph`` and nothing else; sources may be listed
    (their cost is ignored: sources are not computed) or left out.

    Raises
    ------
    SpecError
        The file cannot be read or parsed, names a key the graph does not have, leaves a
        node out, or gives a cost that is not a finite number of seconds >= 0; the
        message names the file and the key.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from fluvius import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.source("x", 1.0)
    >>> _ = b.node("y", lambda v: v, x)
    >>> path = os.path.join(tempfile.mkdtemp(), "costs.json")
    >>> with open(path, "w") as f:
    ...     json.dump({"y": 0.002}, f)
    >>> load_costs(path, b.build())
    (0.0, 0.002)
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{where}: cannot read the costs file: {exc.strerror or exc}") from exc
    try:
        data: Any = json.loads(text, object_pairs_hook=unique_pairs)
    except DuplicateKeyInFileError as exc:
        raise SpecError(f"{where}: the costs file names {exc.key!r} twice") from exc
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"{where}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); expected an "
            "object {node key: seconds}"
        ) from exc
    if not isinstance(data, dict):
        raise SpecError(
            f"{where}: expected a JSON object {{node key: seconds}}, found {type(data).__name__}"
        )
    return _costs_from_mapping(data, graph, where)


def _costs_from_mapping(data: Mapping[str, Any], graph: Graph, where: str) -> tuple[float, ...]:
    costs = [0.0] * len(graph.items)
    index = graph.index
    sources = frozenset(graph.sources)
    for key, value in data.items():
        rank = index.get(key)
        if rank is None:
            raise SpecError(
                f"{where}: the costs file names {key!r}, which is not a node of the graph "
                "(profile the same spec again: fluvius profile SPEC --out FILE)"
            )
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            raise SpecError(
                f"{where}: the cost of {key!r} must be a finite number of seconds >= 0, "
                f"found {value!r}"
            )
        if rank not in sources:
            costs[rank] = float(value)
    missing = [
        graph.keys[r]
        for r in range(len(graph.items))
        if r not in sources and graph.keys[r] not in data
    ]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise SpecError(
            f"{where}: the costs file has no cost for node {missing[0]!r}{more} "
            "(profile the same spec again: fluvius profile SPEC --out FILE)"
        )
    return tuple(costs)


def dump_costs(graph: Graph, costs: Sequence[float], path: str | PathLike[str]) -> None:
    """Write node costs as a JSON object ``{node key: seconds}`` (rank order, sources left out)."""
    sources = frozenset(graph.sources)
    data = {graph.keys[r]: costs[r] for r in range(len(graph.items)) if r not in sources}
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def critical_path_s(graph: Graph, costs: Sequence[float]) -> float:
    """Seconds of the costliest path through the graph (no communication counted)."""
    finish = [0.0] * len(graph.items)
    for r, ins in enumerate(graph.inputs):
        finish[r] = costs[r] + max((finish[i] for i in ins), default=0.0)
    return max(finish, default=0.0)


def lower_bound(graph: Graph, costs: Sequence[float], workers: int) -> float:
    """No start-up on ``workers`` workers can be faster: max(critical path, total / workers).

    >>> from fluvius import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.source("x", 1.0)
    >>> a = b.node("a", lambda v: v, x)
    >>> _ = b.node("b", lambda v: v, a)
    >>> _ = b.node("c", lambda v: v, x)
    >>> g = b.build()
    >>> lower_bound(g, [0.0, 1.0, 1.0, 1.0], 1), lower_bound(g, [0.0, 1.0, 1.0, 1.0], 8)
    (3.0, 2.0)
    """
    return max(critical_path_s(graph, costs), sum(costs) / workers)
