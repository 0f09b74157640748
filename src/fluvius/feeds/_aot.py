"""Ahead-of-time compiled decoder kernels: built at install, loaded without numba.

Design note
-----------
numba's import costs about 0.3 s of CPU on every run, even when the compiled kernels come
from its on-disk cache, and its first compilation of the kernels takes tens of seconds;
for a command that decodes a 70 MB capture in 0.15 s either is most of the time. So the
kernels of :mod:`fluvius.feeds._kernel_src` are compiled with ``numba.pycc`` into an
ordinary CPython extension module, which :meth:`KernelModule.load` imports with nothing
but numpy. :data:`BATCH` is that module (the batch and the live decoder call the same
``decode_rows``). It is looked for in two places:

1. **next to this file**: ``pip install`` builds it there. The package's build hook
   (``hatch_build.py``, run by ``pip install .`` and ``pip install -e .``) compiles the
   kernels into the wheel (or, editable, into the source tree); a fresh install's first
   command loads it and compiles nothing;
2. **the user cache directory** (``$FLUVIUS_CACHE_DIR``, else ``$XDG_CACHE_HOME/fluvius``,
   else ``~/.cache/fluvius``): ``python -m fluvius.feeds._aot`` builds it there, and a
   command that finds neither (an install without a C compiler, an edited kernel) starts
   that build in a detached background process (:func:`build_in_background`, once per
   cache directory; ``FLUVIUS_AOT_BUILD=0`` turns it off) and carries on with numba's
   just-in-time compilation (:mod:`fluvius.feeds._kernels`).

The module's name carries a hash of the kernel source and of the tables it freezes, the
interpreter, numpy's major version (its ABI) and the machine, so an edited kernel or
another interpreter never loads a stale build. Array arguments use numba's any-layout
types (``[:]``), so strided views (unaligned ``u4``/``u8`` views at every byte offset) are
accepted.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from types import ModuleType

__all__ = [
    "BATCH",
    "LOCK_SECONDS",
    "PACKAGE_DIR",
    "SIGNATURES",
    "KernelModule",
    "build_in_background",
    "cache_dir",
]

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

try:  # CPython's own SHA-256, the digests of hashlib's without loading OpenSSL (~3 ms)
    from _sha256 import sha256  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # pragma: no cover - Python 3.12+ (_sha2) or another interpreter
    from hashlib import sha256

_LOADED: dict[str, ModuleType | None] = {}  # module path -> the loaded module or None
PACKAGE_DIR = Path(__file__).parent
"""Where the package's build hook (``hatch_build.py``) puts the module at install."""
LOCK_SECONDS = 3600
"""A background build's lock file older than this is stale (a build that died, or failed:
no C compiler); the next command that finds a module missing tries again."""
_STARTED: list[Any] = []  # the build this process started (a Popen), if any


