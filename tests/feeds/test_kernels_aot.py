"""The ahead-of-time compiled kernels (fluvius.feeds._kernels) decode exactly as the reference."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from fluvius.feeds import _kernels
from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.synthetic import synthetic_deep, synthetic_tops


@pytest.fixture
def fresh_install(tmp_path: Path, monkeypatch: Any) -> Path:
    """No module built at install nor in the (empty) cache directory; returns the latter."""
    pytest.importorskip("numba.pycc")
    if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        pytest.skip("no C compiler: the ahead-of-time build needs one")
    monkeypatch.setenv("FLUVIUS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(_kernels, "PACKAGE_DIR", tmp_path / "package")
    monkeypatch.delenv("FLUVIUS_NUMBA", raising=False)
    monkeypatch.delenv("FLUVIUS_AOT_BUILD", raising=False)
    monkeypatch.setattr(_kernels, "_CACHE", {})
    monkeypatch.setattr(_kernels, "_STARTED", [])
    return tmp_path / "cache"


@pytest.mark.slow
def test_aot_module_builds_loads_and_agrees(
    tmp_path: Path, monkeypatch: Any, fresh_install: Path
) -> None:
    monkeypatch.setattr(_kernels, "_STARTED", [object()])  # no background build
    assert _kernels.load() is None  # nothing built in the package nor the cache directory
    built = _kernels.build(directory=tmp_path / "package")  # what the install does
    assert built.parent == tmp_path / "package"
    assert not fresh_install.exists()
    assert _kernels.load() is not None  # loaded without numba
    assert _kernels.kernels().aot
    for make in (synthetic_tops, synthetic_deep):
        path = tmp_path / f"{make.__name__}.pcap"
        make(3000, seed=5).write(path)
        _agree(path)
        damaged = bytearray(path.read_bytes())
        pos, k = 24, 0
        while pos + 16 <= len(damaged):  # every 7th record: a byte of its IEX payload
            incl = int.from_bytes(damaged[pos + 8 : pos + 12], "little")
            if k % 7 == 0 and incl > 42 + 40 + 3:
                damaged[pos + 16 + 42 + 40 + (k % 4)] ^= 0x5A  # a block length or type
            pos, k = pos + 16 + incl, k + 1
        path = path.with_name(f"damaged_{path.name}")
        path.write_bytes(damaged)
        _agree(path)


def _agree(path: Path) -> None:
    compiled = decode_capture(path, chunk_bytes=1 << 16)
    plain = decode_capture(path, chunk_bytes=1 << 16, use_numba=False)
    assert compiled.report.as_dict() == plain.report.as_dict()
    report = compiled.report
    assert report.corrupt or report.unknown_types or "damaged" not in path.name
    assert compiled.batches.keys() == plain.batches.keys()
    for kind, batch in plain.batches.items():
        assert (compiled.batches[kind].rows == batch.rows).all()


def test_disabled_kernels(monkeypatch: Any) -> None:
    monkeypatch.setenv("FLUVIUS_NUMBA", "0")
    monkeypatch.setattr(_kernels, "_CACHE", {})
    assert _kernels.kernels() is None


@pytest.mark.slow
def test_a_missing_module_is_built_in_the_background(monkeypatch: Any, fresh_install: Path) -> None:
    import time

    assert not _kernels.kernels().aot  # missing: this command compiles just in time...
    (child,) = _kernels._STARTED  # ...and has started the build for the next one
    lock = fresh_install / "building.lock"
    assert lock.exists()
    monkeypatch.setattr(_kernels, "_STARTED", [])
    assert not _kernels.build_in_background()  # the lock keeps a second build from starting
    deadline = time.monotonic() + 300
    while lock.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    child.wait(timeout=60)
    assert not lock.exists(), "the background build did not finish"
    assert _kernels.load() is not None


def test_background_build_can_be_turned_off(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("FLUVIUS_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("FLUVIUS_AOT_BUILD", "0")
    monkeypatch.setattr(_kernels, "_STARTED", [])
    assert not _kernels.build_in_background()
    assert not (tmp_path / "building.lock").exists()


def test_every_kernel_has_a_signature() -> None:
    """The ahead-of-time module exports exactly the kernels the decoder asks for."""
    from fluvius.feeds import _kernel_src

    assert all(callable(getattr(_kernel_src, name)) for name in _kernels.SIGNATURES)
