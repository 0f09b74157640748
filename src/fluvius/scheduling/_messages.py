"""The messages of the process scheduler's protocol, as named types.

Every message is a NamedTuple, read by name, registered with
``_wire.register_tuple_type`` so that it travels as the plain tuple of its fields (pickle
reduces a NamedTuple through Python calls: 3-5 µs more per message each way). ``session``
is the session id, ``cycle`` the cycle index (0 = start-up). A receiver dispatches on the
type (``type(msg) is RunCycle``).

Parent -> worker::

    LoadGraph(session, tables)        the graph's structure, the same frame for every
                                      worker (pickled once)
    LoadShare(session, worker, owner, rows, policy, trace, freeze_gc)
                                      the owner table and the rows of this worker's own
                                      nodes only; the worker compiles them and replies
                                      Loaded (or LoadFailed)
    RunCycle(session, cycle, changed, sources)
                                      ``changed`` source ranks (None: start-up) and the
                                      new values of those this worker reads
    Sync(session)                     send the values the parent has not fetched
    Unload(session)  Exit()

Worker -> parent::

    Hello(worker, pid)  Loaded(worker, session, seconds)  LoadFailed(worker, session, text)
    Done(worker, session, cycle, computed, errors, stop, figures, spans, parent_settles)
    Frozen(worker, session, seconds)  Values(worker, session, items, failed)
    Unloaded(worker, session)

The owner table of LoadShare says :data:`PARENT` for the nodes the parent computes itself
(``partition/_placement.py``): a worker reports how their inputs settled in ``Done.parent_settles``
(the entries of a Settle), never in a message of their own.

Worker -> worker::

    Settle(session, cycle, entries)   how exported nodes settled, one per destination per
                                      flush: ``(rank, UNCHANGED | CHANGED | FAILED, payload)``
    Stop(session, cycle, rank)        fail-fast: nothing ranked above ``rank`` starts
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from fluvius.engine.cycle import CHANGED, FAILED, UNCHANGED
from fluvius.scheduling._wire import register_tuple_type

if TYPE_CHECKING:
    from collections.abc import Sequence

    from fluvius.engine.plan import GraphTables, NodeRow
    from fluvius.engine.state import ErrorPolicy
    from fluvius.errors import NodeError

__all__ = [
    "CHANGED",
    "FAILED",
    "FIGURES",
    "PARENT",
    "UNCHANGED",
    "Done",
    "Entries",
    "Exit",
    "Frozen",
    "Hello",
    "LoadFailed",
    "LoadGraph",
    "LoadShare",
    "Loaded",
    "RunCycle",
    "Settle",
    "Stop",
    "Sync",
    "Unload",
    "Unloaded",
    "Values",
]


Entries = dict[int, list[tuple[int, int, Any]]]
"""Destination worker (or :data:`PARENT`) -> settle entries for it."""

FIGURES = (
    "busy_seconds",
    "cpu_seconds",
    "idle_seconds",
    "computed",
    "messages_sent",
    "bytes_sent",
)
"""The names of ``Done.figures`` (a tuple: a dict's keys would be pickled every cycle)."""

PARENT = -1
"""The owner of a node the parent computes (in LoadShare's owner table)."""


# -- parent -> worker ------------------------------------------------------------------------
class LoadGraph(NamedTuple):
    session: int
    tables: GraphTables


class LoadShare(NamedTuple):
    session: int
    worker: int
    owner: tuple[int, ...]
    rows: list[NodeRow]
    policy: ErrorPolicy
    trace: bool
    freeze_gc: bool
    status_tick_s: float = 0.25  # how often the worker publishes what it runs (_worker.py)


class RunCycle(NamedTuple):
    session: int
    cycle: int
    changed: frozenset[int] | None
    sources: dict[int, Any]


class Sync(NamedTuple):
    session: int


class Unload(NamedTuple):
    session: int


class Exit(NamedTuple):
    pass


# -- worker -> parent ------------------------------------------------------------------------
class Hello(NamedTuple):
    worker: int
    pid: int


class Loaded(NamedTuple):
    worker: int
    session: int
    seconds: float


class LoadFailed(NamedTuple):
    worker: int
    session: int
    text: str


class Done(NamedTuple):
    worker: int
    session: int
    cycle: int
    computed: int
    errors: list[tuple[NodeError, BaseException | None]]
    """Isolate: this cycle's failures with their causes (when they pickle)."""
    stop: tuple[int, NodeError, BaseException | None] | None
    """Fail-fast: the lowest failure seen here (rank, error, cause)."""
    figures: tuple[float, float, float, int, int, int]
    """The worker's totals over the session's cycles, named by :data:`FIGURES`."""
    spans: list[tuple[Any, ...]]
    parent_settles: Sequence[tuple[int, int, Any]] = ()
    """How this worker's nodes read by the parent's own nodes settled (Settle entries)."""


class Frozen(NamedTuple):
    worker: int
    session: int
    seconds: float


class Values(NamedTuple):
    worker: int
    session: int
    items: list[tuple[int, Any]]
    failed: dict[int, NodeError]


class Unloaded(NamedTuple):
    worker: int
    session: int


# -- worker -> worker ------------------------------------------------------------------------
class Settle(NamedTuple):
    session: int
    cycle: int
    entries: list[tuple[int, int, Any]]


class Stop(NamedTuple):
    session: int
    cycle: int
    rank: int


for _type in (
    LoadGraph, LoadShare, RunCycle, Sync, Unload, Exit,
    Hello, Loaded, LoadFailed, Done, Frozen, Values, Unloaded,
    Settle, Stop,
):  # fmt: skip
    register_tuple_type(_type)  # each travels as a plain tuple (``_wire.py``)
