"""The partition plan of a fluvius graph: which worker owns how many nodes.

``{kind: graph-partition, spec: FILE, workers: N, partitioner: NAME}`` loads a graph spec,
partitions it and gives ``{workers, partitioner, nodes, sources, cross_edges, per_worker:
[{worker, nodes, sources, first_key, last_key}]}``. The partitioner registry
(``fluvius.partition.partition_graph``) is used when this fluvius has it; otherwise only
``round_robin`` (the baseline every fluvius has) is available, and asking for another
partitioner is an error that says so.
"""

from __future__ import annotations

import importlib
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
from fluvius.partition import Partition, round_robin

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fluvius.graph.dag import Graph

__all__ = ["collect_partition", "partition_plan"]


def _partition(graph: Graph, workers: int, partitioner: str, ctx: CollectContext) -> Partition:
    registry = getattr(importlib.import_module("fluvius.partition"), "partition_graph", None)
    if registry is not None:
        try:
            result: Partition = registry(graph, workers, partitioner)
        except ValueError as exc:
            raise ConfigError(f"{ctx.where}: collector 'graph-partition': {exc}") from exc
        return result
    if partitioner not in ("round_robin", "auto"):
        raise ConfigError(
            f"{ctx.where}: collector 'graph-partition': partitioner {partitioner!r} is not "
            "available in this fluvius (only 'round_robin')"
        )
    return round_robin(graph, workers)


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
    partition = _partition(graph, workers, str(args.get("partitioner", "round_robin")), ctx)
    return Collected(partition_plan(graph, partition), SourceMap(ctx.where))
