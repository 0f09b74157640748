"""One worker's share of a session: what it holds, and the fast path of its cycles.

Built once per session from the two load messages (``_messages.LoadGraph``: the graph's
structure, the same for every worker, from which the worker builds its plan's structure as
soon as it arrives, while the parent still partitions; ``_messages.LoadShare``: the owner
table and the rows of this worker's own nodes), so a worker unpickles and compiles only its
own nodes, and the
per-share tables (owned steps, exported ranks, the start-up fast-path test) are computed by
every worker in parallel, never by the parent and never during a cycle.

Fields of :class:`Share` (the life cycle of one session in one worker)
    ``load``      the LoadShare message (session, policy, trace, freeze_gc)
    ``plan``      a :class:`~fluvius.engine.plan.Plan` of the whole structure that computes
                  the owned nodes only (``Plan.from_tables``, then ``Plan.add_steps``)
    ``state``     values and failures of owned nodes and of the inputs they read
    ``owned[r]``  whether node ``r`` is this worker's (sources are nobody's: every worker
                  reading one gets its value from the parent)
    ``exports``   owned rank -> the other workers owning one of its readers (``PARENT``
                  for a reader the parent computes)
    ``to_parent`` this cycle's settle entries for the parent's own nodes (sent in Done)
    ``cache``     per set of changed sources (None: start-up): its :class:`CycleTables`
    ``unsynced``  owned ranks whose value the parent has not fetched, as the lists of
                  owned affected ranks of the cycles since the last fetch (by ``id``: a
                  repeated tick pattern adds its cached list once; no set of hundreds of
                  ranks is updated per tick)
    ``pending``   messages of a cycle whose command has not arrived yet
    ``unsent``    owned ranks whose value could not be pickled for a reader on another
                  worker: their NodeError, reported to the parent as a failure (readers
                  on this worker keep the value and work on)
    ``spans``     trace spans not yet sent (tracing only)
    ``busy_s``, ``idle_s``, ``cpu_s``, ``computed``: figures over the session's cycles

Cycle tables (:func:`cycle_tables`, :class:`CycleTables`): per set of changed sources,
which owned affected nodes are *local* (no affected input of another worker or async
anywhere above them: the engine's sync loop runs them, :func:`run_local`) and which wait
for the event-driven driver (``_worker.py``). :func:`run_local` then reports how each
exported local node settled: failed, changed (the sync loop lists the nodes that stored a
new value: its ``moved`` list), or unchanged.
"""

from __future__ import annotations

import logging
import os
import pickle
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from fluvius.engine.cycle import compute_cycle, compute_startup
from fluvius.engine.state import RunState
from fluvius.errors import NodeError
from fluvius.scheduling._messages import CHANGED, FAILED, UNCHANGED, Entries

if TYPE_CHECKING:
    from fluvius.engine.plan import Plan
    from fluvius.scheduling._messages import LoadShare

__all__ = [
    "CycleTables",
    "Share",
    "cycle_tables",
    "make_share",
    "mark_unsynced",
    "pack_cause",
    "run_local",
    "stored",
    "take_unsynced",
]

log = logging.getLogger("fluvius.process")


@dataclass(slots=True)
class Share:
    """One session's state in a worker (see the module docstring)."""

    load: LoadShare
    plan: Plan
    state: RunState
    owned: list[bool]
    exports: dict[int, tuple[int, ...]]
    name: str
    nodes: int
    cache: dict[frozenset[int] | None, CycleTables] = field(default_factory=dict)
    unsynced: dict[int, list[int]] = field(default_factory=dict)
    pending: list[Any] = field(default_factory=list)
    unsent: dict[int, NodeError] = field(default_factory=dict)
    to_parent: list[tuple[int, int, Any]] = field(default_factory=list)
    index: int = -1
    busy_s: float = 0.0
    idle_s: float = 0.0
    cpu_s: float = 0.0
    computed: int = 0
    spans: list[tuple[Any, ...]] = field(default_factory=list)


def make_share(plan: Plan, load: LoadShare) -> Share:
    """Build worker ``load.worker``'s share of a session and its tables (module docstring)
    on ``plan``, the structure of the session's graph without steps (``Plan.from_tables``
    with no rows), into which the share's rows are compiled."""
    wid, owner = load.worker, load.owner
    plan.add_steps(load.rows)
    owned = [False] * plan.size
    mine = [s[0] for s in plan.node_steps]
    for r in mine:
        owned[r] = True
    exports: dict[int, tuple[int, ...]] = {}
    children = plan.children
    for r in mine:
        for c in children[r]:
            if owner[c] != wid:  # read elsewhere (most nodes are not: no set for them)
                exports[r] = tuple(sorted({owner[k] for k in children[r]} - {wid}))
                break
    name = f"worker-{wid}[pid {os.getpid()}]"
    share = Share(load, plan, RunState(plan.initial_values()), owned, exports, name, len(mine))
    share.cache[None] = _make_tables(share, None)
    return share


