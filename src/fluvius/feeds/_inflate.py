"""A gzipped capture inflated in one piece with libdeflate, when its size allows.

Design note
-----------
python-isal inflates a stream, a few MiB at a time into one reused buffer: memory stays
bounded whatever the file's size, which streaming a day of data needs. libdeflate cannot
stream (it inflates a whole gzip member into a buffer that holds all of it) but inflates
about 1.5 times as fast on this machine (0.95 against 1.45 GB/s of output, the same
synthetic TOPS capture, buffers reused; docs/benchmarks.md, "iex: gzip (issue 14,
night)"). So a decode that keeps the whole capture's rows anyway
(:func:`fluvius.feeds.iex.batch.decode_capture`) inflates a file of up to
:data:`WHOLE_BYTES` in one piece, and everything else streams with isal.

libdeflate comes with the ``deflate`` package, whose extension module is libdeflate built
in, its C functions exported. The package's own ``gzip_decompress`` returns a new
``bytearray``; the decoder wants the data in a ``numpy`` buffer (huge pages for a large
one: the kernel's first touch of 4 KiB pages cost more than the gain), so the C function
``libdeflate_gzip_decompress_ex`` is called through ``ctypes`` on that library. Without
it (another build of the package, a platform without it) :func:`inflate_whole` returns
None and the capture streams.

Anything but one intact gzip member of the size its trailer gives (a damaged or truncated
stream, several members, data after the member, a size beyond :data:`WHOLE_BYTES`) returns
None too: the stream reader then decodes what it can and words the problem.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    from numpy.typing import NDArray

__all__ = ["WHOLE_BYTES", "inflate_whole", "libdeflate"]

WHOLE_BYTES = 256 << 20
"""The largest inflated capture :func:`inflate_whole` takes (bytes): at most this much
memory beside the rows for a faster inflation."""

_SUCCESS = 0  # enum libdeflate_result


@cache
def libdeflate() -> Any | None:
    """The libdeflate library of the ``deflate`` package (``ctypes``), or None."""
    import ctypes  # here: 4 ms of import that a plain capture never needs

    try:
        from deflate import _deflate

        lib = ctypes.CDLL(_deflate.__file__)
        lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
        lib.libdeflate_alloc_decompressor.argtypes = []
        lib.libdeflate_free_decompressor.restype = None
        lib.libdeflate_free_decompressor.argtypes = [ctypes.c_void_p]
        size_p = ctypes.POINTER(ctypes.c_size_t)
        inflate = lib.libdeflate_gzip_decompress_ex
        inflate.restype = ctypes.c_int
        inflate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        inflate.argtypes += [ctypes.c_void_p, ctypes.c_size_t, size_p, size_p]
    except (ImportError, OSError, AttributeError):  # pragma: no cover - deflate is a dependency
        return None
    return lib


def inflate_whole(path: str | Path, inflated: int) -> NDArray[np.uint8] | None:
    """The gzip file ``path`` inflated in one piece, whose trailer gives the ``inflated``
    size, or None when it cannot be (see the module's note).

    >>> import gzip, pathlib, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp()) / "c.gz"
    >>> _ = tmp.write_bytes(gzip.compress(b"pcap" * 1000))
    >>> bytes(inflate_whole(tmp, 4000)[:8])
    b'pcappcap'
    >>> inflate_whole(tmp, 3999) is None  # not the size of the member: the stream decodes
    True
    """
    import ctypes

    lib = libdeflate()
    size = os.path.getsize(path)
    if lib is None or inflated > WHOLE_BYTES or size < 18:
        return None
    packed = np.empty(size, dtype=np.uint8)
    with open(path, "rb", buffering=0) as fh:
        if fh.readinto(packed.data) != size:
            return None
    out = np.empty(max(inflated, 1), dtype=np.uint8)
    used, made = ctypes.c_size_t(), ctypes.c_size_t()
    inflater = lib.libdeflate_alloc_decompressor()
    if not inflater:
        return None
    try:
        result = lib.libdeflate_gzip_decompress_ex(
            inflater, packed.ctypes.data, size, out.ctypes.data, inflated,
            ctypes.byref(used), ctypes.byref(made),
        )  # fmt: skip
    finally:
        lib.libdeflate_free_decompressor(inflater)
    if result != _SUCCESS or used.value != size or made.value != inflated:
        return None
    return out[:inflated]