def cache_dir() -> Path:
    """Where the compiled modules live (created by :meth:`KernelModule.build`)."""
    env = os.environ.get("FLUVIUS_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "fluvius"


def _cpu() -> str:
    """The CPU model and features: the module is compiled for this host's instruction set."""
    try:
        with open("/proc/cpuinfo") as f:
            info = [line for line in f if line.startswith(("model name", "flags", "Features"))]
        return "".join(sorted(set(info)))
    except OSError:
        return platform.processor()


def _nothing() -> Iterable[bytes]:
    return ()


@dataclass(frozen=True)
class KernelModule:
    """One extension module of numba kernels, compiled ahead of time into :func:`cache_dir`.

    ``source`` names the module of plain-Python kernels, ``signatures`` the functions it
    exports (name -> numba signature), ``depends`` any bytes their machine code also
    depends on (tables frozen into it as constants).
    """

    prefix: str
    source: str
    signatures: Mapping[str, str]
    depends: Callable[[], Iterable[bytes]] = _nothing

    def name(self) -> str:
        """The module's name: a hash of everything its machine code depends on."""
        import numpy as np

        source = importlib.import_module(self.source)
        h = sha256(Path(str(source.__file__)).read_bytes())
        for part in self.depends():
            h.update(part)
        h.update(repr(sorted(self.signatures.items())).encode())
        # numpy's ABI holds within a major version (an older build loads in a newer numpy)
        numpy_abi = np.__version__.split(".")[0]
        h.update(f"{sys.version}|{numpy_abi}|{platform.machine()}|{_cpu()}".encode())
        return f"{self.prefix}_{h.hexdigest()[:16]}"

    def path(self, name: str | None = None, directory: Path | None = None) -> Path:
        """Where the module named ``name`` (default :meth:`name`) is, or would be, built
        (``directory``: default :func:`cache_dir`)."""
        where = cache_dir() if directory is None else directory
        return where / f"{name or self.name()}{importlib.machinery.EXTENSION_SUFFIXES[0]}"

    def load(self) -> ModuleType | None:
        """The compiled module, or None when it has not been built (or cannot be loaded).

        Looked for next to this file (built at install by the package's build hook), then
        in :func:`cache_dir` (built by ``python -m fluvius.feeds._aot``).
        """
        try:
            name = self.name()
        except (ImportError, OSError):
            return None
        for directory in (PACKAGE_DIR, cache_dir()):
            module = self._load(name, self.path(name, directory))
            if module is not None:
                return module
        return None

    def _load(self, name: str, path: Path) -> ModuleType | None:
        key = str(path)
        if key in _LOADED:
            return _LOADED[key]
        module: ModuleType | None = None
        try:
            if path.exists():
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is not None and spec.loader is not None:
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
        except (ImportError, OSError):
            module = None
        if module is not None and not all(hasattr(module, fn) for fn in self.signatures):
            module = None  # not what this source exports (a damaged file): built again
        _LOADED[key] = module
        return module

    def build(self, verbose: bool = False, directory: Path | None = None) -> Path:
        """Compile the kernels into ``directory`` (default :func:`cache_dir`); returns the
        module's path.

        Needs numba and a C compiler; takes a few seconds to a minute.
        """
        import tempfile

        pycc: Any = importlib.import_module("numba.pycc")
        source = importlib.import_module(self.source)
        name = self.name()
        path = self.path(name, directory)
        path.parent.mkdir(parents=True, exist_ok=True)
        # built in a directory of its own, then renamed into place: a command never loads
        # a half-written module, and builds running at once (make's and a background
        # one) do not mix their outputs
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
            cc = pycc.CC(name)
            cc.output_dir = tmp
            cc.verbose = verbose
            cc.target_cpu = "host"  # the name's hash covers this CPU's model and features
            for fn, sig in self.signatures.items():
                cc.export(fn, sig)(getattr(source, fn))
            cc.compile()
            os.replace(Path(tmp) / path.name, path)
        _LOADED.pop(str(path), None)
        return path


def _tables() -> list[bytes]:
    """The field programs the kernels freeze as constants (part of the module's name)."""
    from fluvius.feeds.iex._layout import programs

    return [a.tobytes() for a in programs().arrays()]


BATCH: KernelModule = KernelModule(
    "fluvius_kernels", "fluvius.feeds._kernel_src", SIGNATURES, _tables
)
"""The decoder's kernels (:mod:`fluvius.feeds._kernels`)."""


def _lock() -> Path:
    return cache_dir() / "building.lock"


def build_in_background() -> bool:
    """Start ``python -m fluvius.feeds._aot`` detached, unless one is running; True if started.

    Nothing happens with ``FLUVIUS_AOT_BUILD=0``, without numba, when the cache directory
    cannot be written, or while another build holds the lock (:data:`LOCK_SECONDS`).
    """
    import subprocess
    import time

    if os.environ.get("FLUVIUS_AOT_BUILD", "1") == "0" or _STARTED:
        return False
    if importlib.util.find_spec("numba") is None:
        return False
    lock = _lock()
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
    env = {**os.environ, "FLUVIUS_AOT_LOCK": str(lock)}
    child = subprocess.Popen(
        [sys.executable, "-m", "fluvius.feeds._aot"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the command, and its Ctrl-C
        env=env,
    )
    _STARTED.append(child)  # kept: a Popen collected while running warns
    return True


def main(argv: list[str]) -> None:  # pragma: no cover - a build step (make, or the above)
    """Build the kernels' module; a background build then removes its lock."""
    print(BATCH.build(verbose="-v" in argv))
    lock = os.environ.get("FLUVIUS_AOT_LOCK")
    if lock:  # kept on failure, so that a machine without a compiler does not retry often
        Path(lock).unlink(missing_ok=True)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
