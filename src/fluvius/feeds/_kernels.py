"""The IEX decoder's compiled kernels (numba): ``survey`` and ``decode_rows``.

Design note
-----------
Their source is :mod:`fluvius.feeds._kernel_src`; the batch decoder
(:mod:`fluvius.feeds.iex.batch`) and the live decoder (:mod:`fluvius.feeds.iex.datagram`)
both call ``decode_rows``. Without them (numba missing, or ``FLUVIUS_NUMBA=0``) both
decoders fall back to the reference decoder (:mod:`fluvius.feeds.iex.reference`).

Where the compiled code comes from, fastest first:

1. an **ahead-of-time compiled** extension module (:mod:`fluvius.feeds._aot`) in the user
   cache directory, built by ``python -m fluvius.feeds._aot``: loading it needs neither
   numba nor LLVM, so a short command does not pay numba's import (~0.3 s of CPU);
2. **just in time** with ``numba.njit(cache=True)``: numba's import on every run, the
   compilation only on the first run (numba's on-disk cache).

The install builds the ahead-of-time module; when it is missing, the first :func:`kernels`
starts its build in the background (:func:`fluvius.feeds._aot.build_in_background`) for
the commands that follow.

:func:`kernels` returns ``None`` when neither is available or ``FLUVIUS_NUMBA=0`` is set
(the decoders then use the reference decoder); ``FLUVIUS_NUMBA=jit`` skips the
ahead-of-time module.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

__all__ = ["KERNEL_NAMES", "kernels"]

KERNEL_NAMES = ("decode_rows", "survey")

_CACHE: dict[str, Any] = {}


def kernels() -> Any:
    """The compiled kernels (a namespace), or None when numba is unavailable or disabled."""
    if "k" in _CACHE:
        return _CACHE["k"]
    mode = os.environ.get("FLUVIUS_NUMBA", "1")
    if mode == "0":
        return None
    found = None if mode == "jit" else _load_aot()
    if found is None:
        try:
            found = _compile()
        except ImportError:
            found = None
    _CACHE["k"] = found
    return found


def _load_aot() -> SimpleNamespace | None:
    from fluvius.feeds._aot import BATCH, build_in_background

    module = BATCH.load()
    if module is None:  # built for the next command; this one takes the fallback
        build_in_background()
        return None
    return SimpleNamespace(aot=True, **{name: getattr(module, name) for name in KERNEL_NAMES})


def _compile() -> SimpleNamespace:  # pragma: no cover - exercised when numba is installed
    import numba

    from fluvius.feeds import _kernel_src

    jit = numba.njit(cache=True, nogil=True)
    return SimpleNamespace(
        aot=False, **{name: jit(getattr(_kernel_src, name)) for name in KERNEL_NAMES}
    )
