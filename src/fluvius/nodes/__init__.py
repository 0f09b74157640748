"""The node library: computations researchers put into graphs every day.

Layers: every subpackage (``stats``, ``anomaly``, ``models``, ``monitoring``, ``options``)
holds plain classes and functions that know nothing of graphs, share one vocabulary
(``update``/``get``, optionally ``revert`` and ``merge``; models ``learn_one`` /
``predict_one``), and work alone. Only :mod:`fluvius.nodes._adapt` imports
:mod:`fluvius.graph`; it turns library objects into nodes. Spec files reach the library by
op name through :data:`fluvius.graph.ops.LIBRARY_OPS`.
"""

from __future__ import annotations

from fluvius.nodes._adapt import Adapted as Adapted
from fluvius.nodes._adapt import add_stateful as add_stateful

__all__ = ["Adapted", "add_stateful"]
