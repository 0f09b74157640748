"""One worker's share of a session: what it holds, and the fast path of its cycles.

Built once per session from the :class:`Load` the parent sends (``make_share``), so the
per-share tables (owned steps, exported ranks, the start-up fast-path test) are computed
by every worker in parallel, never by the parent and never during a cycle.

Fields of :class:`Share` (the life cycle of one session in one worker)
    ``plan``      a :class:`WorkerPlan`: the whole graph's structure, the worker's own
                  callables; ``affected_steps`` lists owned nodes only
    ``state``     values and failures of owned nodes and of the inputs they read
    ``owned[r]``  whether rank ``r`` is this worker's
    ``exports``   owned rank -> the other workers owning one of its readers
    ``cache``     per set of changed sources (None: start-up): ``(fast, owned affected
                  ranks, exported ones among them)``
    ``unsynced``  owned ranks whose value the parent has not fetched
    ``pending``   messages of a cycle whose command has not arrived yet
    ``unsent``    owned ranks whose value could not be pickled for a reader on another
                  worker: their NodeError, reported to the parent as a failure (readers
                  on this worker keep the value and work on)
    ``spans``     trace spans not yet sent (tracing only)
    ``busy_s``, ``idle_s``, ``cpu_s``, ``computed``: figures over the session's cycles

Fast path (:func:`run_fast`): when no owned node affected by the cycle reads an affected
node of another worker, every input is known at the start, and the worker runs the
engine's sync loop (``compute_startup`` / ``compute_cycle``) over its share, then reports
how each exported node settled. The report needs "did it change?", which the sync loop
does not return; it is read off the state: a node computed this cycle (its mark is the
cycle's stamp) changed when it recovered, holds a new object, has no cutoff, or holds a
value unequal to itself (NaN is stored, not cut). Otherwise it kept its previous value.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.engine.cycle import compute_cycle, compute_startup, values_equal
from fluvius.engine.plan import CycleStep, Plan, Step
from fluvius.engine.state import RunState
from fluvius.errors import NodeError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fluvius.engine.state import ErrorPolicy
    from fluvius.graph.dag import Graph

__all__ = [
    "CHANGED",
    "FAILED",
    "UNCHANGED",
    "Entries",
    "Load",
    "Share",
    "WorkerPlan",
    "make_share",
    "pack_cause",
    "remote_placeholder",
    "run_fast",
]

log = logging.getLogger("fluvius.process")

UNCHANGED, CHANGED, FAILED = 0, 1, 2
"""Kinds of a settle entry ``(rank, kind, payload)``."""

Entries = dict[int, list[tuple[int, int, Any]]]
"""Destination worker -> settle entries for it."""


def remote_placeholder(*args: Any) -> Any:
    """Stands for a node owned by another worker; computing it here is a bug."""
    raise RuntimeError("a worker computed a node owned by another worker (fluvius bug)")


@dataclass(frozen=True, slots=True)
class Load:
    """What a worker receives once per session (pickled with cloudpickle)."""

    session: int
    worker: int
    graph: Graph
    owner: tuple[int, ...]
    policy: ErrorPolicy
    trace: bool
    freeze_gc: bool
    status_tick_s: float = 0.25  # how often the worker publishes what it runs (_worker.py)


class WorkerPlan(Plan):
    """A plan whose ``affected_steps`` keep only the owned nodes (``affected`` stays global)."""

    def __init__(self, graph: Graph, owned: Sequence[bool]) -> None:
        self.owned = owned
        self._owned_steps: dict[frozenset[int], list[CycleStep]] = {}
        super().__init__(graph)

    def affected_steps(self, changed: frozenset[int]) -> list[CycleStep]:
        found = self._owned_steps.get(changed)
        if found is None:
            owned = self.owned
            found = [s for s in super().affected_steps(changed) if owned[s[0]]]
            if len(self._owned_steps) < 1024:
                self._owned_steps[changed] = found
        return found


@dataclass(slots=True)
class Share:
    """One session's state in a worker (see the module docstring)."""

    load: Load
    plan: WorkerPlan
    state: RunState
    owned: list[bool]
    exports: dict[int, tuple[int, ...]]
    name: str
    startup_steps: list[Step]
    nodes: int
    cache: dict[frozenset[int] | None, tuple[bool, list[int], list[int]]] = field(
        default_factory=dict
    )
    unsynced: set[int] = field(default_factory=set)
    pending: list[tuple[Any, ...]] = field(default_factory=list)
    unsent: dict[int, NodeError] = field(default_factory=dict)
    index: int = -1
    busy_s: float = 0.0
    idle_s: float = 0.0
    cpu_s: float = 0.0
    computed: int = 0
    spans: list[tuple[Any, ...]] = field(default_factory=list)


