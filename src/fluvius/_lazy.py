"""Lazy re-exports for package ``__init__`` files (PEP 562 module ``__getattr__``).

A package that re-exports names from its submodules imports all of them when any one
is used: ``fluvius.feeds.iex.export`` would load the live decoder, and ``fluvius.cli``
the graph engine. With :func:`lazy_exports` the package imports a submodule the first
time one of its names is read, and then keeps the value as a plain module global.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` given ``{name: defining module}``.

    >>> getattr_, dir_ = lazy_exports("fluvius", {"Graph": "fluvius.graph"})
    >>> getattr_("Graph").__name__
    'Graph'
    """
    module = sys.modules[package]

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(source), name)
        setattr(module, name, value)  # the next read is a plain global
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(module), *exports})

    return __getattr__, __dir__
