"""The partition plan of a fluvius graph: which worker owns how many nodes.

``{kind: graph-partition, spec: FILE, workers: N, partitioner: NAME}`` loads a graph spec,
partitions it and gives ``{workers, partitioner, nodes, sources, cross_edges,
predicted_startup_s, per_worker: [{worker, nodes, sources, first_key, last_key}]}``.

Without ``partitioner`` (or with ``auto``) the plan takes the partitioner the partition
report predicts fastest: :func:`fluvius.partition.report.partition_report` simulates the
start-up of every available partitioner at ``N`` workers, one core each (as on a cluster),
and the fastest wins, ties going to the earlier, simpler one. The predictions use the
documented default machine figures (:class:`fluvius.partition.Calibration`), not this
machine's stored calibration, so the same inputs give the same plan everywhere;
``predicted_startup_s`` records each one. A named partitioner is used as given, and its
own prediction recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fluvius.config._marks import SourceMap
from fluvius.config.collectors.base import (
    CollectContext,
    Collected,
    check_args,
    resolve_path,
)
from fluvius.errors import ConfigError, SpecError
from fluvius.graph.spec import load_graph
from fluvius.partition import Calibration, estimate_costs, partition_graph
from fluvius.partition.report import partition_report

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fluvius.graph.dag import Graph
    from fluvius.partition import Partition

__all__ = ["collect_partition", "partition_plan"]


def _best_predicted(
    graph: Graph, workers: int, partitioner: str, ctx: CollectContext
) -> tuple[Partition, dict[str, float]]:
    """The plan's partition and the predicted start-up seconds of each candidate."""
    calibration = Calibration()  # the documented defaults: a plan must not depend on the host
    chosen = "round_robin" if partitioner == "auto" else partitioner  # auto: every candidate
    try:
        report = partition_report(
            graph, workers, chosen, calibration=calibration, scaling=(workers,)
        )
    except (ValueError, ImportError) as exc:  # an unknown name; metis without pymetis
        raise ConfigError(f"{ctx.where}: collector 'graph-partition': {exc}") from exc
    predicted = {name: row[workers] for name, row in report.predictions.items() if workers in row}
    if partitioner == "auto":
        # the fastest prediction; min keeps the first (simplest) of equal ones
        chosen = min(predicted, key=lambda name: predicted[name])
    costs = estimate_costs(graph, calibration)
    return partition_graph(graph, workers, chosen, costs), predicted


def partition_plan(graph: Graph, partition: Partition) -> dict[str, Any]:
    """Summarise ``partition`` of ``graph`` as plain data (per-worker counts and key range)."""
    keys = [item.key for item in graph.items]
    sources = frozenset(graph.sources)
    per_worker = []
    for worker in range(partition.workers):
        ranks = partition.items_of(worker)
        node_ranks = [r for r in ranks if r not in sources]
        per_worker.append(
            {
                "worker": worker,
                "nodes": len(node_ranks),
                "sources": len(ranks) - len(node_ranks),
                "first_key": keys[node_ranks[0]] if node_ranks else None,
                "last_key": keys[node_ranks[-1]] if node_ranks else None,
            }
        )
    return {
        "workers": partition.workers,
        "partitioner": partition.partitioner,
        "nodes": len(keys) - len(sources),
        "sources": len(sources),
        "cross_edges": len(partition.cross_edges(graph)),
        "per_worker": per_worker,
    }


def _round(seconds: float) -> float:
    """Six significant figures: predictions are estimates, and shorter text diffs better."""
    return float(f"{seconds:.6g}")


def collect_partition(args: Mapping[str, Any], ctx: CollectContext) -> Collected:
    """``{kind: graph-partition, spec: FILE, workers: N, partitioner: NAME}``."""
    kind = "graph-partition"
    check_args(args, ctx, kind, required=("spec", "workers"), optional=("partitioner",))
    workers = args["workers"]
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(
            f"{ctx.where}: collector {kind!r}: workers must be an int >= 1, got {workers!r}"
        )
    path = resolve_path(args["spec"], ctx, kind)
    try:
        graph = load_graph(path)
    except SpecError as exc:
        raise ConfigError(f"{ctx.where}: collector {kind!r}: {exc}") from exc
    partition, predicted = _best_predicted(
        graph, workers, str(args.get("partitioner", "auto")), ctx
    )
    plan = partition_plan(graph, partition)
    plan["predicted_startup_s"] = {name: _round(s) for name, s in predicted.items()}
    return Collected(plan, SourceMap(ctx.where))
