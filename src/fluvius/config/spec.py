"""The config spec: which component instances to generate, from which facts and values.

::

    components: [./components]          # more component folders, relative to this file
    collect:                            # named facts, shared by instances
      universe: {kind: csv, path: universe.csv}
    instances:
      deploy:                           # its files go to OUT/deploy/
        type: fluvius-deployment
        inputs:                         # field -> facts: a name from `collect`, an inline
          universe: universe            #   collector {kind: ...}, or {instance: NAME} (the
        values:                         #   validated values of an earlier instance)
          workers: 2

Resolving an instance merges its ``values`` with its ``inputs`` (a field given both ways
is an error), validates the result with the component type's model, and keeps a source
map of every value, so that a pydantic error location (``('universe', 3, 'strike')``)
becomes ``universe.csv:5 (column 'strike')`` in the message. All problems of all
instances are reported together (:class:`ConfigValidationError`), one line each.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic

from fluvius.config._marks import Location, SourceMap, load_yaml_file
from fluvius.config.checks import run_checks
from fluvius.config.collectors import COLLECTORS, CollectContext, Collected
from fluvius.config.component import ComponentType, Registry, discover_components
from fluvius.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "ConfigSpec",
    "ConfigValidationError",
    "Instance",
    "generator_version",
    "load_config_spec",
    "resolve_instances",
]

_TOP_KEYS = ("components", "collect", "instances")
_INSTANCE_KEYS = ("type", "inputs", "values")


def generator_version() -> str:
    """The version written in every header (the fluvius version)."""
    from fluvius import __version__  # the package root imports nothing from config

    return __version__


class ConfigValidationError(ConfigError):
    """Inputs that do not fit their schemas; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more)


@dataclass(frozen=True, slots=True)
class ConfigSpec:
    """A parsed config spec file with its source map."""

    path: Path
    data: dict[str, Any]
    marks: SourceMap
    registry: Registry

    @property
    def base(self) -> Path:
        """The folder relative paths in the spec are resolved against."""
        return self.path.parent


@dataclass(frozen=True, slots=True)
class Instance:
    """A validated component instance, ready to render."""

    name: str
    component: ComponentType
    values: dict[str, Any]
    digest: str
    marks: SourceMap = field(repr=False)


def _check_keys(
    mapping: Mapping[Any, Any], allowed: Sequence[str], where: Location, what: str
) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: unknown {what} {key!r}{hint}; allowed: {', '.join(allowed)}"
            )


def load_config_spec(
    path: str | os.PathLike[str],
    *,
    components: Sequence[str | os.PathLike[str]] = (),
    env_components: str | None = None,
) -> ConfigSpec:
    """Read a config spec and discover the component types it may use.

    ``components`` are ``--components`` folders; ``env_components`` overrides the value of
    ``$FLUVIUS_COMPONENTS`` (``None``: read the environment).
    """
    origin = str(path)
    data, marks = load_yaml_file(origin)
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a config spec is a mapping with 'instances'")
    _check_keys(data, _TOP_KEYS, marks.find(()), "top-level key")
    if not isinstance(data.get("instances"), dict) or not data["instances"]:
        raise ConfigError(f"{marks.find(('instances',))}: 'instances' must be a non-empty mapping")
    base = Path(path).parent
    spec_dirs = data.get("components") or []
    if isinstance(spec_dirs, str):
        spec_dirs = [spec_dirs]
    if not isinstance(spec_dirs, list):
        raise ConfigError(f"{marks.find(('components',))}: 'components' must be a list of folders")
    resolved = [p if Path(p).is_absolute() else base / p for p in map(str, spec_dirs)]
    registry = discover_components(cli=components, env=env_components, spec=resolved)
    return ConfigSpec(Path(path), data, marks, registry)


class _DependsOnInvalid(Exception):
    """An input names an instance that failed validation (its problems are reported)."""