def make_share(load: Load, wid: int) -> Share:
    """Build worker ``wid``'s share of a session and its tables (module docstring)."""
    owner = load.owner
    owned = [w == wid for w in owner]
    plan = WorkerPlan(load.graph, owned)
    exports: dict[int, tuple[int, ...]] = {}
    for r, kids in enumerate(plan.children):
        if owned[r] and kids:
            dests = sorted({owner[c] for c in kids} - {wid})
            if dests:
                exports[r] = tuple(dests)
    steps = [s for s in plan.node_steps if owned[s[0]]]
    name = f"worker-{wid}[pid {os.getpid()}]"
    share = Share(load, plan, RunState(plan.initial_values()), owned, exports, name, steps, 0)
    share.nodes = len(steps)
    mine = [s[0] for s in steps]
    is_source, inputs = plan.is_source, plan.inputs
    fast = not any(plan.is_async[r] for r in mine) and not any(
        not owned[j] and not is_source[j] for r in mine for j in inputs[r]
    )
    share.cache[None] = (fast, mine, [r for r in mine if r in exports])
    return share


def cycle_tables(share: Share, changed: frozenset[int] | None) -> tuple[bool, list[int], list[int]]:
    """``(fast, owned affected ranks, exported ones)`` of a cycle (cached per batch shape)."""
    found = share.cache.get(changed)
    if found is None:
        assert changed is not None  # start-up's entry is made with the share
        plan, owned, inputs = share.plan, share.owned, share.plan.inputs
        affected = plan.affected(changed)
        mine = [r for r in affected if owned[r]]
        inside = set(affected)
        fast = not any(plan.is_async[r] for r in mine) and not any(
            j in inside and not owned[j] for r in mine for j in inputs[r]
        )
        found = (fast, mine, [r for r in mine if r in share.exports])
        if len(share.cache) < 1024:
            share.cache[changed] = found
    return found


def pack_cause(exc: BaseException | None) -> BaseException | None:
    """The exception itself when it survives pickling, else None (the text is in the error)."""
    if exc is None:
        return None
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return None
    return exc


def run_fast(share: Share, changed: frozenset[int] | None) -> tuple[int, list[Any], Any, Entries]:
    """The fast path: ``(computed, errors, lowest failure or None, settles to send)``."""
    plan, state, policy = share.plan, share.state, share.load.policy
    exports = share.exports
    _, mine, exported = cycle_tables(share, changed)
    values, failed = state.values, state.failed
    before = {r: (values[r], r in failed) for r in exported} if changed is not None else {}
    stop = None
    errors: list[Any] = []
    try:
        if changed is None:
            n, errs = compute_startup(plan, state, share.startup_steps, policy, share.name)
        else:
            n, errs = compute_cycle(plan, state, changed, policy, share.name)
        errors = [(e, None) for e in errs]
        for e in errs:
            log.debug("node %s failed on %s", e.key, share.name, extra={"node": e.key})
    except NodeError as err:
        log.debug("node %s failed on %s", err.key, share.name, extra={"node": err.key})
        f = plan.graph.index[err.key]
        n = 0  # an aborted cycle reports its error, not a count
        stop = (f, err, pack_cause(err.__cause__))
    share.unsynced.update(mine)
    entries: Entries = {}
    marks, stamp = state.marks, state.cycles
    for r in exported:
        if stop is not None and r >= stop[0]:
            continue  # not computed: its readers are dropped by the stop
        entry: tuple[int, int, Any]
        if r in failed:
            entry = (r, FAILED, failed[r])
        elif changed is None:
            entry = (r, CHANGED, values[r])
        else:
            old, was_failed = before[r]
            new = values[r]
            moved = marks[r] == stamp and (
                was_failed or new is not old or not plan.cutoff[r] or not values_equal(old, old)
            )
            entry = (r, CHANGED, new) if moved else (r, UNCHANGED, None)
        for d in exports[r]:
            entries.setdefault(d, []).append(entry)
    return n, errors, stop, entries
