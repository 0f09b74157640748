"""fluvius: incremental computation graphs for live trading analytics.

Layers, from the bottom: ``graph`` (builder, keys, validation, spec files) <- ``engine``
(evaluation semantics, the oracle) <- ``scheduling`` (serial asyncio; more to come) <-
``cli``. ``fluvius.testing`` holds the conformance suite every scheduler passes.

The names below are imported on first use (PEP 562 ``__getattr__``), so ``import fluvius``
(and every ``fluvius.<subpackage>`` import, which runs this file first) costs nothing: the
feed handler and the command line load only what they use. ``from fluvius import Graph``
works as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fluvius._lazy import lazy_exports

if TYPE_CHECKING:
    from fluvius.engine.compare import compare_values as compare_values
    from fluvius.engine.reference import ReferenceEvaluator as ReferenceEvaluator
    from fluvius.engine.state import CycleResult as CycleResult
    from fluvius.errors import FluviusError as FluviusError
    from fluvius.errors import GraphError as GraphError
    from fluvius.errors import NodeError as NodeError
    from fluvius.graph import Graph as Graph
    from fluvius.graph import GraphBuilder as GraphBuilder
    from fluvius.graph import NodeRef as NodeRef
    from fluvius.graph import make_key as make_key
    from fluvius.scheduling import DaskScheduler as DaskScheduler
    from fluvius.scheduling import ProcessScheduler as ProcessScheduler
    from fluvius.scheduling import RunReport as RunReport
    from fluvius.scheduling import SerialScheduler as SerialScheduler
    from fluvius.scheduling import run_graph as run_graph
    from fluvius.scheduling import run_live as run_live

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "CycleResult": "fluvius.engine.state",
    "DaskScheduler": "fluvius.scheduling",
    "FluviusError": "fluvius.errors",
    "Graph": "fluvius.graph",
    "GraphBuilder": "fluvius.graph",
    "GraphError": "fluvius.errors",
    "NodeError": "fluvius.errors",
    "NodeRef": "fluvius.graph",
    "ProcessScheduler": "fluvius.scheduling",
    "ReferenceEvaluator": "fluvius.engine.reference",
    "RunReport": "fluvius.scheduling",
    "SerialScheduler": "fluvius.scheduling",
    "compare_values": "fluvius.engine.compare",
    "make_key": "fluvius.graph",
    "run_graph": "fluvius.scheduling",
    "run_live": "fluvius.scheduling",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "CycleResult",
    "DaskScheduler",
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
    "compare_values",
    "make_key",
    "run_graph",
    "run_live",
]
