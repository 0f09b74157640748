"""Recordings of a live run: the changed values of chosen nodes, in rotating Parquet files.

Design note
-----------
``fluvius live --record DIR [--record-keys GLOB …]`` keeps, per cycle, the values that
changed in it (sources set and nodes recomputed to a new value) whose key matches one of
the globs (:mod:`fnmatch` rules, ``*`` by default). One row per (cycle, key):

============  =========  =============================================================
column        type       meaning
============  =========  =============================================================
``cycle``     int64      the cycle (0 is start-up, which records every chosen key)
``ts_ns``     int64      exchange time of the cycle's newest event (0 when unknown)
``recv_ns``   int64      receive time of the cycle's newest update (0 at start-up)
``key``       string     node or source key
``value``     double     the value when it is a number or a bool (NaN stays NaN);
                         null otherwise
``text``      string     the value as JSON when it is not a number (events, tuples,
                         named tuples as lists; NaN as null); null for numbers
============  =========  =============================================================

Rows are buffered and written as one row group every ``flush_rows`` rows or
``flush_s`` seconds, whichever comes first; a file is closed and a new one begun every
``rotate_rows`` rows. A file being written is named ``*.parquet.partial`` and renamed to
``*.parquet`` when complete, so ``SELECT … FROM 'DIR/*.parquet'`` (DuckDB) or
``pyarrow.dataset.dataset(DIR)`` reads only complete files; :meth:`Recorder.close` (the
runner calls it on every way out, signals included) flushes and completes the last one.

>>> import tempfile, pyarrow.parquet as pq
>>> with tempfile.TemporaryDirectory() as d:
...     rec = Recorder(d, ["mid/*"])
...     rec.write(0, 0, 0, {"mid/A": 1.5, "spread/A": 0.1})
...     rec.write(1, 7, 9, {"mid/A": float("nan")})
...     rec.close()
...     pq.read_table(rec.files[0]).to_pylist()[1]
{'cycle': 1, 'ts_ns': 7, 'recv_ns': 9, 'key': 'mid/A', 'value': nan, 'text': None}
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    import pyarrow as pa
    import pyarrow.parquet as pq

__all__ = ["Recorder", "key_matcher", "value_columns"]


def key_matcher(globs: Iterable[str]) -> re.Pattern[str]:
    """One compiled pattern matching any of ``globs`` (fnmatch rules).

    >>> m = key_matcher(["mid/*", "vwap/AAPL"])
    >>> bool(m.match("mid/X")), bool(m.match("vwap/MSFT"))
    (True, False)
    """
    globs = list(globs) or ["*"]
    return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs))


def _plain(value: Any) -> Any:
    """JSON-ready form of a value (events and named tuples as lists, NaN as None)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if tolist is not None:
        return _plain(tolist())
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        return {name: _plain(getattr(value, name)) for name in fields}
    return repr(value)


def value_columns(value: Any) -> tuple[float | None, str | None]:
    """``(value, text)`` columns of one value (see the module doc).

    >>> value_columns(2), value_columns(True), value_columns((1, "a"))
    ((2.0, None), (1.0, None), (None, '[1, "a"]'))
    """
    if isinstance(value, float | int) and not isinstance(value, complex):
        return float(value), None
    item = getattr(value, "item", None)  # numpy scalars
    if item is not None and getattr(value, "ndim", 1) == 0:
        got = item()
        if isinstance(got, float | int):
            return float(got), None
    return None, json.dumps(_plain(value), allow_nan=False)


class Recorder:
    """Writes chosen changed values to rotating Parquet files under ``directory``."""

    def __init__(
        self,
        directory: str | Path,
        keys: Iterable[str] = (),
        *,
        rotate_rows: int = 1_000_000,
        flush_rows: int = 65_536,
        flush_s: float = 1.0,
        prefix: str = "fluvius",
    ) -> None:
        for name, n in (("rotate_rows", rotate_rows), ("flush_rows", flush_rows)):
            if n < 1:
                raise ValueError(f"Recorder: {name} must be >= 1, got {name}={n}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.globs = list(keys) or ["*"]
        self.matcher = key_matcher(self.globs)
        self.rotate_rows, self.flush_rows, self.flush_s = rotate_rows, flush_rows, flush_s
        self.prefix = f"{prefix}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
        self.files: list[Path] = []  # complete files
        self.rows_total = 0
        self._chosen: dict[str, bool] = {}
        self._cols: tuple[list[int], list[int], list[int], list[str], list[Any], list[Any]] = (
            [], [], [], [], [], []
        )  # fmt: skip
        self._writer: pq.ParquetWriter | None = None
        self._partial: Path | None = None
        self._file_rows = 0
        self._last_flush = time.monotonic()
        self._closed = False

    def chosen(self, key: str) -> bool:
        """Whether ``key`` is recorded (cached per key)."""
        hit = self._chosen.get(key)
        if hit is None:
            hit = self._chosen[key] = self.matcher.match(key) is not None
        return hit

    def write(self, cycle: int, ts_ns: int, recv_ns: int, changed: Mapping[str, Any]) -> None:
        """Buffer the chosen keys of ``changed`` (one cycle's changes)."""
        if self._closed:
            raise ValueError("Recorder: write after close")
        c_cycle, c_ts, c_recv, c_key, c_value, c_text = self._cols
        chosen = self.chosen
        for key, value in changed.items():
            if not chosen(key):
                continue
            num, text = value_columns(value)
            c_cycle.append(cycle)
            c_ts.append(ts_ns)
            c_recv.append(recv_ns)
            c_key.append(key)
            c_value.append(num)
            c_text.append(text)
        if len(c_key) >= self.flush_rows or (
            c_key and time.monotonic() - self._last_flush >= self.flush_s
        ):
            self.flush()

    def flush(self) -> None:
        """Write the buffered rows (one row group), rotating files as needed."""
        import pyarrow as pa

        self._last_flush = time.monotonic()
        cols = self._cols
        n = len(cols[3])
        start = 0
        while start < n:
            room = self.rotate_rows - self._file_rows
            end = min(n, start + room)
            table = pa.table(
                {
                    "cycle": pa.array(cols[0][start:end], pa.int64()),
                    "ts_ns": pa.array(cols[1][start:end], pa.int64()),
                    "recv_ns": pa.array(cols[2][start:end], pa.int64()),
                    "key": pa.array(cols[3][start:end], pa.string()),
                    "value": pa.array(cols[4][start:end], pa.float64()),
                    "text": pa.array(cols[5][start:end], pa.string()),
                }
            )
            self._writer_for(table.schema).write_table(table)
            self._file_rows += end - start
            self.rows_total += end - start
            start = end
            if self._file_rows >= self.rotate_rows:
                self._complete()
        for col in cols:
            col.clear()

    def _writer_for(self, schema: pa.Schema) -> pq.ParquetWriter:
        import pyarrow.parquet as pq

        if self._writer is None:
            final = self.directory / f"{self.prefix}-{len(self.files):05d}.parquet"
            self._partial = final.with_suffix(".parquet.partial")
            self._writer = pq.ParquetWriter(self._partial, schema, compression="zstd")
            self._file_rows = 0
        return self._writer

    def _complete(self) -> None:
        writer, partial = self._writer, self._partial
        self._writer = self._partial = None
        if writer is None or partial is None:
            return
        writer.close()
        final = partial.with_suffix("")  # drop ".partial"
        partial.replace(final)
        self.files.append(final)

    def close(self) -> None:
        """Flush and complete the last file. Idempotent."""
        if self._closed:
            return
        self.flush()
        self._complete()
        self._closed = True
