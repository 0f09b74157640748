"""The ticks a verdict predicts: one source alone and every source named like it.

Shared by the report (:mod:`fluvius.partition.report`), which predicts them, and the
profile (:mod:`fluvius.partition.profile`), which times them on the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fluvius.graph.dag import Graph

__all__ = ["tick_sources"]


def tick_sources(graph: Graph, tick_source: str | None = None) -> tuple[int, list[int]]:
    """(the single tick's source rank, the market-wide tick's source ranks).

    The single tick's source is ``tick_source`` when given, else the source whose tick
    reaches the most nodes among the 16 most-read ones (e.g. one underlying's spot); the
    market-wide tick is every source whose key ends like it (all the spots).
    """
    if tick_source is not None:
        if tick_source not in graph.index or graph.index[tick_source] not in graph.sources:
            raise ValueError(f"tick_source {tick_source!r} is not a source of the graph")
        one = graph.index[tick_source]
    else:
        # the most-read sources first: only the 16 with most readers are walked
        by_readers = sorted(graph.sources, key=lambda s: (-len(graph.children[s]), s))[:16]
        one = max(by_readers, key=lambda s: (len(graph.descendants(graph.keys[s])), -s))
    suffix = graph.keys[one].rsplit("/", 1)[-1]
    market = [s for s in graph.sources if graph.keys[s].rsplit("/", 1)[-1] == suffix]
    return one, market
