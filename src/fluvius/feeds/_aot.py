"""Ahead-of-time compiled decoder kernels: build once per machine, load without numba.

Design note
-----------
numba's import costs about 0.3 s of CPU on every run, even when the compiled kernels
come from its on-disk cache; for a command that decodes a 70 MB capture in 0.15 s that
is most of the time. ``python -m fluvius.feeds._aot`` compiles the kernels of
:mod:`fluvius.feeds._kernel_src` with ``numba.pycc`` into an ordinary CPython extension
module in the user cache directory (``$FLUVIUS_CACHE_DIR``, else
``$XDG_CACHE_HOME/fluvius``, else ``~/.cache/fluvius``). :func:`load` imports it with
nothing but numpy.

The module's name carries a hash of the kernel source, the Python and numpy versions and
the machine, so an edited kernel or another interpreter never loads a stale build; a
missing or unloadable module simply means the just-in-time path
(:mod:`fluvius.feeds._kernels`). Array arguments use numba's any-layout types (``[:]``),
so strided views (unaligned ``u4``/``u8`` views at every byte offset) are accepted.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["SIGNATURES", "build", "cache_dir", "load", "module_name"]

_I, _C = "i8[:]", "i8[::1]"
SIGNATURES = {
    "walk_blocks": f"UniTuple(i8[:], 6)(u1[::1], {_I}, {_I}, {_I})",
    "gather1": f"u1[:](u1[::1], {_I}, i8)",
    "gather4": f"u4[:](u1[::1], {_I}, i8)",
    "gather8": f"i8[:](u1[::1], {_I}, i8, i8)",
    "gather_text": f"u8[:](u1[::1], {_I}, i8, i8)",
    # the fused path's index arrays are contiguous (fill_rows makes sure): C layout
    "scan": f"Tuple((b1, i8[:]))(u1[::1], {', '.join([_C] * 7)})",
    "survey": (
        f"Tuple((i8[:, :], i8[::1], i8[::1]))(u1[::1], u2[:], u4[:], u8[:], i8, b1, i8, i8, i8, "
        f"{', '.join([_C] * 4)}, i4[::1], {_C}, {_C})"
    ),
    "fill": (
        f"i8(u1[::1], u4[:], u8[:], {', '.join([_C] * 10)}, i8[:, ::1], "
        f"{', '.join([_C] * 5)}, u1[::1], u4[:], u8[:], i8, i8)"
    ),
}

_LOADED: dict[str, ModuleType | None] = {}


def cache_dir() -> Path:
    """Where the compiled module lives (created by :func:`build`)."""
    env = os.environ.get("FLUVIUS_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fluvius"


def module_name() -> str:
    """The extension module's name: a hash of everything its machine code depends on."""
    import numpy as np

    from fluvius.feeds import _kernel_src

    h = hashlib.sha256(Path(_kernel_src.__file__).read_bytes())
    h.update(repr(sorted(SIGNATURES.items())).encode())
    h.update(f"{sys.version}|{np.__version__}|{platform.machine()}|{_cpu()}".encode())
    return f"fluvius_kernels_{h.hexdigest()[:16]}"


def _cpu() -> str:
    """The CPU model and features: the module is compiled for this host's instruction set."""
    try:
        with open("/proc/cpuinfo") as f:
            info = [line for line in f if line.startswith(("model name", "flags", "Features"))]
        return "".join(sorted(set(info)))
    except OSError:
        return platform.processor()


def _path(name: str) -> Path:
    return cache_dir() / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


def load() -> ModuleType | None:
    """The compiled module, or None when it has not been built (or cannot be loaded)."""
    if "m" in _LOADED:
        return _LOADED["m"]
    module: ModuleType | None = None
    try:
        name = module_name()
        path = _path(name)
        if path.exists():
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
    except (ImportError, OSError):
        module = None
    _LOADED["m"] = module
    return module


def build(verbose: bool = False) -> Path:
    """Compile the kernels ahead of time into the cache directory; returns the module path.

    Needs numba and a C compiler; takes a few seconds to a minute.
    """
    from fluvius.feeds import _kernel_src

    pycc: Any = importlib.import_module("numba.pycc")

    name = module_name()
    out = cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    cc = pycc.CC(name)
    cc.output_dir = str(out)
    cc.verbose = verbose
    cc.target_cpu = "host"  # the name's hash covers this CPU's model and features
    for fn, sig in SIGNATURES.items():
        cc.export(fn, sig)(getattr(_kernel_src, fn))
    cc.compile()
    _LOADED.pop("m", None)
    return _path(name)


if __name__ == "__main__":  # pragma: no cover - a build step, run by hand or by make
    print(build(verbose="-v" in sys.argv[1:]))
    from fluvius.feeds.iex._live_kernels import build as build_live  # the live decoder's kernel

    print(build_live(verbose="-v" in sys.argv[1:]))
