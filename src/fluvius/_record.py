"""Frozen, slotted record classes that are cheap to define: :func:`frozen_record`.

``@dataclass(frozen=True, slots=True)`` generates the source of six methods per class
(``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``, ``__delattr__``),
compiles each with ``exec`` and then builds the class a second time to add ``__slots__``:
about 0.6 ms per class on this machine, 10 ms for the 15 event classes that every
``fluvius iex`` command imports (5% of the start-up of ``fluvius iex decode``).

:func:`frozen_record` makes classes that behave the same way, for a tenth of that:

* the class is built once, with ``__slots__`` for its own fields (those of its bases are
  inherited, as with ``slots=True``);
* :func:`dataclasses.dataclass` records the fields (on a stand-in class, with ``init``,
  ``repr`` and ``eq`` off, so that it generates no code), so :func:`dataclasses.fields`,
  :func:`dataclasses.replace`, :func:`dataclasses.asdict` and ``__match_args__`` work as
  on a dataclass, and a frozen dataclass may subclass a record;
* only ``__init__`` is generated (one small function, compiled when the class's first
  instance is made: it is the one method whose speed matters); it stores each argument
  through its slot's descriptor, which is quicker than the ``object.__setattr__`` calls
  of a frozen dataclass;
* ``__repr__``, ``__eq__``, ``__hash__``, the frozen ``__setattr__`` / ``__delattr__``
  and pickling (``__getstate__`` / ``__setstate__``, the same state as a slotted
  dataclass's, so pickles are interchangeable) are shared functions that read the fields
  with one :func:`operator.attrgetter` per class.

Equality, hashing, ``repr`` and immutability are those of the dataclass: instances are
equal when they are of the same class with equal fields; assigning or deleting any
attribute raises :class:`dataclasses.FrozenInstanceError`. The decorated class must not
give fields default values (none of fluvius's records do).

>>> @frozen_record
... class Point:
...     x: int
...     y: int
>>> p = Point(1, y=2)
>>> p, p == Point(1, 2), hash(p) == hash((1, 2)), dataclasses.replace(p, y=5)
(Point(x=1, y=2), True, True, Point(x=1, y=5))
>>> p.x = 3
Traceback (most recent call last):
...
dataclasses.FrozenInstanceError: cannot assign to field 'x'
"""

from __future__ import annotations

import dataclasses
import inspect
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, dataclass_transform

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["frozen_record"]

T = TypeVar("T")


@dataclass_transform(eq_default=True, frozen_default=True)
def frozen_record(cls: type[T]) -> type[T]:
    """``cls`` as a frozen, slotted record class (see the module's documentation)."""
    own = {
        name: annotation
        for name, annotation in inspect.get_annotations(cls).items()
        if not _is_classvar(annotation)
    }
    for name in own:
        if name in cls.__dict__:
            raise TypeError(f"{cls.__qualname__}.{name}: a record field has no default value")
    # every name dataclasses records, ClassVars included, bases first: name -> (annotation,
    # whether it is a ClassVar), in the order a dataclass would have them
    entries: dict[str, tuple[Any, bool]] = {}
    for base in cls.__mro__[-1:0:-1]:
        if dataclasses.is_dataclass(base):
            real = {f.name for f in dataclasses.fields(base)}
            recorded = base.__dict__.get("__dataclass_fields__", {})
            entries.update((f.name, (f.type, f.name not in real)) for f in recorded.values())
    for name, annotation in inspect.get_annotations(cls).items():
        entries[name] = (annotation, name not in own)
    # dataclasses records the fields on a stand-in class without bases, methods or text
    # annotations, where it has nothing to generate, to look up or to parse (the
    # annotations' text is put back on the fields); the record takes what it recorded
    stand_in: dict[str, Any] = {
        "__annotations__": {n: ClassVar[Any] if cv else Any for n, (_, cv) in entries.items()},
        "__doc__": cls.__doc__ or "-",
    }
    stand_in.update(
        (n, getattr(cls, n)) for n, (_, cv) in entries.items() if cv and hasattr(cls, n)
    )
    shadow: Any = type(cls.__name__, (), stand_in)
    dataclasses.dataclass(init=False, repr=False, eq=False)(shadow)
    for name, recorded_field in shadow.__dataclass_fields__.items():
        recorded_field.type = entries[name][0]
    params = shadow.__dataclass_params__  # a frozen dataclass's, so that dataclasses
    params.init = params.repr = params.eq = params.frozen = True  # may subclass the record
    fields = {f.name: f.type for f in dataclasses.fields(shadow)}
    names = tuple(fields)
    namespace = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    namespace.update(
        __slots__=tuple(own),
        __dataclass_fields__=shadow.__dataclass_fields__,
        __dataclass_params__=params,
        __match_args__=names,
        _record_names=names,
        _record_values=_values_getter(names),
    )
    for key, method in _SHARED.items():
        namespace.setdefault(key, method)  # a method the class defines itself is kept
    metaclass: Any = type(cls)
    record: Any = metaclass(cls.__name__, cls.__bases__, namespace)
    record.__init__ = _compile_on_first_call(record, names)
    return record  # type: ignore[no-any-return]


def _compile_on_first_call(record: Any, names: tuple[str, ...]) -> Callable[..., None]:
    """An ``__init__`` that compiles the record's own (:func:`_make_init`) when the first
    instance is made, puts it in its place and runs it: compiling costs 50-100 µs per
    class, and a program that never makes an instance of a class (a batch decode into
    Parquet makes none) should not pay it."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init = record.__dict__["__init__"]
        if init is __init__:  # not replaced yet
            init = _make_init(record, names)
            record.__init__ = init
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{record.__qualname__}.__init__"
    return __init__


def _is_classvar(annotation: object) -> bool:
    """Whether an annotation (a string under ``from __future__ import annotations``) is a
    ``ClassVar``, as dataclasses decides it."""
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _values_getter(names: tuple[str, ...]) -> Any:
    """A callable that gives the tuple of an instance's field values."""
    if len(names) > 1:
        return attrgetter(*names)  # a tuple already; not a descriptor, so never bound
    get = attrgetter(*names) if names else None
    return staticmethod(lambda obj: () if get is None else (get(obj),))


def _make_init(record: type, names: tuple[str, ...]) -> Callable[..., None]:
    """``record.__init__(self, *names)``: each argument stored through its slot."""
    setters = {f"_set{i}": getattr(record, name).__set__ for i, name in enumerate(names)}
    body = "".join(f"    _set{i}(self, {name})\n" for i, name in enumerate(names))
    source = f"def __init__(self, {', '.join(names)}):\n{body or '    pass'}\n"
    scope: dict[str, Any] = {}
    exec(source, setters, scope)  # the source is made of field names only
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{record.__qualname__}.__init__"
    init.__module__ = record.__module__
    return init


def _repr(self: Any) -> str:
    values = self._record_values(self)
    inner = ", ".join(f"{n}={v!r}" for n, v in zip(self._record_names, values, strict=True))
    return f"{self.__class__.__qualname__}({inner})"


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        values = self._record_values
        return values(self) == values(other)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(self._record_values(self))


def _setattr(self: Any, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self: Any) -> list[Any]:
    return list(self._record_values(self))


def _setstate(self: Any, state: list[Any]) -> None:
    for name, value in zip(self._record_names, state, strict=True):
        object.__setattr__(self, name, value)


_SHARED: dict[str, Any] = {
    "__repr__": _repr,
    "__eq__": _eq,
    "__hash__": _hash,
    "__setattr__": _setattr,
    "__delattr__": _delattr,
    "__getstate__": _getstate,
    "__setstate__": _setstate,
}
