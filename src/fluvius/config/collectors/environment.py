"""Environment settings: named variables, or all variables under a prefix.

``{kind: env, names: [A, B], prefix: FLUVIUS_CFG_, defaults: {a: 1}}`` gives a mapping
whose keys are the variable names in lower case with the prefix removed. A variable named
in ``names`` that is unset and has no default is an error: a configuration must not
silently depend on who ran the generator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fluvius.config._marks import Location, SourceMap
from fluvius.config.collectors.base import CollectContext, Collected, check_args
from fluvius.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["collect_env"]


def collect_env(args: Mapping[str, Any], ctx: CollectContext) -> Collected:
    """``{kind: env, names: [...], prefix: P, defaults: {...}}``."""
    check_args(args, ctx, "env", optional=("names", "prefix", "defaults"))
    prefix = str(args.get("prefix", ""))
    names = args.get("names", [])
    defaults = args.get("defaults", {})
    if not isinstance(names, list) or not isinstance(defaults, dict):
        raise ConfigError(f"{ctx.where}: collector 'env': names is a list, defaults a mapping")
    if not names and not prefix:
        raise ConfigError(f"{ctx.where}: collector 'env': give names, a prefix, or both")
    chosen = sorted(k for k in ctx.environ if prefix and k.startswith(prefix) and k != prefix)
    chosen += [prefix + str(n) if not str(n).startswith(prefix) else str(n) for n in names]
    data: dict[str, Any] = {}
    marks = SourceMap(ctx.where)
    for var in dict.fromkeys(chosen):
        key = var.removeprefix(prefix).lower()
        if var in ctx.environ:
            data[key] = ctx.environ[var]
            marks.add((key,), Location(f"environment variable ${var}"))
        elif key in defaults:
            data[key] = defaults[key]
        else:
            raise ConfigError(f"{ctx.where}: collector 'env': ${var} is not set and has no default")
    for key, value in sorted(defaults.items()):
        data.setdefault(str(key), value)
    return Collected(data, marks)
