"""Turn node-library objects into graph nodes: the only module of ``nodes/`` that imports graph.

Design
------
A library object (``RollingMean(window=20)``, an online model) knows nothing of graphs: it
has ``update``/``get`` (or another pair of methods, such as ``learn_one``/``predict_one``)
and works alone in a notebook. The graph already runs any object with ``update``/``get`` as
a *stateful* node (:class:`fluvius.graph.Stateful`): each computation calls
``obj.update(*input_values)`` then ``obj.get()``, and the object lives with the node on the
worker that owns it, across cycles. Each run deep-copies the object (the plan's copy), so
one builder can be run many times from the same start state.

This module adds what the builder cannot know:

- :class:`Adapted` wraps an object whose methods have other names, by *name* (never a bound
  method), so that it pickles to worker processes and deep-copies with its object.
- :func:`add_stateful` adds an object as a node after checking that it pickles, so a
  multi-process run fails at build time naming the node and the object, not on a worker.

Spec files reach the same classes by op name (``rolling_mean``, ``zscore`` …) through the
library op table of :mod:`fluvius.graph.ops`; that path needs no adapter, because the
classes already speak ``update``/``get``.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

from fluvius.errors import UnpicklableNodeError
from fluvius.nodes.stats.base import Statistic
from fluvius.nodes.stats.missing import with_missing_policy

if TYPE_CHECKING:
    from fluvius.graph import GraphBuilder, NodeRef, Scope

__all__ = ["Adapted", "add_stateful"]


class Adapted:
    """A stateful node over ``obj``: each computation calls ``obj.<update>(*inputs)``, then the
    node's value is ``obj.<get>()``.

    Parameters
    ----------
    obj
        The library object; it holds all the state.
    update
        Name of the method that receives the input values of each computation.
    get
        Name of the method, without arguments, that gives the node's value.

    Examples
    --------
    >>> class Tally:
    ...     def __init__(self): self.seen = []
    ...     def learn_one(self, x): self.seen.append(x)
    ...     def total(self): return sum(self.seen)
    >>> node = Adapted(Tally(), update="learn_one", get="total")
    >>> for x in (1, 2, 3):
    ...     node.update(x)
    ...     print(node.get())
    1
    3
    6
    >>> node
    Adapted(Tally, update='learn_one', get='total')
    """

    __slots__ = ("_get", "_update", "get_name", "obj", "update_name")

    def __init__(self, obj: Any, *, update: str = "update", get: str = "get") -> None:
        for role, name in (("update", update), ("get", get)):
            if not callable(getattr(obj, name, None)):
                raise TypeError(
                    f"Adapted: {type(obj).__name__} has no method {name!r} "
                    f"(given as {role}={name!r})"
                )
        self.obj = obj
        self.update_name = update
        self.get_name = get
        self._update = getattr(obj, update)
        self._get = getattr(obj, get)

    def update(self, *values: Any) -> None:
        """Pass one computation's input values to the object."""
        self._update(*values)

    def get(self) -> Any:
        """The node's value: the object's ``get`` method."""
        return self._get()

    def __reduce__(self) -> tuple[Any, ...]:
        # bound methods are rebuilt from their names, so copies share nothing with the original
        return (_rebuild, (self.obj, self.update_name, self.get_name))

    def __repr__(self) -> str:
        return (
            f"Adapted({type(self.obj).__name__}, update={self.update_name!r}, "
            f"get={self.get_name!r})"
        )


def _rebuild(obj: Any, update: str, get: str) -> Adapted:
    return Adapted(obj, update=update, get=get)


def add_stateful(
    target: GraphBuilder | Scope,
    key: str,
    obj: Any,
    *inputs: Any,
    missing: str = "skip",
    min_periods: int = 1,
    **options: Any,
) -> NodeRef:
    """Add library object ``obj`` as a stateful node of ``target`` (a builder or a scope).

    A streaming statistic (:class:`~fluvius.nodes.stats.Statistic`) gets the library's
    missing-value policy (:mod:`fluvius.nodes.stats.missing`): with ``missing="skip"`` (the
    default) an update with a ``None`` or NaN input is skipped and the value is NaN until
    ``min_periods`` observations; ``missing="propagate"`` adds the object as it is.

    The object must pickle (its state travels to worker processes); otherwise this raises
    :class:`~fluvius.errors.UnpicklableNodeError` naming the key and the object. ``options``
    are those of :meth:`fluvius.graph.GraphBuilder.node` (``cutoff``, ``every_tick`` …); pass
    ``every_tick=True`` when live mode must not conflate the ticks that feed a window.

    >>> from fluvius.graph import GraphBuilder
    >>> from fluvius.nodes.stats import RollingMean
    >>> g = GraphBuilder()
    >>> px = g.source("px", 1.0)
    >>> add_stateful(g, "px/mean5", RollingMean(5), px)
    NodeRef(key='px/mean5')
    >>> type(g.build().spec("px/mean5").fn).__name__
    'SkipMissing'
    """
    try:
        pickle.dumps(obj)
    except Exception as exc:  # pickling fails in many ways; all mean the same to the user
        raise UnpicklableNodeError(
            f"node {key!r}: the stateful object {obj!r} does not pickle, so it cannot run on "
            f"a worker process: {type(exc).__name__}: {exc}"
        ) from exc
    if isinstance(obj, Statistic):
        try:
            obj = with_missing_policy(obj, missing, min_periods)
        except ValueError as exc:
            raise ValueError(f"node {key!r}: {exc}") from None
    return target.node(key, obj, *inputs, **options)
