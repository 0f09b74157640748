"""The live decoder's compiled kernel: ahead of time, just in time, or none (pure Python).

Design note
-----------
Same policy as the batch decoder's kernels (:mod:`fluvius.feeds._kernels`, whose
``FLUVIUS_NUMBA`` switch it follows: ``0`` none, ``jit`` just in time only):

1. an **ahead-of-time** extension module in the same cache directory as the batch kernels
   (:func:`fluvius.feeds._aot.cache_dir`), built by ``make kernels``
   (``python -m fluvius.feeds._aot`` builds this one too); its name hashes the kernel
   source, the field tables it freezes, the interpreter, numpy and the CPU, so a stale
   build is never loaded;
2. **just in time**: ``numba.njit(cache=True)`` of the same source;
3. none: :class:`~fluvius.feeds.iex.datagram.ColumnarSegmentDecoder` then decodes with
   the per-event decoder and builds the rows from its events (correct, slower).

The kernel is :func:`fluvius.feeds.iex._live_kernel_src.decode_datagram`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["SIGNATURES", "build", "live_kernel", "load", "module_name"]

SIGNATURES = {"decode_datagram": "i8(u1[::1], i8[::1], i8, i8, i8, i8, i8)"}

_CACHE: dict[str, Any] = {}


def module_name() -> str:
    """The extension module's name: a hash of everything its machine code depends on."""
    import platform

    import numpy as np

    from fluvius.feeds import _aot
    from fluvius.feeds.iex import _live_kernel_src as src

    h = hashlib.sha256(Path(src.__file__).read_bytes())
    for table in (src.DOC, src.KIND_OF, src.PROG_START, src.PROG_LEN, src.PROG, src.ITEMSIZE):
        h.update(table.tobytes())
    for table in (src.RECV_AT, src.SEQ_AT, src.SIDE_AT, src.PARTIAL):
        h.update(table.tobytes())
    h.update(repr(sorted(SIGNATURES.items())).encode())
    h.update(f"{sys.version}|{np.__version__}|{platform.machine()}|{_aot._cpu()}".encode())
    return f"fluvius_live_kernel_{h.hexdigest()[:16]}"


def _path(name: str) -> Path:
    from fluvius.feeds import _aot

    return _aot.cache_dir() / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


def load() -> Any:
    """The ahead-of-time module, or None when it has not been built (or cannot be loaded)."""
    try:
        name = module_name()
        path = _path(name)
        if not path.exists():
            return None
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (ImportError, OSError):
        return None
    return module


def build(verbose: bool = False) -> Path:
    """Compile the kernel ahead of time into the cache directory; returns the module path."""
    from fluvius.feeds.iex import _live_kernel_src as src

    pycc: Any = importlib.import_module("numba.pycc")
    name = module_name()
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    cc = pycc.CC(name)
    cc.output_dir = str(path.parent)
    cc.verbose = verbose
    cc.target_cpu = "host"  # the name's hash covers this CPU's model and features
    for fn, sig in SIGNATURES.items():
        cc.export(fn, sig)(getattr(src, fn))
    cc.compile()
    _CACHE.clear()
    return path


def live_kernel() -> Any:
    """The compiled ``decode_datagram``, or None (numba unavailable or ``FLUVIUS_NUMBA=0``)."""
    mode = os.environ.get("FLUVIUS_NUMBA", "1")
    key = f"k{mode}"
    if key in _CACHE:
        return _CACHE[key]
    found = None
    if mode != "0":
        module = None if mode == "jit" else load()
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
