"""Evaluation semantics: the cycle transitions every scheduler shares.

Semantics (docs/concepts/semantics.md)
-----------------------------------------------
* Start-up computes every node once, in rank (topological) order.
* A cycle applies one batch of source changes. Every source in the batch counts as changed,
  even when its value is equal. A node is computed when at least one of its inputs changed
  in this cycle, at most once, after all of its inputs are settled (no glitches).
* Change cutoff: when a node with ``cutoff=True`` computes a value ``==`` to its previous
  one, it keeps the previous value and counts as unchanged (NaN never equals itself).
* Errors: under ``fail_fast`` the cycle stops and raises the NodeError of the lowest-ranked
  failing node, which is the failure a plain topological-order evaluation meets first;
  under ``isolate`` the failure is recorded, every dependent reached by it is marked failed
  without being computed, and the cycle goes on.

Two executions of these rules live here.

The sync loop (:func:`compute_cycle`) runs when no async node is affected. It walks the
cached, rank-ordered affected list of the batch (each entry carrying the node's call, input
getter, cutoff flag and readers) and computes a node only when a changed input stamped it
with the current cycle number; an unstamped node costs one integer comparison. Stamps
never need clearing, so a cycle costs O(affected nodes + their edges), never O(graph),
and an aborted cycle leaves nothing to clean up. Start-up (:func:`compute_startup`) is the
same loop without stamps or cutoff.

The event-driven transitions (:class:`CycleState`, :func:`start_cycle`, :func:`settle`,
:func:`finish_node`, :func:`fail_node`) are for executions where several computations run
at once (async nodes; worker processes). Each affected node waits for the number of its
inputs inside the cycle; when the last one settles it becomes *ready* if an input changed,
or settles as unchanged without running. Ready nodes leave in rank order (a heap), which
makes the order of sync work deterministic. Under fail-fast, after a failure at rank ``f``
nothing ranked above ``f`` starts, but lower-ranked work is allowed to finish: if it fails
too, its error wins, so the reported error is the same as the sync loop's.

Worked example: ``s -> a -> c``, ``s -> b -> c``, cycle on ``s``. ``waiting = {a: 1, b: 1,
c: 2}``; settling ``s`` (changed) readies ``a`` and ``b``; ``a`` finishes unchanged (cutoff),
``b`` changed; ``c`` reaches zero with ``b`` dirty, so it runs once, seeing new ``b`` and old
``a``.
"""

from __future__ import annotations

import heapq
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fluvius.errors import NodeError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from fluvius.engine.plan import CycleStep, Plan, Step
    from fluvius.engine.state import ErrorPolicy, RunState

__all__ = [
    "CHANGED",
    "FAILED",
    "UNCHANGED",
    "CycleState",
    "apply_settles",
    "compute_cycle",
    "compute_startup",
    "fail_node",
    "finish_node",
    "make_node_error",
    "next_ready",
    "settle",
    "start_cycle",
    "stop_above",
    "values_equal",
]

UNCHANGED, CHANGED, FAILED = 0, 1, 2
"""How a node settled, as another execution reports it (:func:`apply_settles`)."""


def make_node_error(plan: Plan, r: int, exc: BaseException, worker: str) -> NodeError:
    """A NodeError for rank ``r`` with the original traceback as text."""
    tb = "".join(traceback.format_exception(exc))
    return NodeError(
        plan.keys[r],
        worker=worker,
        exc_type=type(exc).__qualname__,
        exc_message=str(exc),
        remote_traceback=tb,
        created_at=plan.created_at[r],
    )


def values_equal(new: Any, old: Any) -> bool:
    """The cutoff test: ``new == old``, made total.

    Array-likes are equal when every element is and the shapes agree; a comparison that
    raises counts as "changed" (propagating is always safe).

    >>> values_equal(1.0, 1.0), values_equal(float("nan"), float("nan")), values_equal(0.0, -0.0)
    (True, False, True)
    >>> import numpy as np
    >>> values_equal(np.float64(1.0), 1.0), values_equal(np.ones(2), 1.0)
    (True, False)
    """
    try:
        same = new == old
        if same is True or same is False:
            return same
        reduce_all = getattr(same, "all", None)
        if reduce_all is not None:  # numpy: scalars have shape (), like plain numbers
            shape = getattr(new, "shape", ())
            return shape == getattr(old, "shape", ()) and bool(reduce_all())
        return bool(same)
    except Exception:
        return False


def _failed_input(inputs: Sequence[int], failed: dict[int, NodeError]) -> NodeError | None:
    for j in inputs:
        err = failed.get(j)
        if err is not None:
            return err
    return None


