"""Test helpers for fluvius users and for fluvius itself.

``strategies`` (Hypothesis strategies for random graphs and tick batches), ``GraphBench``
(step a session from synchronous code), ``SchedulerSuite`` (the conformance tests every
scheduler subclasses) and ``compare_values`` (two runs' values, NaN-aware; also
``fluvius.compare_values``). ``SchedulerSuite`` needs pytest, a development dependency, so it is
imported on first use rather than with this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fluvius.engine.compare import compare_values as compare_values
from fluvius.testing import strategies as strategies
from fluvius.testing.bench import GraphBench as GraphBench

if TYPE_CHECKING:
    from fluvius.testing.suite import SchedulerSuite as SchedulerSuite

__all__ = ["GraphBench", "SchedulerSuite", "compare_values", "strategies"]


def __getattr__(name: str) -> Any:
    if name == "SchedulerSuite":
        from fluvius.testing.suite import SchedulerSuite

        return SchedulerSuite
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
