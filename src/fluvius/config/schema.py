"""Component schemas declared in data, turned into pydantic models at run time.

A component type's ``component.yaml`` lists its ``fields``; each field is a mapping with a
``type`` and, optionally, ``description``, ``default`` (absent: the field is required),
``enum`` (a list of allowed values), numeric bounds ``ge gt le lt multiple_of``, string or
list sizes ``min_length max_length``, a regular expression ``pattern``, and, for a field
whose type mentions ``object``, its own nested ``fields``. :func:`build_model` hands these
to :func:`pydantic.create_model`, so a new component type needs no Python.

Types are written as in Python annotations, over a small vocabulary::

    str int float bool any null object cidr ip date   list[T]   dict[str, T]   T | null

``cidr`` is an IPv4 network (``10.0.0.0/16``), ``ip`` an IPv4 address. Models forbid
unknown fields (a misspelt field is an error, not a silently ignored value) and coerce in
pydantic's lax mode, so the text values of a CSV inventory become numbers where declared.

>>> model = build_model("demo", {"workers": {"type": "int", "ge": 1, "default": 2},
...                              "tags": {"type": "dict[str, str]", "default": {}}})
>>> model.model_validate({"workers": "4"}).workers
4
>>> describe_type(parse_type("list[dict[str, float]] | null"))
'list[dict[str, float]] | null'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Literal, Optional

import pydantic

from fluvius.errors import ConfigError

__all__ = ["FieldInfo", "TypeExpr", "build_model", "describe_type", "field_infos", "parse_type"]

_SCALARS: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "any": Any,
    "null": type(None),
    "cidr": ipaddress.IPv4Network,
    "ip": ipaddress.IPv4Address,
    "date": dt.date,
}
_CONSTRAINTS = ("ge", "gt", "le", "lt", "multiple_of", "min_length", "max_length", "pattern")
_FIELD_KEYS = frozenset({"type", "description", "default", "enum", "fields", *_CONSTRAINTS})
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|\[|\]|,|\|)")


@dataclass(frozen=True, slots=True)
class TypeExpr:
    """A parsed type: ``name`` with type ``args`` (``union`` joins alternatives)."""

    name: str
    args: tuple[TypeExpr, ...] = ()


def parse_type(text: str) -> TypeExpr:
    """Parse a type string such as ``dict[str, list[float]] | null``.

    >>> parse_type("list[int]")
    TypeExpr(name='list', args=(TypeExpr(name='int', args=()),))
    """
    tokens: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ValueError(f"cannot read type {text!r} at character {pos + 1}")
        tokens.append(m.group(1))
        pos = m.end()
    expr, end = _union(tokens, 0, text)
    if end != len(tokens):
        raise ValueError(f"cannot read type {text!r}: unexpected {tokens[end]!r}")
    return expr


def _union(tokens: list[str], i: int, text: str) -> tuple[TypeExpr, int]:
    parts = []
    term, i = _term(tokens, i, text)
    parts.append(term)
    while i < len(tokens) and tokens[i] == "|":
        term, i = _term(tokens, i + 1, text)
        parts.append(term)
    return (parts[0], i) if len(parts) == 1 else (TypeExpr("union", tuple(parts)), i)


def _term(tokens: list[str], i: int, text: str) -> tuple[TypeExpr, int]:
    if i >= len(tokens) or (not tokens[i][0].isalpha() and tokens[i][0] != "_"):
        raise ValueError(f"cannot read type {text!r}: expected a type name")
    name = tokens[i]
    i += 1
    if name in ("list", "dict"):
        if i >= len(tokens) or tokens[i] != "[":
            raise ValueError(f"type {text!r}: {name} needs its item type, e.g. {name}[str]")
        args = []
        arg, i = _union(tokens, i + 1, text)
        args.append(arg)
        while i < len(tokens) and tokens[i] == ",":
            arg, i = _union(tokens, i + 1, text)
            args.append(arg)
        if i >= len(tokens) or tokens[i] != "]":
            raise ValueError(f"cannot read type {text!r}: missing ']'")
        want = 1 if name == "list" else 2
        if len(args) != want:
            raise ValueError(f"type {text!r}: {name} takes {want} type argument(s)")
        if name == "dict" and args[0] != TypeExpr("str"):
            raise ValueError(f"type {text!r}: dict keys must be str")
        return TypeExpr(name, tuple(args)), i + 1
    if name not in _SCALARS and name != "object":
        known = ", ".join(sorted([*_SCALARS, "object", "list", "dict"]))
        raise ValueError(f"unknown type name {name!r} in {text!r}; known: {known}")
    return TypeExpr(name), i


def describe_type(expr: TypeExpr) -> str:
    """Write a :class:`TypeExpr` back as text."""
    if expr.name == "union":
        return " | ".join(describe_type(a) for a in expr.args)
    if expr.args:
        return f"{expr.name}[{', '.join(describe_type(a) for a in expr.args)}]"
    return expr.name


def _python_type(expr: TypeExpr, nested: type[pydantic.BaseModel] | None, where: str) -> Any:
    if expr.name == "union":
        alternatives = tuple(_python_type(a, nested, where) for a in expr.args)
        result: Any = alternatives[0]
        for alt in alternatives[1:]:
            result = result | alt if alt is not Any else Any
        return result
    if expr.name == "list":
        return list[_python_type(expr.args[0], nested, where)]  # type: ignore[misc]
    if expr.name == "dict":
        return dict[str, _python_type(expr.args[1], nested, where)]  # type: ignore[misc]
    if expr.name == "object":
        if nested is None:
            raise ConfigError(f"{where}: type 'object' needs nested 'fields'")
        return nested
    return _SCALARS[expr.name]


def _mentions_object(expr: TypeExpr) -> bool:
    return expr.name == "object" or any(_mentions_object(a) for a in expr.args)


def build_model(name: str, fields: Any, *, where: str = "") -> type[pydantic.BaseModel]:
    """Build the pydantic model of a component schema's ``fields`` mapping.

    Raises :class:`~fluvius.errors.ConfigError` naming ``where`` and the field for a bad
    declaration (an unknown type, a stray key, an enum with a mistyped value).
    """
    where = where or name
    if not isinstance(fields, dict):
        raise ConfigError(f"{where}: 'fields' must be a mapping of field name -> declaration")
    definitions: dict[str, Any] = {}
    for field_name, decl in fields.items():
        here = f"{where}: field {field_name!r}"
        if not isinstance(field_name, str) or not field_name.isidentifier():
            raise ConfigError(f"{here}: a field name must be a Python identifier")
        if not isinstance(decl, dict) or "type" not in decl:
            raise ConfigError(f"{here}: expected a mapping with at least 'type'")
        stray = sorted(set(decl) - _FIELD_KEYS)
        if stray:
            raise ConfigError(f"{here}: unknown key {stray[0]!r}; allowed: {sorted(_FIELD_KEYS)}")
        try:
            expr = parse_type(str(decl["type"]))
        except ValueError as exc:
            raise ConfigError(f"{here}: {exc}") from exc
        nested = None
        if _mentions_object(expr):
            if "fields" not in decl:
                raise ConfigError(f"{here}: type 'object' needs nested 'fields'")
            nested = build_model(f"{name}.{field_name}", decl.get("fields"), where=here)
        annotation = _python_type(expr, nested, here)
        if "enum" in decl:
            values = decl["enum"]
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{here}: 'enum' must be a non-empty list")
            annotation = Literal[tuple(values)]
            if expr.name == "union" and TypeExpr("null") in expr.args:
                annotation = Optional[annotation]  # noqa: UP045 (a run-time constructed type)
        kwargs = {k: decl[k] for k in _CONSTRAINTS if k in decl}
        kwargs["description"] = str(decl.get("description", ""))
        default = decl.get("default", ...)
        definitions[field_name] = (annotation, pydantic.Field(default, **kwargs))
    try:
        return pydantic.create_model(
            name,
            __config__=pydantic.ConfigDict(extra="forbid", validate_default=True),
            **definitions,
        )
    except (TypeError, ValueError, pydantic.PydanticUserError) as exc:
        raise ConfigError(f"{where}: bad field declarations: {exc}") from exc


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What ``fluvius config list`` shows of one field."""

    name: str
    type: str
    required: bool
    default: Any
    description: str


def field_infos(fields: dict[str, Any]) -> list[FieldInfo]:
    """The declared fields, in file order, for listing (nested fields as ``a.b``)."""
    out = []
    for name, decl in fields.items():
        type_text = str(decl["type"]) if "enum" not in decl else " | ".join(map(repr, decl["enum"]))
        out.append(
            FieldInfo(
                name=name,
                type=type_text,
                required="default" not in decl,
                default=decl.get("default"),
                description=str(decl.get("description", "")),
            )
        )
        if isinstance(decl.get("fields"), dict):
            out += [
                dataclasses.replace(sub, name=f"{name}.{sub.name}")
                for sub in field_infos(decl["fields"])
            ]
    return out
