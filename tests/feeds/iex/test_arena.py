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
