"""fluvius: incremental computation graphs for live trading analytics.

Layers, from the bottom: ``graph`` (builder, keys, validation, spec files) <- ``engine``
(evaluation semantics, the oracle) <- ``scheduling`` (serial asyncio; more to come) <-
``cli``. ``fluvius.testing`` holds the conformance suite every scheduler passes.
"""

from __future__ import annotations

from fluvius.engine.reference import ReferenceEvaluator as ReferenceEvaluator
from fluvius.engine.state import CycleResult as CycleResult
from fluvius.errors import FluviusError as FluviusError
from fluvius.errors import GraphError as GraphError
from fluvius.errors import NodeError as NodeError
from fluvius.graph import Graph as Graph
from fluvius.graph import GraphBuilder as GraphBuilder
from fluvius.graph import NodeRef as NodeRef
from fluvius.graph import make_key as make_key
from fluvius.scheduling import ProcessScheduler as ProcessScheduler
from fluvius.scheduling import RunReport as RunReport
from fluvius.scheduling import SerialScheduler as SerialScheduler
from fluvius.scheduling import run_graph as run_graph
from fluvius.scheduling import run_live as run_live

__version__ = "0.1.0"

__all__ = [
    "CycleResult",
    "FluviusError",
    "Graph",
    "GraphBuilder",
    "GraphError",
    "NodeError",
    "NodeRef",
    "ProcessScheduler",
    "ReferenceEvaluator",
    "RunReport",
    "SerialScheduler",
    "__version__",
    "make_key",
    "run_graph",
    "run_live",
]
