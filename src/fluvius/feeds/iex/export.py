"""Writing decoded captures: JSON Lines, a Parquet dataset partitioned by kind, a summary.

* :func:`write_jsonl` streams events in file order with the reference decoder, one JSON
  object per line, every field, ``kind`` first;
* :func:`write_parquet` streams the batch decoder's arrays into a Parquet dataset
  partitioned by kind, ``<out>/kind=<kind>/part-0.parquet`` (hive layout: read it whole
  with ``pyarrow.dataset``, DuckDB or Polars; columns as in :func:`parquet_schema`), row
  groups of a few MiB, so memory stays bounded on multi-GB days;
* both take the ``kinds`` and ``symbols`` filters of ``fluvius iex decode``;
* :func:`summarize` gives what ``fluvius iex info`` prints: counts per kind, symbols, the
  time range, the report, and the decode speed.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds.events import (
    KINDS,
    PRICE_SCALE,
    arrow_schema,
    dtype_of,
    event_to_json,
    fields_typed,
    text_fields,
    to_arrow,
)
from fluvius.feeds.iex.batch import iter_capture_batches
from fluvius.feeds.iex.reference import iter_events
from fluvius.feeds.iex.report import DecodeReport

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from numpy.typing import NDArray

    from fluvius.feeds.iex.batch import Rows

IN_FLIGHT = 2  # row groups between decoding and their Parquet file (write_parquet)
PARQUET_CHUNK_BYTES = 1 << 20  # capture bytes decoded at a time when writing Parquet
ROW_GROUP_BYTES = 4 << 20  # decoded rows per Parquet row group (about 80,000 quotes)

__all__ = [
    "CaptureSummary",
    "check_kinds",
    "parquet_options",
    "parquet_schema",
    "summarize",
    "write_jsonl",
    "write_parquet",
]


def check_kinds(kinds: Collection[str] | None) -> frozenset[str] | None:
    """``kinds`` as a set, or a ValueError naming the unknown ones and the known ones."""
    if kinds is None:
        return None
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown event kind(s) {', '.join(unknown)}; known: {', '.join(KINDS)}")
    return frozenset(kinds)


def _symbol_filter(symbols: Collection[str] | None) -> NDArray[Any] | None:
    if symbols is None:
        return None
    return np.array([s.encode("latin-1") for s in symbols], dtype="S8")


def _select(kind: str, rows: Rows, wanted: NDArray[Any] | None) -> Rows | None:
    """The rows of the wanted symbols (all when ``wanted`` is None); None when none."""
    if wanted is None:
        return rows
    keep = np.isin(rows["symbol"], wanted)
    if keep.all():
        return rows
    if not keep.any():
        return None
    return rows[keep]


@cache  # one per kind: every row group of the kind is converted to it
def parquet_schema(kind: str) -> Any:
    """The Arrow schema of one kind's Parquet files.

    :func:`~fluvius.feeds.events.arrow_schema` without ``kind`` (the partition of the
    dataset gives it), timestamps typed ``timestamp[ns, tz=UTC]``, and the price scale in
    the schema's metadata: ``fluvius.price_scale`` (units per currency unit, 1e9) and
    ``fluvius.price_fields`` (the columns it applies to).
    """
    import pyarrow as pa

    stamp = pa.timestamp("ns", tz="UTC")
    times = set(fields_typed(kind, "TimestampNs"))
    base = arrow_schema(kind)
    fields = [f.with_type(stamp) if f.name in times else f for f in base if f.name != "kind"]
    return pa.schema(fields).with_metadata(
        {
            "fluvius.price_scale": str(PRICE_SCALE),
            "fluvius.price_fields": ",".join(fields_typed(kind, "Price")),
            "fluvius.kind": kind,
        }
    )


def _for_parquet(kind: str, batch: Any) -> Any:
    """An :func:`~fluvius.feeds.events.to_arrow` batch in :func:`parquet_schema` (no copy)."""
    import pyarrow as pa

    schema = parquet_schema(kind)
    columns = [
        batch.column(f.name).view(f.type) if f.type != batch.schema.field(f.name).type
        else batch.column(f.name)
        for f in schema
    ]  # fmt: skip
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def write_jsonl(
    path: str | Path,
    out: IO[str],
    *,
    strict: bool = False,
    venue: str = "IEX",
    progress: Callable[[int, int], None] | None = None,
    kinds: Collection[str] | None = None,
    symbols: Collection[str] | None = None,
    report: DecodeReport | None = None,
) -> DecodeReport:
    """Write every event of the capture at ``path`` to ``out`` as JSON Lines (file order).

    ``kinds`` / ``symbols``: only events of those kinds / symbols (None: all).
    """
    report = report if report is not None else DecodeReport()
    wanted_kinds = check_kinds(kinds)
    wanted_symbols = None if symbols is None else frozenset(symbols)
    write = out.write
    for event in iter_events(path, strict=strict, report=report, venue=venue, progress=progress):
        if wanted_kinds is not None and event.kind not in wanted_kinds:
            continue
        if wanted_symbols is not None and event.symbol not in wanted_symbols:
            continue
        write(event_to_json(event))
        write("\n")
    return report


def write_parquet(
    path: str | Path,
    out_dir: str | Path,
    *,
    strict: bool = False,
    venue: str = "IEX",
    progress: Callable[[int, int], None] | None = None,
    compression: str = "lz4",
    use_numba: bool = True,
    chunk_bytes: int = PARQUET_CHUNK_BYTES,
    row_group_bytes: int = ROW_GROUP_BYTES,
    kinds: Collection[str] | None = None,
    symbols: Collection[str] | None = None,
    report: DecodeReport | None = None,
) -> tuple[DecodeReport, list[Path]]:
    """Write the capture's events as a dataset partitioned by kind; returns report and files.

    Files are ``out_dir/kind=<kind>/part-0.parquet`` (:func:`parquet_schema`). Only kinds
    that occur get a file; an existing file of the same name is replaced. ``kinds`` /
    ``symbols``: only events of those kinds / symbols (None: all; events without a symbol,
    such as system events, have the symbol ""). ``report`` (optional) is filled as the
    decode goes (a progress bar reads it); the counts are of every event decoded.

    The capture is decoded ``chunk_bytes`` at a time (small chunks stay in the CPU caches),
    and each kind's rows are gathered, as columns, into row groups of ``row_group_bytes``
    (rare kinds make one group at the end, not a tiny group per chunk). Three stages
    overlap, each on its own thread: this one decodes (compiled kernels) and copies each
    chunk's rows into the columns of their kind's group (:class:`_RowGroup`); a second
    turns a full group into an Arrow batch (Arrow's dictionary encoding of the text
    columns, which releases the GIL); a third encodes and compresses the batch into its
    file (Arrow's C++, GIL released). At most
    :data:`IN_FLIGHT` groups are past decoding at any time, so memory is bounded by the
    chunk and group sizes, whatever the size of the capture.
    """
    import pyarrow as pa

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = report if report is not None else DecodeReport()
    wanted_kinds = check_kinds(kinds)
    wanted_symbols = _symbol_filter(symbols)
    writers: dict[str, Any] = {}  # touched by the Parquet thread only, until the end

    def convert(kind: str, columns: dict[str, NDArray[Any]]) -> tuple[str, Any]:
        return kind, _for_parquet(kind, to_arrow(kind, columns, venue))

    def write(converted: Future[tuple[str, Any]]) -> None:
        kind, batch = converted.result()
        writer = writers.get(kind)
        if writer is None:
            options = parquet_options(kind, compression)
            file = _part_file(out, kind)
            file.parent.mkdir(exist_ok=True)
            writer = _parquet_writer(file, parquet_schema(kind), options)
            writers[kind] = writer
        writer.write_table(pa.Table.from_batches([batch]))

    to_arrow_thread = ThreadPoolExecutor(1, thread_name_prefix="fluvius-arrow")
    parquet_thread = ThreadPoolExecutor(1, thread_name_prefix="fluvius-parquet")
    in_flight: deque[Future[None]] = deque()
    groups: dict[str, _RowGroup] = {}

    def flush(kind: str) -> None:
        columns = groups.pop(kind).columns()
        while len(in_flight) >= IN_FLIGHT:
            in_flight.popleft().result()  # raises what converting or writing raised
        converted = to_arrow_thread.submit(convert, kind, columns)
        in_flight.append(parquet_thread.submit(write, converted))

    try:
        for arrays in iter_capture_batches(
            path,
            strict=strict,
            venue=venue,
            report=report,
            progress=progress,
            use_numba=use_numba,
            chunk_bytes=chunk_bytes,
        ):
            for kind, all_rows in arrays.items():
                if wanted_kinds is not None and kind not in wanted_kinds:
                    continue
                rows = _select(kind, all_rows, wanted_symbols)
                if rows is None:
                    continue
                start = 0
                while start < len(rows):
                    group = groups.get(kind)
                    if group is None:
                        group = groups[kind] = _RowGroup(dtype_of(kind), row_group_bytes)
                    start = group.add(rows, start)
                    if group.full():
                        flush(kind)
            del arrays
        for kind in [k for k in KINDS if k in groups]:
            flush(kind)
        while in_flight:
            in_flight.popleft().result()
    finally:
        to_arrow_thread.shutdown(wait=True, cancel_futures=True)
        parquet_thread.shutdown(wait=True, cancel_futures=True)
        for writer in writers.values():
            writer.close()
    return report, [_part_file(out, kind) for kind in KINDS if kind in writers]


class _RowGroup:
    """One kind's rows of the Parquet row group being gathered, as one column per field.

    Each decoded chunk's rows are copied into the columns as soon as they are decoded,
    while they are in the CPU cache, and nothing keeps the chunk's arrays: the decoder's
    next chunk reuses their memory. (Keeping each chunk's rows until the group is full and
    joining them then cost a third more: the rows were read back from memory, and every
    chunk was decoded into freshly allocated pages.)

    >>> dt = np.dtype([("a", "i8"), ("b", "u1")])
    >>> group = _RowGroup(dt, 3 * dt.itemsize)
    >>> rows = np.array([(1, 2), (3, 4)], dt)
    >>> group.add(rows, 0), group.full(), group.add(rows, 0), group.full()
    (2, False, 1, True)
    >>> {k: v.tolist() for k, v in group.columns().items()}
    {'a': [1, 3, 1], 'b': [2, 4, 2]}
    """

    def __init__(self, dtype: np.dtype[Any], group_bytes: int) -> None:
        capacity = max(1, group_bytes // dtype.itemsize)
        self._names = dtype.names or ()
        self._columns = {name: np.empty(capacity, dtype[name]) for name in self._names}
        self._size = 0
        self._capacity = capacity

    def add(self, rows: Rows, start: int) -> int:
        """Copy ``rows[start:]`` in, as many as fit; the index of the first row not taken."""
        n = min(len(rows) - start, self._capacity - self._size)
        at = self._size
        for name in self._names:
            self._columns[name][at : at + n] = rows[name][start : start + n]
        self._size = at + n
        return start + n

    def full(self) -> bool:
        return self._size == self._capacity

    def columns(self) -> dict[str, NDArray[Any]]:
        """The gathered rows' columns (views of the group's buffers)."""
        return {name: column[: self._size] for name, column in self._columns.items()}


def _part_file(out: Path, kind: str) -> Path:
    return out / f"kind={kind}" / "part-0.parquet"


def _parquet_writer(path: Path, schema: Any, options: dict[str, Any]) -> Any:
    """A Parquet file writer: Arrow's own, without the ``pyarrow.parquet`` module.

    That module imports ``pyarrow.fs``, which loads Arrow's S3 and crypto libraries:
    14 MB of resident memory and about 15 ms for a command that writes local files.
    ``pyarrow._parquet.ParquetWriter`` is the writer ``pyarrow.parquet.ParquetWriter``
    wraps; the format settings that wrapper would pass are given explicitly (Parquet 2.6,
    the V2 Arrow writer engine, V1 data pages, the Arrow schema stored). Allocation is
    malloc's, not mimalloc's, so freed page buffers go back to the system.
    """
    import pyarrow as pa

    pool = pa.system_memory_pool()
    try:
        from pyarrow._parquet import ParquetWriter

        return ParquetWriter(
            str(path),
            schema,
            version="2.6",
            writer_engine_version="V2",
            data_page_version="1.0",
            store_schema=True,
            memory_pool=pool,
            **options,
        )
    except (ImportError, TypeError):  # pragma: no cover - a pyarrow that changed it
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema, memory_pool=pool, **options)


def parquet_options(kind: str, compression: str = "lz4") -> dict[str, Any]:
    """The Parquet writer settings of one kind's file (see ``docs/reference/iex.md``).

    * text columns (symbol, codes) arrive as Arrow dictionaries and are written as Parquet
      dictionaries, as they are (decoding them to plain strings would cost more than the
      rest of the file);
    * the exchange timestamp, the receive timestamp and the sequence number rise almost
      monotonically, so they are ``DELTA_BINARY_PACKED``: a few bits per row instead of
      eight bytes, cheaper to write than to compress, and read by every Parquet v2
      reader;
    * the other 32- and 64-bit integers (prices, sizes, ids) are ``BYTE_STREAM_SPLIT``:
      their bytes regrouped by position, so that the high bytes, nearly always zero, make
      long runs. LZ4 then compresses them in a fifth less CPU time than the plain values
      (the largest cost of writing a file), to about the same size;
    * ``compression`` (lz4 by default) applies to the pages of every column;
    * statistics (min/max) for ``ts_ns`` and ``seq`` only, the columns one filters by.

    >>> parquet_options("trade")["column_encoding"]["px"]
    'BYTE_STREAM_SPLIT'
    """
    import pyarrow as pa

    encoding = dict.fromkeys(("ts_ns", "recv_ns", "seq"), "DELTA_BINARY_PACKED")
    for f in parquet_schema(kind):
        wide = pa.types.is_integer(f.type) or pa.types.is_timestamp(f.type)
        if wide and f.type.bit_width >= 32 and f.name not in encoding:
            encoding[f.name] = "BYTE_STREAM_SPLIT"
    return {
        "compression": compression,
        "use_dictionary": ["venue", *text_fields(kind)],
        "column_encoding": encoding,
        "write_statistics": ["ts_ns", "seq"],
    }


@dataclass(slots=True)
class CaptureSummary:
    """What ``fluvius iex info`` reports about a capture."""

    path: str
    report: DecodeReport
    symbols: list[str] = field(default_factory=list)
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: file, counts per kind, symbols, time range, report, speed."""
        messages = self.report.messages
        return {
            "file": self.path,
            "messages": messages,
            "events": dict(sorted(self.report.events.items())),
            "symbols": len(self.symbols),
            "symbol_list": self.symbols,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "decode_seconds": self.seconds,
            "messages_per_second": messages / self.seconds if self.seconds > 0 else None,
            "report": self.report.as_dict(),
        }


def summarize(
    path: str | Path,
    *,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
    use_numba: bool = True,
) -> CaptureSummary:
    """Decode the capture at ``path`` (batch decoder) and summarise it."""
    t0 = time.perf_counter()
    report = DecodeReport()
    symbols: set[bytes] = set()
    lo: int | None = None
    hi: int | None = None
    for arrays in iter_capture_batches(
        path, strict=strict, report=report, progress=progress, use_numba=use_numba
    ):
        for rows in arrays.values():
            if not len(rows):
                continue
            symbols.update(np.unique(rows["symbol"]).tolist())
            ts = rows["ts_ns"]
            lo = int(ts.min()) if lo is None else min(lo, int(ts.min()))
            hi = int(ts.max()) if hi is None else max(hi, int(ts.max()))
    symbols.discard(b"")
    names = sorted(s.decode("latin-1") for s in symbols)
    return CaptureSummary(str(path), report, names, lo, hi, time.perf_counter() - t0)
