"""Writing decoded captures: JSON Lines, Parquet (one file per kind), and a summary.

* :func:`write_jsonl` streams events in file order with the reference decoder, one JSON
  object per line, every field, ``kind`` first;
* :func:`write_parquet` streams the batch decoder's arrays into one Parquet file per kind,
  ``<out>/<kind>.parquet`` (columns as in :func:`fluvius.feeds.events.arrow_schema`), one
  row group per chunk of the capture, so memory stays bounded on multi-GB days;
* :func:`summarize` gives what ``fluvius iex info`` prints: counts per kind, symbols, the
  time range, the report, and the decode speed.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from fluvius.feeds.events import KINDS, arrow_schema, event_to_json, text_fields, to_arrow
from fluvius.feeds.iex.batch import iter_capture_batches
from fluvius.feeds.iex.reference import iter_events
from fluvius.feeds.iex.report import DecodeReport

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["CaptureSummary", "parquet_options", "summarize", "write_jsonl", "write_parquet"]


def write_jsonl(
    path: str | Path,
    out: IO[str],
    *,
    strict: bool = False,
    venue: str = "IEX",
    progress: Callable[[int, int], None] | None = None,
) -> DecodeReport:
    """Write every event of the capture at ``path`` to ``out`` as JSON Lines (file order)."""
    report = DecodeReport()
    write = out.write
    for event in iter_events(path, strict=strict, report=report, venue=venue, progress=progress):
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
) -> tuple[DecodeReport, list[Path]]:
    """Write the capture's events to ``out_dir/<kind>.parquet``; returns the report and files.

    Only kinds that occur get a file. An existing file of the same name is replaced.
    """
    import pyarrow.parquet as pq

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = DecodeReport()
    writers: dict[str, Any] = {}
    # Parquet encoding and compression (Arrow's C++, GIL released) of one chunk run on a
    # thread while the next chunk decodes; at most one chunk is in flight (bounded memory).
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fluvius-parquet")
    pending: list[Future[None]] = []
    try:
        for arrays in iter_capture_batches(
            path,
            strict=strict,
            venue=venue,
            report=report,
            progress=progress,
            use_numba=use_numba,
        ):
            batches = [(kind, to_arrow(kind, rows, venue)) for kind, rows in arrays.items()]
            del arrays
            for done in pending:
                done.result()
            pending.clear()
            for kind, batch in batches:
                writer = writers.get(kind)
                if writer is None:
                    options = parquet_options(kind, compression)
                    path_k = out / f"{kind}.parquet"
                    writer = pq.ParquetWriter(path_k, arrow_schema(kind), **options)
                    writers[kind] = writer
                pending.append(pool.submit(writer.write_batch, batch))
            del batches
        for done in pending:
            done.result()
    finally:
        pool.shutdown(wait=True)
        for writer in writers.values():
            writer.close()
    return report, [out / f"{kind}.parquet" for kind in KINDS if kind in writers]


def parquet_options(kind: str, compression: str = "lz4") -> dict[str, Any]:
    """The Parquet writer settings of one kind's file (see ``docs/reference/iex.md``).

    * text columns (symbol, codes) arrive as Arrow dictionaries and are written as Parquet
      dictionaries, as they are (decoding them to plain strings would cost more than the
      rest of the file);
    * the exchange timestamp, the receive timestamp and the sequence number rise almost
      monotonically, so they are ``DELTA_BINARY_PACKED``: a few bits per row instead of
      eight bytes, cheaper to write than to compress, and read by every Parquet v2
      reader;
    * ``compression`` (lz4 by default) applies to the pages of every column;
    * statistics (min/max) for ``ts_ns`` and ``seq`` only, the columns one filters by.
    """
    delta = dict.fromkeys(("ts_ns", "recv_ns", "seq"), "DELTA_BINARY_PACKED")
    return {
        "compression": compression,
        "use_dictionary": ["kind", "venue", *text_fields(kind)],
        "column_encoding": delta,
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