# -- the sync loop ---------------------------------------------------------------------------
def compute_startup(
    plan: Plan,
    state: RunState,
    steps: Iterable[Step],
    policy: ErrorPolicy,
    worker: str,
) -> tuple[int, list[NodeError]]:
    """Compute ``steps`` (a slice of ``plan.node_steps``) unconditionally, in order.

    Returns the number of computations and the failures recorded under ``isolate``.
    """
    values = state.values
    failed = state.failed
    inputs = plan.inputs
    n = 0
    errors: list[NodeError] = []
    it = iter(steps)
    r = -1
    while True:
        try:  # one try around the loop: entering it is free, and the loop resumes after it
            for r, call, a, g in it:
                if failed:
                    root = _failed_input(inputs[r], failed)
                    if root is not None:
                        failed[r] = root
                        continue
                    failed.pop(r, None)
                values[r] = call(values[a]) if g is None else call(*g(values))
                n += 1
            return n, errors
        except Exception as exc:
            n += 1
            err = make_node_error(plan, r, exc, worker)
            if policy == "fail_fast":
                raise err from exc
            failed[r] = err
            errors.append(err)


def compute_cycle(
    plan: Plan,
    state: RunState,
    changed: frozenset[int],
    policy: ErrorPolicy,
    worker: str,
    moved: list[int] | None = None,
    steps: Iterable[CycleStep] | None = None,
) -> tuple[int, list[NodeError]]:
    """Recompute what the changed sources affect, with cutoff, stamping ``state.marks``
    with ``state.cycles`` (which must be new for this cycle).

    ``moved``, when given, receives the rank of every node that stored a new value (it
    computed and passed the cutoff, or recovered): a worker process tells readers on other
    workers which of its nodes changed from it. ``steps`` (default: every affected step of
    ``changed``) restricts the loop to part of the affected nodes, in rank order; their
    affected inputs must be among them or already settled.
    """
    values = state.values
    failed = state.failed
    mark = state.marks
    if len(mark) != plan.size:
        mark[:] = [-1] * plan.size
    stamp = state.cycles
    for s in changed:
        for c in plan.children[s]:
            mark[c] = stamp
    n = 0
    errors: list[NodeError] = []
    it = iter(plan.affected_steps(changed) if steps is None else steps)
    r = -1
    kids: tuple[int, ...] = ()
    while True:
        try:
            for r, call, a, g, cut, kids in it:
                if mark[r] != stamp:
                    continue
                if failed:  # isolate policy with failures present: the careful path
                    n += _compute_with_failures(plan, state, r, call, a, g, stamp, moved)
                    continue
                new = call(values[a]) if g is None else call(*g(values))
                n += 1
                if cut:
                    old = values[r]
                    if new.__class__ is float and old.__class__ is float:
                        if new == old:
                            continue
                    elif values_equal(new, old):
                        continue
                values[r] = new
                if moved is not None:
                    moved.append(r)
                for c in kids:
                    mark[c] = stamp
            return n, errors
        except Exception as exc:
            n += 1
            err = make_node_error(plan, r, exc, worker)
            if policy == "fail_fast":
                raise err from exc
            failed[r] = err
            errors.append(err)
            for c in kids:
                mark[c] = stamp


def _compute_with_failures(
    plan: Plan,
    state: RunState,
    r: int,
    call: Any,
    a: int,
    g: Any,
    stamp: int,
    moved: list[int] | None,
) -> int:
    """One dirty node while some nodes are failed: skip it if an input is failed, let it
    recover otherwise (recovery always propagates). Returns 1 if it computed. An exception
    from ``call`` propagates to the caller, which records it."""
    failed = state.failed
    values = state.values
    root = _failed_input(plan.inputs[r], failed)
    if root is not None:
        failed[r] = root
        changed = True
    else:
        recovering = failed.pop(r, None) is not None
        new = call(values[a]) if g is None else call(*g(values))  # raising: caller records it
        changed = recovering or not plan.cutoff[r] or not values_equal(new, values[r])
        if changed:
            values[r] = new
            if moved is not None:
                moved.append(r)
    if changed:
        for c in plan.children[r]:
            state.marks[c] = stamp
    return 0 if root is not None else 1


# -- event-driven transitions ------------------------------------------------------------------
@dataclass(slots=True)
class CycleState:
    """One cycle in flight, for executions that run several computations at once.

    ``waiting[r]``  inputs of affected node ``r`` inside this cycle not yet settled
    ``dirty``       affected nodes with at least one changed input: they must compute
    ``ready``       heap of ranks whose inputs are settled and that must compute
    ``running``     ranks handed out by :func:`next_ready` and not yet finished or failed
    ``recomputed``  computations finished or failed so far
    ``errors``      failures of this cycle, in the order they were applied
    ``stop_above``  fail-fast only: rank of the lowest failure; nothing above it starts
    ``settled``     when a list: every ``(rank, changed)`` settled, in order (a worker
                    process reads it to tell other workers which of its values settled)
    """

    waiting: dict[int, int]
    dirty: set[int]
    ready: list[int] = field(default_factory=list)
    running: set[int] = field(default_factory=set)
    recomputed: int = 0
    errors: list[NodeError] = field(default_factory=list)
    stop_above: int | None = None
    settled: list[tuple[int, bool]] | None = None

    @property
    def finished(self) -> bool:
        """Nothing is ready or running: the cycle is over."""
        return not self.ready and not self.running


