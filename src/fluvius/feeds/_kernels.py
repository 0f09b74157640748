"""The IEX decoder's compiled kernels (``survey``, ``decode_rows``): built at install, loaded.

Design note (docs/reference/iex.md, "Compiled kernels: built at install")
------------------------------------------------------------------------
:func:`kernels` finds the machine code of :mod:`fluvius.feeds._kernel_src`, fastest first:
the **ahead-of-time** module (``numba.pycc``; loading it imports neither numba nor LLVM),
next to this file (put there by ``hatch_build.py`` at install) or in :func:`cache_dir`;
else **just in time** (``numba.njit(cache=True)``), while a detached background process
builds the module for the next commands (:func:`build_in_background`, once, under a lock;
``FLUVIUS_AOT_BUILD=0`` turns it off); else None (no numba, ``FLUVIUS_NUMBA=0``): the
reference decoder does everything. ``FLUVIUS_NUMBA=jit`` skips the module. Its name
hashes everything its machine code depends on (:func:`module_path`), so a stale build is
never loaded. Array arguments use any-layout types (``[:]``): unaligned strided views pass.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import platform
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = ["KERNEL_NAMES", "SIGNATURES", "build", "build_in_background", "cache_dir", "kernels"]

_C = "i8[::1]"
SIGNATURES = {
    "survey": (
        f"Tuple((i8[:, :], i8[::1]))(u1[::1], u2[:], u4[:], u8[:], i8, b1, b1, i8, i8, i8, "
        f"{_C}, u8[::1], {_C}, i8, {_C})"
    ),
    "decode_rows": (
        f"i8(u1[::1], u2[:], u4[:], u8[:], i8[:, :], {_C}, i8, i8, i8, u1[::1], u4[:], u8[:], "
        f"{_C}, {_C})"
    ),
}
KERNEL_NAMES = tuple(sorted(SIGNATURES))

try:  # CPython's own SHA-256, the digests of hashlib's without loading OpenSSL (~3 ms)
    from _sha256 import sha256  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - Python 3.12+ (_sha2) or another interpreter
    from hashlib import sha256

_SOURCE = Path(__file__).with_name("_kernel_src.py")
PACKAGE_DIR = Path(__file__).parent
"""Where the package's build hook (``hatch_build.py``) puts the module at install."""
LOCK_SECONDS = 3600
"""A background build's lock file older than this is stale (a build that died, or failed:
no C compiler); the next command that finds the module missing tries again."""
_CACHE: dict[str, Any] = {}
_STARTED: list[Any] = []  # the build this process started (a Popen), if any


def kernels() -> Any:
    """The compiled kernels (a namespace), or None when numba is unavailable or disabled."""
    if "k" in _CACHE:
        return _CACHE["k"]
    mode = os.environ.get("FLUVIUS_NUMBA", "1")
    found = None
    if mode != "0":
        found = None if mode == "jit" else load()
        if found is None and mode != "jit":
            build_in_background()  # for the commands that follow
        if found is None:
            try:
                import numba

                from fluvius.feeds import _kernel_src

                jit = numba.njit(cache=True, nogil=True)
                found = SimpleNamespace(
                    aot=False, **{n: jit(getattr(_kernel_src, n)) for n in KERNEL_NAMES}
                )
            except ImportError:
                found = None
    _CACHE["k"] = found
    return found


def cache_dir() -> Path:
    """Where ``python -m fluvius.feeds._kernels`` builds the module."""
    env = os.environ.get("FLUVIUS_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fluvius"


def module_path(directory: Path | None = None) -> Path:
    """Where the module is, or would be, built (``directory``: default :func:`cache_dir`).

    Its name is a hash of everything its machine code depends on."""
    import numpy as np

    from fluvius.feeds.iex._layout import programs

    h = sha256(_SOURCE.read_bytes())
    for table in programs().arrays():  # frozen into the machine code as constants
        h.update(table.tobytes())
    h.update(repr(sorted(SIGNATURES.items())).encode())
    try:  # compiled for this host's instruction set: its CPU model and features
        with open("/proc/cpuinfo") as f:
            keys = ("model name", "flags", "Features")
            cpu = "".join(sorted({s for s in f if s.startswith(keys)}))
    except OSError:
        cpu = platform.processor()
    # numpy's ABI holds within a major version (an older build loads in a newer numpy)
    h.update(f"{sys.version}|{np.__version__.split('.')[0]}|{platform.machine()}|{cpu}".encode())
    name = f"fluvius_kernels_{h.hexdigest()[:16]}"
    where = cache_dir() if directory is None else directory
    return where / f"{name}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


def load() -> SimpleNamespace | None:
    """The ahead-of-time module's kernels (next to this file, else in :func:`cache_dir`),
    or None when it has not been built (or cannot be loaded)."""
    try:
        paths = [module_path(d) for d in (PACKAGE_DIR, cache_dir())]
    except (ImportError, OSError):
        return None
    for path in paths:
        try:
            spec = importlib.util.spec_from_file_location(path.name.split(".")[0], path)
            if not path.exists() or spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except (ImportError, OSError):
            continue
        if all(hasattr(module, n) for n in KERNEL_NAMES):  # else damaged: built again
            return SimpleNamespace(aot=True, **{n: getattr(module, n) for n in KERNEL_NAMES})
    return None


def build(verbose: bool = False, directory: Path | None = None) -> Path:
    """Compile the kernels into ``directory`` (default :func:`cache_dir`); returns the
    module's path. Needs numba and a C compiler; takes a few seconds to a minute."""
    import tempfile

    pycc: Any = importlib.import_module("numba.pycc")
    from fluvius.feeds import _kernel_src

    path = module_path(directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    # built in a directory of its own, then renamed into place: a command never loads a
    # half-written module, and builds running at once do not mix their outputs
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
        cc = pycc.CC(path.name.split(".")[0])
        cc.output_dir = tmp
        cc.verbose = verbose
        cc.target_cpu = "host"  # the name's hash covers this CPU's model and features
        for fn, sig in SIGNATURES.items():
            cc.export(fn, sig)(getattr(_kernel_src, fn))
        cc.compile()
        os.replace(Path(tmp) / path.name, path)
    return path


def build_in_background() -> bool:
    """Start ``python -m fluvius.feeds._kernels`` detached, unless one is running; True if
    started. Nothing happens with ``FLUVIUS_AOT_BUILD=0``, without numba, when the cache
    directory cannot be written, or while another build holds the lock
    (:data:`LOCK_SECONDS`)."""
    import subprocess
    import time

    if os.environ.get("FLUVIUS_AOT_BUILD", "1") == "0" or _STARTED:
        return False
    if importlib.util.find_spec("numba") is None:
        return False
    lock = cache_dir() / "building.lock"
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        if lock.exists() and time.time() - lock.stat().st_mtime < LOCK_SECONDS:
            return False
        lock.unlink(missing_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except OSError:  # a read-only cache, or another command took the lock first
        return False
    with os.fdopen(fd, "w") as f:
        f.write(f"{os.getpid()}\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "fluvius.feeds._kernels"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the command, and its Ctrl-C
        env={**os.environ, "FLUVIUS_AOT_LOCK": str(lock)},
    )
    _STARTED.append(child)  # kept: a Popen collected while running warns
    return True


if __name__ == "__main__":  # pragma: no cover - a build step (make, or the above)
    print(build(verbose="-v" in sys.argv))
    if lock := os.environ.get("FLUVIUS_AOT_LOCK"):  # kept on failure: no retry storm
        Path(lock).unlink(missing_ok=True)
