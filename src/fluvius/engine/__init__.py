"""Evaluation semantics: compiled plans, run state, cycle transitions and the oracle."""

from __future__ import annotations

from fluvius.engine.compare import Comparison as Comparison
from fluvius.engine.compare import ValueDiff as ValueDiff
from fluvius.engine.compare import compare_values as compare_values
from fluvius.engine.plan import Plan as Plan
from fluvius.engine.reference import ReferenceEvaluator as ReferenceEvaluator
from fluvius.engine.state import CycleResult as CycleResult
from fluvius.engine.state import ErrorPolicy as ErrorPolicy
from fluvius.engine.state import RunState as RunState

__all__ = [
    "Comparison",
    "CycleResult",
    "ErrorPolicy",
    "Plan",
    "ReferenceEvaluator",
    "RunState",
    "ValueDiff",
    "compare_values",
]
