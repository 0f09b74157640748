"""The whole fluvius exception hierarchy.

::

    FluviusError
    ├── GraphError              a graph that cannot be built (raised at build time)
    │   ├── CycleError          prints the keys of one cycle
    │   ├── MissingInputError   an input key that names no node or source
    │   ├── DuplicateKeyError   two nodes or sources with one key
    │   ├── BadParamsError      params or inputs that do not fit the node's callable
    │   └── UnpicklableNodeError
    ├── SpecError               a spec or ticks file that cannot be read (names file/line/node)
    ├── UnknownSourceError      a batch names a key that is not a source (also a KeyError)
    ├── NodeError               a node raised while computing (key, worker, traceback)
    ├── WorkerDiedError
    ├── CycleTimeoutError       a cycle ran past its timeout (names the running nodes)
    ├── DecodeError             (feeds) carries the byte offset
    ├── ConfigError
    ├── ModelDivergedError      (nodes/models) a gradient step made the loss explode or NaN
    └── FluviusInternalError    our bug, please report it

    FluviusWarning (UserWarning)
    └── IllConditionedWarning   (nodes/models) a least-squares system near singular
"""

from __future__ import annotations

__all__ = [
    "BadParamsError",
    "ConfigError",
    "CycleError",
    "CycleTimeoutError",
    "DecodeError",
    "DuplicateKeyError",
    "FluviusError",
    "FluviusInternalError",
    "FluviusWarning",
    "GraphError",
    "IllConditionedWarning",
    "MissingInputError",
    "ModelDivergedError",
    "NodeError",
    "SpecError",
    "UnknownSourceError",
    "UnpicklableNodeError",
    "WorkerDiedError",
]


class FluviusError(Exception):
    """Base class of every error fluvius raises on purpose."""


class GraphError(FluviusError):
    """A graph that cannot be built."""


class CycleError(GraphError):
    """The graph has a cycle; ``cycle`` holds its keys, the first repeated at the end."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("the graph has a cycle: " + " -> ".join(cycle))


class MissingInputError(GraphError):
    """A node names an input that is neither a node nor a source."""


class DuplicateKeyError(GraphError):
    """Two nodes or sources share one key."""


class BadParamsError(GraphError):
    """A node's inputs and params do not fit its callable's signature."""


class UnpicklableNodeError(GraphError):
    """A node holds an object that cannot be sent to a worker process."""


class UnknownSourceError(FluviusError, KeyError):
    """A batch of source changes names a key that is not a source of the graph."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class SpecError(FluviusError):
    """A spec file or ticks file that cannot be used; the message names file, line or node."""


class NodeError(FluviusError):
    """A node raised while computing.

    Attributes
    ----------
    key
        The node's key.
    worker
        Where it ran (``"serial"`` for the serial scheduler, ``"oracle"`` for the reference).
    created_at
        ``file:line`` where the user created the node, or ``""`` when unknown.
    remote_traceback
        The formatted traceback of the original exception (text, so it survives pickling).
    exc_type
        The original exception's type name.
    """

    def __init__(
        self,
        key: str,
        *,
        worker: str,
        exc_type: str,
        exc_message: str,
        remote_traceback: str,
        created_at: str = "",
    ) -> None:
        self.key = key
        self.worker = worker
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.remote_traceback = remote_traceback
        self.created_at = created_at
        where = f" (created at {created_at})" if created_at else ""
        super().__init__(f"node {key!r}{where} raised {exc_type}: {exc_message} [worker {worker}]")

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_node_error,
            (
                self.key,
                self.worker,
                self.exc_type,
                self.exc_message,
                self.remote_traceback,
                self.created_at,
            ),
        )

    def same_failure(self, other: NodeError) -> bool:
        """True when both errors report the same node failing with the same exception.

        The worker and the traceback text may differ between schedulers; this is the
        comparison the conformance suite uses for "identical errors".
        """
        return (self.key, self.exc_type, self.exc_message) == (
            other.key,
            other.exc_type,
            other.exc_message,
        )


def _rebuild_node_error(
    key: str, worker: str, exc_type: str, exc_message: str, tb: str, created_at: str
) -> NodeError:
    return NodeError(
        key,
        worker=worker,
        exc_type=exc_type,
        exc_message=exc_message,
        remote_traceback=tb,
        created_at=created_at,
    )


class WorkerDiedError(FluviusError):
    """A worker process died; the message names the worker and the nodes it owned."""


class CycleTimeoutError(FluviusError):
    """A cycle ran longer than the session's ``cycle_timeout_s``; the run cannot go on.

    Attributes
    ----------
    index
        The cycle's index.
    timeout_s
        The timeout it exceeded.
    running
        Keys of the nodes that were running when it was stopped (may be empty when the
        scheduler could not tell).
    """

    def __init__(
        self, message: str, *, index: int, timeout_s: float, running: tuple[str, ...]
    ) -> None:
        self.index = index
        self.timeout_s = timeout_s
        self.running = running
        super().__init__(message)


class DecodeError(FluviusError):
    """Input bytes that cannot be decoded; carries the byte offset."""

    def __init__(self, message: str, *, offset: int, expected: str = "") -> None:
        self.offset = offset
        self.expected = expected
        super().__init__(f"at byte offset {offset}: {message}")


class ConfigError(FluviusError):
    """A configuration input that cannot be used."""


class FluviusInternalError(Exception):
    """A fluvius bug: please report it with the traceback."""


class ModelDivergedError(FluviusError):
    """An iterative model's loss or parameters became non-finite or exploded; the message
    names the model, the step, the loss and the learning rate. The model keeps its last
    finite parameters."""


class FluviusWarning(UserWarning):
    """Base class of the warnings fluvius issues."""


class IllConditionedWarning(FluviusWarning):
    """A linear system is too ill-conditioned for its factorization; a more robust (and
    slower) solver was used instead. The message gives the condition number."""