class CycleTables(NamedTuple):
    """How one worker runs a cycle on a given set of changed sources (cached per set).

    ``mine``      owned affected ranks
    ``local``     the steps of the owned affected nodes none of whose affected inputs,
                  however far up, is another worker's (or async): computed at once by the
                  engine's sync loop (``Step`` at start-up, ``CycleStep`` in a cycle)
    ``exported``  local ranks read on other workers: their settles go out after the loop
    ``events``    per rank, True for the owned affected nodes that are not local: run by
                  the event-driven driver (None when there is none)
    ``boundary``  local ranks read by those nodes: settled into the driver's state
    """

    mine: list[int]
    local: list[Any]
    exported: list[int]
    events: list[bool] | None
    boundary: list[int]


def cycle_tables(share: Share, changed: frozenset[int] | None) -> CycleTables:
    """The :class:`CycleTables` of a cycle (start-up when ``changed`` is None)."""
    found = share.cache.get(changed)
    if found is None:
        found = _make_tables(share, changed)
        if len(share.cache) < 1024:
            share.cache[changed] = found
    return found


def _make_tables(share: Share, changed: frozenset[int] | None) -> CycleTables:
    plan, owned = share.plan, share.owned
    inputs, is_async = plan.inputs, plan.is_async
    affected = plan.nodes if changed is None else plan.affected(changed)
    # remote[r]: affected node r's value is not known here until the driver settles it
    # (only affected nodes are ever marked, so an input that is not affected never is)
    remote = [False] * plan.size
    trace = share.load.trace  # tracing records a span per node: the driver runs them all
    mine, local = [], []
    for r in affected:
        if not owned[r]:
            remote[r] = True
            continue
        mine.append(r)
        if trace or is_async[r]:
            remote[r] = True
            continue
        for j in inputs[r]:
            if remote[j]:
                remote[r] = True
                break
        else:
            local.append(r)
    exports = share.exports
    exported = [r for r in local if r in exports]
    waiting = [r for r in mine if remote[r]]
    events = None
    boundary: list[int] = []
    if waiting:
        events = [False] * plan.size
        for r in waiting:
            events[r] = True
        local_set = set(local)
        boundary = sorted({j for r in waiting for j in inputs[r] if j in local_set})
    if changed is None:
        steps: list[Any] = [plan.steps[r] for r in local]
    else:
        local_set = set(local)
        steps = [s for s in plan.affected_steps(changed) if s[0] in local_set]
    return CycleTables(mine, steps, exported, events, boundary)


def pack_cause(exc: BaseException | None) -> BaseException | None:
    """The exception itself when it survives pickling, else None (the text is in the error)."""
    if exc is None:
        return None
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return None
    return exc


def run_local(
    share: Share, changed: frozenset[int] | None, tables: CycleTables
) -> tuple[int, list[Any], Any, Entries, list[int]]:
    """The local part of a cycle (the engine's sync loop over ``tables.local``):
    ``(computed, errors, lowest failure or None, settles to send, ranks that stored a new
    value, in rank order)``."""
    plan, state, policy = share.plan, share.state, share.load.policy
    exports = share.exports
    stop = None
    errors: list[Any] = []
    moved: list[int] = []
    n = 0
    try:
        if changed is None:
            n, errs = compute_startup(plan, state, tables.local, policy, share.name)
        elif tables.local:
            n, errs = compute_cycle(plan, state, changed, policy, share.name, moved, tables.local)
        else:
            errs = []
        errors = [(e, None) for e in errs]
        for e in errs:
            log.debug("node %s failed on %s", e.key, share.name, extra={"node": e.key})
    except NodeError as err:
        log.debug("node %s failed on %s", err.key, share.name, extra={"node": err.key})
        f = plan.rank_of(err.key)
        n = 0  # an aborted cycle reports its error, not a count
        stop = (f, err, pack_cause(err.__cause__))
    mark_unsynced(share, tables.mine)
    entries: Entries = {}
    values, failed = state.values, state.failed
    for r in tables.exported:
        if stop is not None and r >= stop[0]:
            continue  # not computed: its readers are dropped by the stop
        entry: tuple[int, int, Any]
        if r in failed:
            entry = (r, FAILED, failed[r])
        elif changed is None or stored(moved, r):
            entry = (r, CHANGED, values[r])
        else:
            entry = (r, UNCHANGED, None)
        for d in exports[r]:
            entries.setdefault(d, []).append(entry)
    return n, errors, stop, entries, moved


def stored(moved: list[int], r: int) -> bool:
    """Whether rank ``r`` is in ``moved``, the sync loop's list of the ranks that stored a
    new value (in rank order: a binary search, no set of the cycle's ranks to build)."""
    i = bisect_left(moved, r)
    return i < len(moved) and moved[i] == r


def mark_unsynced(share: Share, ranks: list[int]) -> None:
    """``ranks`` hold values the parent has not fetched (see ``Share.unsynced``)."""
    lists = share.unsynced
    lists[id(ranks)] = ranks
    if len(lists) > 64:  # many tick patterns since the last fetch: merge them
        merged = sorted(set().union(*lists.values()))
        lists.clear()
        lists[id(merged)] = merged


def take_unsynced(share: Share) -> list[int]:
    """The ranks not fetched yet, sorted; none is left marked."""
    ranks = sorted(set().union(*share.unsynced.values()))
    share.unsynced.clear()
    return ranks
