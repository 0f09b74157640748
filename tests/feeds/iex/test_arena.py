"""Chunks writing into one arena: the joined rows equal the numpy path's, fitting or not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from fluvius.feeds.iex import batch
from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.synthetic import synthetic_deep, synthetic_tops

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


def _assert_same(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    compiled = decode_capture(path, chunk_bytes=64 << 10)
    numpy_only = decode_capture(path, chunk_bytes=64 << 10, use_numba=False)
    assert compiled.batches.keys() == numpy_only.batches.keys()
    for kind, b in compiled.batches.items():
        assert b.rows.tobytes() == numpy_only.batches[kind].rows.tobytes(), kind
    return {kind: b.rows for kind, b in compiled.batches.items()}


@pytest.mark.parametrize("make", [synthetic_tops, synthetic_deep])
def test_many_chunks_in_one_arena(tmp_path: Path, make: Any) -> None:
    pytest.importorskip("numba")
    path = make(20_000, seed=3).write(tmp_path / "c.pcap")
    rows = _assert_same(path)
    # the frequent kinds were written end to end into the arena: views, not a copy
    assert any(r.base is not None and r.base.nbytes > r.nbytes for r in rows.values())


def test_chunks_that_do_not_fit_are_joined_by_copy(tmp_path: Path, monkeypatch: Any) -> None:
    pytest.importorskip("numba")
    path = synthetic_tops(20_000, seed=4).write(tmp_path / "c.pcap")

    arena = batch.Arena

    def small(capture_bytes: int) -> batch.Arena:  # room for about three chunks
        return arena(capture_bytes // 4, margin=1.0, min_rows=1)

    monkeypatch.setattr(batch, "Arena", small)
    _assert_same(path)


def test_take_refuses_what_does_not_fit() -> None:
    arena = batch.Arena(100, margin=1.0, min_rows=1)
    itemsize = np.array([10, 20], dtype=np.int64)
    first = arena.take(np.array([30, 40]), itemsize, 50)  # regions of 6 and 4 rows
    assert first is not None
    assert first[1].tolist() == [0, 60]
    second = arena.take(np.array([30, 40]), itemsize, 50)
    assert second is not None
    assert second[1].tolist() == [30, 100]
    assert arena.take(np.array([10, 0]), itemsize, 50) is None


def _damage(path: Path, out: Path, every: int) -> tuple[int, int]:
    """Every ``every``-th segment of a classic pcap damaged: alternately its first block's
    length bumped (corrupt: no rows) or its second message made an undocumented type (the
    reference decoder keeps its other messages). Returns (corrupt, undocumented) counts."""
    data = bytearray(path.read_bytes())
    pos, i, done = 24, 0, [0, 0]
    while pos + 16 <= len(data):
        incl = int.from_bytes(data[pos + 8 : pos + 12], "little")
        h = pos + 16 + 42  # Ethernet, IPv4 and UDP headers before the IEX-TP header
        if incl > 42 + 40 and int.from_bytes(data[h + 14 : h + 16], "little") > 1:
            if i % every == 0:
                data[h + 40] ^= 1
                done[0] += 1
            elif i % every == every // 2:
                second = h + 42 + int.from_bytes(data[h + 40 : h + 42], "little")
                data[second + 2] = 0x7A  # "z": no such message type
                done[1] += 1
            i += 1
        pos += 16 + incl
    out.write_bytes(data)
    return done[0], done[1]


@pytest.mark.parametrize("make", [synthetic_tops, synthetic_deep])
def test_damaged_chunks_write_one_buffer(tmp_path: Path, make: Any) -> None:
    """Clean runs (the kernel's rows) and unclean segments (the reference decoder's rows)
    interleave in file order in one buffer per chunk, and into the capture's arena."""
    pytest.importorskip("numba")
    clean = make(20_000, seed=5).write(tmp_path / "clean.pcap")
    corrupt, undocumented = _damage(clean, tmp_path / "d.pcap", 37)
    assert corrupt > 20
    assert undocumented > 20
    rows = _assert_same(tmp_path / "d.pcap")
    damaged = decode_capture(tmp_path / "d.pcap", chunk_bytes=64 << 10).report
    assert damaged.corrupt >= corrupt  # a bumped length may also cut a message short
    assert sum(damaged.unknown_types.values()) == undocumented
    assert any(r.base is not None and r.base.nbytes > r.nbytes for r in rows.values())
