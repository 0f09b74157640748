"""Cross-field checks declared in data: rules one field's schema cannot say alone.

A component type may list ``checks`` in its ``component.yaml``::

    checks:
      - that: workers_max >= workers_min            # a Jinja expression over the values
        field: workers_max                           # where the error points
        message: "workers_max ({{ workers_max }}) is below workers_min ({{ workers_min }})"

Each ``that`` runs in Jinja's sandbox over the validated values (the same data the
templates see, with the same filters, e.g. ``duplicates``); a false result is a problem
reported at the named field's source location, with the message rendered over the values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import jinja2
import jinja2.sandbox

from fluvius.errors import ConfigError

__all__ = ["Check", "duplicates", "parse_checks", "run_checks", "startingwith"]

_CHECK_KEYS = frozenset({"that", "field", "message"})


def duplicates(rows: list[dict[str, Any]], attribute: str) -> list[str]:
    """The values of ``attribute`` (comma-separated names) that occur in more than one row.

    >>> duplicates([{"a": 1, "b": 2}, {"a": 1, "b": 3}, {"a": 1, "b": 2}], "a,b")
    ['1 2']
    """
    names = [n.strip() for n in attribute.split(",")]
    keys = [" ".join(str(row.get(n)) for n in names) for row in rows]
    counts = Counter(keys)
    return [k for k in dict.fromkeys(keys) if counts[k] > 1]


def startingwith(value: Any, prefix: str) -> bool:
    """Jinja test: ``zone is startingwith(region)``."""
    return str(value).startswith(prefix)


@dataclass(frozen=True, slots=True)
class Check:
    """One declared check: a condition, the field it concerns, and the message."""

    that: str
    field: str
    message: str


def parse_checks(raw: Any, fields: dict[str, Any], where: str) -> tuple[Check, ...]:
    """Read and compile-check the ``checks`` list of a component schema."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"{where}: 'checks' must be a list of {{that, field, message}}")
    env = _environment()
    checks = []
    for i, item in enumerate(raw):
        here = f"{where}: checks[{i}]"
        if not isinstance(item, dict) or "that" not in item or "message" not in item:
            raise ConfigError(f"{here}: expected a mapping with 'that' and 'message'")
        stray = sorted(set(item) - _CHECK_KEYS)
        if stray:
            raise ConfigError(f"{here}: unknown key {stray[0]!r}; allowed: {sorted(_CHECK_KEYS)}")
        field = str(item.get("field", ""))
        if field and field not in fields:
            raise ConfigError(f"{here}: field {field!r} is not a field of this type")
        try:
            env.compile_expression(str(item["that"]))
            env.from_string(str(item["message"]))
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(f"{here}: {exc}") from exc
        checks.append(Check(str(item["that"]), field, str(item["message"])))
    return tuple(checks)


def _environment() -> jinja2.sandbox.SandboxedEnvironment:
    env = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined)
    env.filters["duplicates"] = duplicates
    env.tests["startingwith"] = startingwith
    return env


def run_checks(checks: tuple[Check, ...], values: dict[str, Any]) -> list[tuple[str, str]]:
    """Evaluate ``checks`` over ``values``: a ``(field, message)`` pair per failed check."""
    env = _environment()
    failed = []
    for check in checks:
        try:
            ok = env.compile_expression(check.that, undefined_to_none=False)(**values)
            if not ok:
                failed.append((check.field, env.from_string(check.message).render(values)))
        except (jinja2.TemplateError, TypeError, ValueError) as exc:
            failed.append((check.field, f"check {check.that!r} could not run: {exc}"))
    return failed
