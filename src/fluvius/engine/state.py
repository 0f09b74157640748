"""Run state and cycle results: plain data shared by every scheduler.

``RunState`` (one per run)
    ``values[r]``  the value of rank ``r``: a source's latest value, a node's latest good
                   value (``None`` before start-up).
    ``failed[r]``  present while rank ``r`` is failed under the isolate policy: the
                   NodeError that failed it (its own, or the root failure upstream).
    ``cycles``     number of cycles applied after start-up; also the current cycle's stamp.
    ``marks[r]``   scratch of the sync loop: equals ``cycles`` when an input of ``r`` changed
                   in the current cycle. Stamps never need clearing, even after an abort.

A failed node keeps its last good value in ``values`` but reports as failed; it recovers
the first time a later cycle computes it cleanly (its inputs are all good and it does not
raise). Recovery always propagates: the cutoff never applies to a node leaving the failed
state, because its dependents must recover too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from fluvius.errors import NodeError

__all__ = ["CycleResult", "ErrorPolicy", "RunState"]

ErrorPolicy = Literal["fail_fast", "isolate"]
ERROR_POLICIES: tuple[ErrorPolicy, ...] = ("fail_fast", "isolate")


def check_policy(policy: str) -> ErrorPolicy:
    """Return ``policy`` when valid, else raise ValueError naming the allowed ones."""
    if policy not in ERROR_POLICIES:
        raise ValueError(f"unknown error policy {policy!r}; expected one of {ERROR_POLICIES}")
    return policy


@dataclass(slots=True)
class RunState:
    """Mutable state of one run (see the module docstring)."""

    values: list[Any]
    failed: dict[int, NodeError] = field(default_factory=dict)
    cycles: int = 0
    marks: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CycleResult:
    """What one cycle did. ``index`` 0 is start-up (full evaluation).

    ``recomputed`` counts node computations run, failed ones included; ``errors`` holds the
    failures raised during this cycle (isolate policy; fail-fast raises instead).
    """

    index: int
    recomputed: int
    seconds: float
    errors: tuple[NodeError, ...] = ()
