"""What a collector is: a function from its declaration to facts with their source map."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluvius.errors import ConfigError

if TYPE_CHECKING:
    from fluvius.config._marks import Location, SourceMap

__all__ = ["CollectContext", "Collected", "Collector", "check_args", "resolve_path"]


@dataclass(frozen=True, slots=True)
class Collected:
    """Facts gathered by a collector: plain data (JSON-like) and where each part came from."""

    data: Any
    marks: SourceMap


@dataclass(frozen=True, slots=True)
class CollectContext:
    """What a collector may use: the spec's folder, the declaration's location, the env."""

    base: Path
    where: Location
    environ: Mapping[str, str] = field(default_factory=dict)


Collector = Callable[[Mapping[str, Any], CollectContext], Collected]


def check_args(
    args: Mapping[str, Any],
    ctx: CollectContext,
    kind: str,
    *,
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> None:
    """Raise ConfigError at the declaration for a missing or unknown collector argument."""
    allowed = ("kind", *required, *optional)
    for name in args:
        if name not in allowed:
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{ctx.where}: collector {kind!r}: unknown argument {name!r}{hint}; "
                f"allowed: {', '.join(allowed[1:])}"
            )
    for name in required:
        if name not in args:
            raise ConfigError(f"{ctx.where}: collector {kind!r}: missing argument {name!r}")


def resolve_path(value: Any, ctx: CollectContext, kind: str) -> Path:
    """A file argument, relative to the spec file's folder, that must exist."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{ctx.where}: collector {kind!r}: a path must be a string")
    path = Path(value)
    path = path if path.is_absolute() else ctx.base / path
    if not path.is_file():
        raise ConfigError(f"{ctx.where}: collector {kind!r}: file not found: {value}")
    return path
