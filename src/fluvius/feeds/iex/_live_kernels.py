"""The live decoder's compiled kernel: ahead of time, just in time, or none (pure Python).

Design note
-----------
Same policy as the batch decoder's kernels (:mod:`fluvius.feeds._kernels`, whose
``FLUVIUS_NUMBA`` switch it follows: ``0`` none, ``jit`` just in time only):

1. an **ahead-of-time** extension module (:data:`LIVE`, a
   :class:`fluvius.feeds._aot.KernelModule` like the batch kernels'), built by ``make`` at install
   (``python -m fluvius.feeds._aot`` builds this one too; a command that finds it missing
   starts that build in the background); its name hashes the kernel
   source, the field tables it freezes, the interpreter, numpy and the CPU, so a stale
   build is never loaded;
2. **just in time**: ``numba.njit(cache=True)`` of the same source;
3. none: :class:`~fluvius.feeds.iex.datagram.ColumnarSegmentDecoder` then decodes with
   the per-event decoder and builds the rows from its events (correct, slower).

The kernel is :func:`fluvius.feeds.iex._live_kernel_src.decode_datagram`.
"""

from __future__ import annotations

import os
from typing import Any

from fluvius.feeds._aot import KernelModule

__all__ = ["LIVE", "SIGNATURES", "live_kernel"]

SIGNATURES = {"decode_datagram": "i8(u1[::1], i8[::1], i8, i8, i8, i8, i8)"}

_CACHE: dict[str, Any] = {}


def _tables() -> list[bytes]:
    """The field tables the kernel freezes as constants (part of the module's name)."""
    from fluvius.feeds.iex import _live_kernel_src as src

    tables = (src.DOC, src.KIND_OF, src.PROG_START, src.PROG_LEN, src.PROG, src.ITEMSIZE)
    return [t.tobytes() for t in (*tables, src.RECV_AT, src.SEQ_AT, src.SIDE_AT, src.PARTIAL)]


LIVE: KernelModule = KernelModule(
    "fluvius_live_kernel", "fluvius.feeds.iex._live_kernel_src", SIGNATURES, _tables
)
"""The ahead-of-time module of the live kernel (built with the batch kernels)."""


def live_kernel() -> Any:
    """The compiled ``decode_datagram``, or None (numba unavailable or ``FLUVIUS_NUMBA=0``)."""
    mode = os.environ.get("FLUVIUS_NUMBA", "1")
    key = f"k{mode}"
    if key in _CACHE:
        return _CACHE[key]
    found = None
    if mode != "0":
        module = None if mode == "jit" else LIVE.load()
        if module is None and mode != "jit":
            from fluvius.feeds._aot import build_in_background

            build_in_background()  # for the next command
        if module is not None:
            found = module.decode_datagram
        else:
            try:
                import numba

                from fluvius.feeds.iex import _live_kernel_src as src

                found = numba.njit(cache=True, nogil=True)(src.decode_datagram)
            except ImportError:
                found = None
            else:  # compile now (an empty segment), not inside the first datagram's callback
                import numpy as np

                found(np.zeros(64, np.uint8), np.zeros(2 * src.NKINDS, np.int64), 40, 0, 0, 0, 1)
    _CACHE[key] = found
    return found
