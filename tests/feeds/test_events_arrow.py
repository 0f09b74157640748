"""``to_arrow``: every kind's rows as Arrow, checked against numpy's own reading of them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from fluvius.feeds.events import KINDS, dtype_of, to_arrow

_POOL = [b"", b"A", b"ZVZZT", b"\x00", b"IBM "]


def _random_rows(kind: str, n: int, seed: int, pool: list[bytes] = _POOL) -> np.ndarray:
    rows = np.zeros(n, dtype_of(kind))
    rng = np.random.default_rng(seed)
    raw = rows.view(np.uint8).reshape(n, rows.dtype.itemsize)
    raw[:] = rng.integers(0, 256, raw.shape, dtype=np.uint8)
    for name in rows.dtype.names:
        if rows.dtype[name] == np.bool_:
            rows[name] = rng.integers(0, 2, n).astype(bool)
        elif rows.dtype[name].kind == "S":  # a few distinct values, some with NULs
            values = np.array(pool, rows.dtype[name])
            rows[name] = values[rng.integers(0, len(values), n)]
    return rows


def _expected(rows: np.ndarray, name: str) -> list[object]:
    values = rows[name].tolist()
    if rows.dtype[name].kind != "S":
        return values
    text = [b.decode("latin-1") for b in values]
    return [t or "\x00" for t in text] if rows.dtype[name].itemsize == 1 else text


@pytest.mark.parametrize("kind", [k for k in KINDS if dtype_of(k) is not None])
@pytest.mark.parametrize("n", [0, 1, 257])
@pytest.mark.parametrize("latin1", [False, True])  # ASCII: numpy path; else bytes.decode
def test_every_column_equals_numpys_values(kind: str, n: int, latin1: bool) -> None:
    rows = _random_rows(kind, n, seed=n, pool=[*_POOL, b"\xe9t\xe9"] if latin1 else _POOL)
    batch = to_arrow(kind, rows, "IEX")
    assert batch.num_rows == n
    assert batch.column(0).to_pylist() == [kind] * n
    assert batch.column(1).to_pylist() == ["IEX"] * n
    for name in rows.dtype.names:
        column = batch.column(name)
        column.validate(full=True)
        assert column.to_pylist() == _expected(rows, name), name


def test_columns_of_a_mapping_and_of_a_slice_agree() -> None:
    rows = _random_rows("quote", 100, seed=3)[::3]  # strided columns
    mapping = {name: rows[name] for name in rows.dtype.names}
    assert to_arrow("quote", mapping).equals(to_arrow("quote", rows.copy()))


def test_to_arrow_and_parquet_writing_do_not_import_pandas(tmp_path: object) -> None:
    program = (
        "import sys, numpy as np, pyarrow.parquet as pq\n"
        "from fluvius.feeds.events import dtype_of, to_arrow\n"
        "batch = to_arrow('quote', np.zeros(3, dtype_of('quote')))\n"
        f"pq.write_table(__import__('pyarrow').Table.from_batches([batch]), r'{tmp_path}/q.pq')\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_bool_column_is_bit_packed_like_arrows_own_conversion() -> None:
    rows = _random_rows("book_level_update", 77, seed=5)
    ours = to_arrow("book_level_update", rows).column("event_end")
    assert ours.equals(pa.array(rows["event_end"]))
