"""Recordings: rotation, completion on close, value columns; read back by pyarrow and DuckDB."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from fluvius.feeds.events import Trade
from fluvius.live import Recorder
from fluvius.live.record import value_columns
from fluvius.nodes.monitoring import KSResult


def test_files_rotate_and_complete_on_close(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, ["x/*"], rotate_rows=4, flush_rows=3)
    for cycle in range(5):
        rec.write(cycle, 100 + cycle, 200 + cycle, {"x/a": float(cycle), "x/b": cycle, "y": 1.0})
        partial = list(tmp_path.glob("*.partial"))
        assert len(partial) <= 1
    rec.close()
    rec.close()  # idempotent
    assert len(rec.files) == 3  # 10 rows, 4 per file
    assert not list(tmp_path.glob("*.partial"))
    assert sorted(tmp_path.glob("*.parquet")) == rec.files
    rows = duckdb.sql(
        f"SELECT cycle, ts_ns, recv_ns, key, value FROM '{tmp_path}/*.parquet'"
    ).fetchall()
    assert len(rows) == rec.rows_total == 10
    assert (4, 104, 204, "x/a", 4.0) in rows
    assert {r[3] for r in rows} == {"x/a", "x/b"}
    with pytest.raises(ValueError, match="write after close"):
        rec.write(9, 0, 0, {"x/a": 1.0})


def test_value_columns_keep_numbers_and_write_the_rest_as_json(tmp_path: Path) -> None:
    trade = Trade("IEX", "AB", 1, 2, 3, 10, 5, 7, 0)
    assert value_columns(1.5) == (1.5, None)
    assert value_columns(False) == (0.0, None)
    num, text = value_columns(math.nan)
    assert math.isnan(num or 0.0)
    assert text is None
    assert value_columns(None) == (None, "null")
    assert value_columns(KSResult(0.5, math.nan)) == (None, "[0.5, null]")
    _, text = value_columns((trade,))
    assert text is not None
    assert '"px": 10' in text
    rec = Recorder(tmp_path)
    rec.write(1, 0, 0, {"trade/AB": (trade,), "m": math.nan})
    rec.close()
    table = pq.read_table(rec.files[0]).to_pylist()
    assert table[0]["text"].startswith('[{"kind": "trade", "venue": "IEX"')
    assert math.isnan(table[1]["value"])