def _collect(
    spec: ConfigSpec,
    decl: Any,
    path: tuple[str | int, ...],
    done: dict[str, Instance],
    failed: set[str],
    environ: Mapping[str, str],
) -> Collected:
    where = spec.marks.find(path)
    if isinstance(decl, str):
        named = spec.data.get("collect") or {}
        if decl not in named:
            known = ", ".join(sorted(named)) or "none"
            raise ConfigError(
                f"{where}: no collector named {decl!r} under 'collect'; known: {known}"
            )
        return _collect(spec, named[decl], ("collect", decl), done, failed, environ)
    if not isinstance(decl, dict):
        raise ConfigError(
            f"{where}: an input is a collector name, {{kind: ...}} or {{instance: ...}}"
        )
    if "instance" in decl:
        _check_keys(decl, ("instance", "field"), where, "key")
        other = done.get(str(decl["instance"]))
        if other is None and decl["instance"] in failed:
            raise _DependsOnInvalid(decl["instance"])
        if other is None:
            raise ConfigError(
                f"{where}: instance {decl['instance']!r} is not defined before this one"
            )
        if "field" not in decl:
            return Collected(other.values, other.marks)
        if decl["field"] not in other.values:
            raise ConfigError(f"{where}: instance {other.name!r} has no field {decl['field']!r}")
        sub = SourceMap(other.marks.find((decl["field"],)))
        sub.graft((), other.marks, (decl["field"],))
        return Collected(other.values[decl["field"]], sub)
    kind = decl.get("kind")
    if kind not in COLLECTORS:
        raise ConfigError(
            f"{where}: unknown collector kind {kind!r}; known: {', '.join(sorted(COLLECTORS))}"
        )
    return COLLECTORS[kind](decl, CollectContext(spec.base, where, environ))


def _loc_text(loc: Sequence[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(the instance)"


def _problems(
    exc: pydantic.ValidationError, name: str, comp: ComponentType, marks: SourceMap
) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            fields = comp.fields if len(loc) == 1 else {}
            close = difflib.get_close_matches(str(loc[-1]), list(fields), n=1)
            message = "unknown field" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif err["type"] != "missing":
            message += f", got {err['input']!r}"
        where = f"{marks.find(loc)}: instance {name!r} ({comp.name})"
        out.append(f"{where}: field {_loc_text(loc)!r}: {message}")
    return out


def _instance_digest(comp: ComponentType, values: dict[str, Any]) -> str:
    document = {
        "generator": generator_version(),
        "component": comp.name,
        "component_files": comp.digest,
        "values": values,
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def resolve_instances(
    spec: ConfigSpec, *, environ: Mapping[str, str] | None = None
) -> list[Instance]:
    """Collect, merge and validate every instance of ``spec``, in file order.

    Raises :class:`ConfigValidationError` listing every schema problem, or
    :class:`~fluvius.errors.ConfigError` for a spec that cannot be read at all.
    """
    env = dict(os.environ) if environ is None else dict(environ)
    done: dict[str, Instance] = {}
    failed: set[str] = set()
    problems: list[str] = []
    for name, decl in spec.data["instances"].items():
        path: tuple[str | int, ...] = ("instances", name)
        where = spec.marks.find(path)
        if not isinstance(decl, dict) or "type" not in decl:
            raise ConfigError(f"{where}: instance {name!r} needs a mapping with 'type'")
        _check_keys(decl, _INSTANCE_KEYS, where, "instance key")
        try:
            comp = spec.registry.get(str(decl["type"]))
        except ConfigError as exc:
            raise ConfigError(f"{spec.marks.find((*path, 'type'))}: {exc}") from exc
        marks = SourceMap(spec.marks.find((*path, "values")) if "values" in decl else where)
        merged: dict[str, Any] = {}
        values = decl.get("values") or {}
        inputs = decl.get("inputs") or {}
        if not isinstance(values, dict) or not isinstance(inputs, dict):
            raise ConfigError(f"{where}: instance {name!r}: 'values' and 'inputs' must be mappings")
        for key, value in values.items():
            merged[key] = value
            marks.graft((key,), spec.marks, (*path, "values", key))
        for key, collector in inputs.items():
            if key in merged:
                raise ConfigError(
                    f"{spec.marks.find((*path, 'inputs', key))}: instance {name!r}: field "
                    f"{key!r} is given both in 'values' and in 'inputs'"
                )
            try:
                collected = _collect(spec, collector, (*path, "inputs", key), done, failed, env)
            except _DependsOnInvalid:
                break
            merged[key] = collected.data
            marks.graft((key,), collected.marks)
        else:
            try:
                model = comp.model.model_validate(merged)
            except pydantic.ValidationError as exc:
                problems += _problems(exc, name, comp, marks)
            else:
                dumped = model.model_dump(mode="json")
                failed_checks = run_checks(comp.checks, dumped)
                if not failed_checks:
                    done[name] = Instance(name, comp, dumped, _instance_digest(comp, dumped), marks)
                    continue
                for field_name, message in failed_checks:
                    where_field = marks.find((field_name,) if field_name else ())
                    shown = f"field {field_name!r}: " if field_name else ""
                    problems.append(
                        f"{where_field}: instance {name!r} ({comp.name}): {shown}{message}"
                    )
        failed.add(name)
    if problems:
        raise ConfigValidationError(problems)
    return list(done.values())
