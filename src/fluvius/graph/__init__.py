"""Graph model: the builder API, keys, node specs, validation and the built Graph."""

from __future__ import annotations

from fluvius.graph.builder import GraphBuilder as GraphBuilder
from fluvius.graph.builder import Scope as Scope
from fluvius.graph.dag import Graph as Graph
from fluvius.graph.keys import make_key as make_key
from fluvius.graph.node import NodeRef as NodeRef
from fluvius.graph.node import NodeSpec as NodeSpec
from fluvius.graph.node import SourceSpec as SourceSpec
from fluvius.graph.node import Stateful as Stateful

__all__ = [
    "Graph",
    "GraphBuilder",
    "NodeRef",
    "NodeSpec",
    "Scope",
    "SourceSpec",
    "Stateful",
    "make_key",
]
