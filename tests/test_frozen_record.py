"""``frozen_record`` classes (the event classes) behave as frozen, slotted dataclasses.

Each event class is compared with its twin: the ``@dataclass(frozen=True, slots=True)``
with the same fields, which is what the event classes were before ``fluvius._record``.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluvius._record import frozen_record
from fluvius.feeds.book import BestBidOffer, BookSnapshot
from fluvius.feeds.events import EVENT_TYPES, Event, EventBatch, Quote

RECORDS: list[type[Any]] = [Event, *EVENT_TYPES.values(), BestBidOffer, BookSnapshot, EventBatch]
VALUES = st.one_of(
    st.integers(), st.text(max_size=3), st.none(), st.floats(allow_nan=False), st.booleans()
)


def _twin(cls: type[Any]) -> type[Any]:
    fields = [(f.name, f.type) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True)


TWINS = {cls: _twin(cls) for cls in RECORDS}


def _values(cls: type[Any]) -> st.SearchStrategy[list[Any]]:
    n = len(dataclasses.fields(cls))
    return st.lists(VALUES, min_size=n, max_size=n)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[type[Any], list[Any], list[Any]]:
    cls = draw(st.sampled_from(RECORDS))
    a = draw(_values(cls))
    b = draw(st.one_of(st.just(list(a)), _values(cls)))
    return cls, a, b


@given(_pairs())
def test_as_the_dataclass_twin(pair: tuple[type[Any], list[Any], list[Any]]) -> None:
    cls, a, b = pair
    twin = TWINS[cls]
    x, y, tx, ty = cls(*a), cls(*b), twin(*a), twin(*b)
    assert repr(x) == repr(tx)
    assert (x == y) == (tx == ty)
    assert (x != y) == (tx != ty)
    assert x != tx  # another class, as between two dataclasses
    assert hash(x) == hash(tx)
    assert x.__getstate__() == tx.__getstate__()  # the pickled state of a slotted dataclass
    assert dataclasses.astuple(x) == dataclasses.astuple(tx)
    assert dataclasses.asdict(x) == dataclasses.asdict(tx)
    assert cls.__match_args__ == twin.__match_args__
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == [f.name for f in dataclasses.fields(twin)]
    assert cls(**dict(zip(names, a, strict=True))) == x  # keywords, as replace() uses
    assert pickle.loads(pickle.dumps(x)) == x
    assert copy.deepcopy(x) == x


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_frozen_and_slotted(cls: type[Any]) -> None:
    values = list(range(len(dataclasses.fields(cls))))
    x, twin = cls(*values), TWINS[cls](*values)
    name = dataclasses.fields(cls)[-1].name
    for target in (x, twin):
        with pytest.raises(dataclasses.FrozenInstanceError) as raised:
            setattr(target, name, 1)
        assert str(raised.value) == f"cannot assign to field {name!r}"
        with pytest.raises(dataclasses.FrozenInstanceError):
            delattr(target, name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        x.extra = 1  # type: ignore[attr-defined]
    assert not hasattr(x, "__dict__")
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert dataclasses.replace(x, **{name: -1}) == cls(*values[:-1], -1)
    with pytest.raises(TypeError):
        cls(*values[:-1])  # a missing field


def test_event_keeps_its_class_attributes_and_field_types() -> None:
    q = Quote("IEX", "ZIEXT", 1, 2, 3, 4, 5, 6, 7, 0)
    assert q.kind == "quote"
    assert "kind" not in [f.name for f in dataclasses.fields(Quote)]
    twin = dataclasses.dataclass(frozen=True, slots=True)(
        type("Quote", (), {"__annotations__": {"kind": ClassVar[str]}, "kind": "quote"})
    )
    assert next(iter(Quote.__dataclass_fields__)) == "kind"  # ClassVars recorded, as dataclasses
    assert Quote.__dataclass_fields__["kind"].default == twin.__dataclass_fields__["kind"].default
    types = {f.name: f.type for f in dataclasses.fields(Quote)}
    assert types["bid_px"] == "Price"
    assert types["ts_ns"] == "TimestampNs"
    assert repr(q).startswith("Quote(venue='IEX', symbol='ZIEXT', ts_ns=1,")


def test_a_frozen_dataclass_may_subclass_a_record() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Mid(Event):
        kind: ClassVar[str] = "mid"
        px: int

    m = Mid("IEX", "AB", 1, 2, 3, 99)
    assert m == Mid("IEX", "AB", 1, 2, 3, 99)
    assert [f.name for f in dataclasses.fields(m)][-2:] == ["seq", "px"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.px = 1  # type: ignore[misc]


def test_a_plain_subclass_shares_the_init() -> None:
    class Tagged(Quote):
        __slots__ = ()

    t = Tagged("IEX", "AB", 1, 2, 3, 4, 5, 6, 7, 0)
    assert t.bid_px == 4
    assert t != Quote("IEX", "AB", 1, 2, 3, 4, 5, 6, 7, 0)  # classes differ, as dataclasses
    assert Quote("IEX", "AB", 1, 2, 3, 4, 5, 6, 7, 0).ask_sz == 7


def test_defaults_are_refused() -> None:
    with pytest.raises(TypeError, match="no default value"):

        @frozen_record
        class WithDefault:
            x: int = 0


def test_a_record_defines_its_own_methods() -> None:
    @frozen_record
    class Pair:
        a: int
        b: int

        def __repr__(self) -> str:
            return f"<{self.a}, {self.b}>"

        def total(self) -> int:
            return self.a + self.b

    p = Pair(1, 2)
    assert (repr(p), p.total(), p) == ("<1, 2>", 3, Pair(1, 2))
