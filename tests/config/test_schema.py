"""Component schemas declared in data become pydantic models."""

from __future__ import annotations

import ipaddress

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluvius.config.schema import TypeExpr, build_model, describe_type, parse_type
from fluvius.errors import ConfigError

_SCALAR = st.sampled_from(["str", "int", "float", "bool", "any", "null", "cidr", "ip", "date"])
_TYPES = st.recursive(
    _SCALAR.map(TypeExpr),
    lambda inner: st.one_of(
        inner.map(lambda t: TypeExpr("list", (t,))),
        inner.map(lambda t: TypeExpr("dict", (TypeExpr("str"), t))),
        st.lists(inner.filter(lambda t: t.name != "union"), min_size=2, max_size=3).map(
            lambda ts: TypeExpr("union", tuple(ts))
        ),
    ),
    max_leaves=6,
)


@given(_TYPES)
def test_type_text_round_trips(expr: TypeExpr) -> None:
    assert parse_type(describe_type(expr)) == expr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lst[int]", "unknown type name 'lst'"),
        ("list", "list needs its item type"),
        ("dict[int, str]", "dict keys must be str"),
        ("list[int", "missing"),
        ("int]", "unexpected"),
        ("list[int, str]", "takes 1 type argument"),
    ],
)
def test_bad_type_text(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_type(text)


def test_constraints_defaults_and_coercion() -> None:
    model = build_model(
        "m",
        {
            "n": {"type": "int", "ge": 1, "le": 5},
            "side": {"type": "str", "enum": ["B", "S"], "default": "B"},
            "net": {"type": "cidr", "default": "10.0.0.0/16"},
            "tags": {"type": "dict[str, str]", "default": {}},
            "maybe": {"type": "float | null", "default": None},
        },
    )
    value = model.model_validate({"n": "3"})
    assert value.n == 3  # type: ignore[attr-defined]
    assert value.net == ipaddress.IPv4Network("10.0.0.0/16")  # type: ignore[attr-defined]
    assert value.model_dump(mode="json") == {
        "n": 3,
        "side": "B",
        "net": "10.0.0.0/16",
        "tags": {},
        "maybe": None,
    }
    with pytest.raises(pydantic.ValidationError) as info:
        model.model_validate({"n": 9, "side": "X", "extra": 1})
    kinds = sorted((e["loc"], e["type"]) for e in info.value.errors())
    assert kinds == [
        (("extra",), "extra_forbidden"),
        (("n",), "less_than_equal"),
        (("side",), "literal_error"),
    ]


def test_nested_objects() -> None:
    model = build_model(
        "m",
        {"rows": {"type": "list[object]", "fields": {"x": {"type": "float", "gt": 0}}}},
    )
    assert model.model_validate({"rows": [{"x": "1.5"}]}).model_dump() == {"rows": [{"x": 1.5}]}
    with pytest.raises(pydantic.ValidationError) as info:
        model.model_validate({"rows": [{"x": 1}, {"x": -1}]})
    assert info.value.errors()[0]["loc"] == ("rows", 1, "x")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"a": {"type": "intt"}}, r"where: field 'a': unknown type name 'intt'"),
        ({"a": {"type": "int", "min": 1}}, r"field 'a': unknown key 'min'"),
        ({"a": {"type": "object"}}, r"type 'object' needs nested 'fields'"),
        ({"a": {"type": "str", "enum": []}}, r"'enum' must be a non-empty list"),
        ({"a b": {"type": "str"}}, r"must be a Python identifier"),
        ({"a": "int"}, r"expected a mapping with at least 'type'"),
    ],
)
def test_bad_declarations_name_the_field(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_model("m", fields, where="where")