def start_cycle(
    plan: Plan, changed: frozenset[int] | None, owned: Sequence[bool] | None = None
) -> CycleState:
    """The state of a cycle on ``changed`` sources, or of start-up when ``changed`` is None.

    ``owned`` (a flag per rank) restricts the cycle to one worker's share: only owned
    nodes wait, become ready and run, but they still wait for every affected input,
    owned or not; the worker settles the others as their values arrive.
    """
    if changed is None:
        affected = plan.nodes
        dirty = set(affected)
    else:
        affected = plan.affected(changed)
        dirty = {c for s in changed for c in plan.children[s]}
    inside = set(affected)
    if owned is not None:
        affected = [r for r in affected if owned[r]]
    inputs = plan.inputs
    waiting = {r: sum(1 for j in set(inputs[r]) if j in inside) for r in affected}
    cs = CycleState(waiting, dirty)
    for r in affected:
        if waiting[r] == 0:
            del waiting[r]
            heapq.heappush(cs.ready, r)  # every input is a changed source: it is dirty
    return cs


def settle(plan: Plan, cs: CycleState, r: int, changed: bool) -> None:
    """Rank ``r`` is done for this cycle; release the readers waiting on it."""
    stack = [(r, changed)]
    children = plan.children
    waiting = cs.waiting
    log = cs.settled
    while stack:
        r, changed = stack.pop()
        if log is not None:
            log.append((r, changed))
        for c in children[r]:
            left = waiting.get(c)
            if left is None:
                continue
            if changed:
                cs.dirty.add(c)
            if left > 1:
                waiting[c] = left - 1
                continue
            del waiting[c]
            if c in cs.dirty:
                heapq.heappush(cs.ready, c)
            else:
                stack.append((c, False))


def next_ready(plan: Plan, state: RunState, cs: CycleState) -> int | None:
    """Pop the lowest ready rank that must really compute, or None.

    Under isolate, a ready node with a failed input is marked failed here without
    computing, and settles as changed. Under fail-fast, ranks above ``stop_above`` are
    dropped. The returned rank is counted as running.
    """
    while cs.ready:
        r = heapq.heappop(cs.ready)
        if cs.stop_above is not None and r > cs.stop_above:
            continue
        if state.failed:
            root = _failed_input(plan.inputs[r], state.failed)
            if root is not None:
                state.failed[r] = root
                settle(plan, cs, r, True)
                continue
        cs.running.add(r)
        return r
    return None


def finish_node(
    plan: Plan, state: RunState, cs: CycleState, r: int, value: Any, startup: bool
) -> None:
    """Rank ``r`` computed ``value``: apply the cutoff, store it and settle."""
    cs.running.discard(r)
    cs.recomputed += 1
    recovering = state.failed.pop(r, None) is not None
    if not startup and plan.cutoff[r] and not recovering and values_equal(value, state.values[r]):
        settle(plan, cs, r, False)
        return
    state.values[r] = value
    settle(plan, cs, r, True)


def fail_node(
    plan: Plan, state: RunState, cs: CycleState, r: int, err: NodeError, policy: ErrorPolicy
) -> None:
    """Rank ``r`` raised. Isolate: mark it failed and settle as changed (its readers get
    marked failed in turn). Fail-fast: stop starting anything ranked above it."""
    cs.running.discard(r)
    cs.recomputed += 1
    cs.errors.append(err)
    if policy == "isolate":
        state.failed[r] = err
        settle(plan, cs, r, True)
    elif cs.stop_above is None or r < cs.stop_above:
        cs.stop_above = r


def stop_above(cs: CycleState, rank: int) -> list[int]:
    """Fail-fast, told of a failure at ``rank`` (here or elsewhere): nothing ranked above
    the lowest failure starts; waiting nodes above it are dropped. Returns the running
    ranks above it, no longer counted as running: the caller cancels them."""
    if cs.stop_above is None or rank < cs.stop_above:
        cs.stop_above = rank
    low = cs.stop_above
    for c in [c for c in cs.waiting if c > low]:
        del cs.waiting[c]
    cancelled = sorted(r for r in cs.running if r > low)
    cs.running.difference_update(cancelled)
    return cancelled


def apply_settles(
    plan: Plan, state: RunState, cs: CycleState, entries: Iterable[tuple[int, int, Any]]
) -> None:
    """Apply how nodes computed elsewhere settled: ``(rank, kind, payload)`` with kind
    UNCHANGED (payload unused), CHANGED (payload: the new value) or FAILED (payload: the
    NodeError). Store what changed, then :func:`settle` each."""
    values, failed = state.values, state.failed
    for r, kind, payload in entries:
        if kind == CHANGED:
            failed.pop(r, None)
            values[r] = payload
        elif kind == FAILED:
            failed[r] = payload
        settle(plan, cs, r, kind != UNCHANGED)


def first_error(plan: Plan, cs: CycleState) -> NodeError | None:
    """Fail-fast: the error to raise, that of the lowest-ranked failure."""
    if cs.stop_above is None:
        return None
    key = plan.keys[cs.stop_above]
    return next(e for e in cs.errors if e.key == key)
