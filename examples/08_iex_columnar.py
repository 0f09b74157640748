"""Live IEX decoding to columns: one datagram → rows per kind, graph values without objects.

Decodes every datagram of the real IEX TOPS sample (when ``../shared/data/iex`` holds it,
else a synthetic capture made by the project's encoder) the way ``LiveFeed`` does, with
:class:`~fluvius.feeds.iex.ColumnarSegmentDecoder`: one compiled call per datagram gives
the rows of each kind (the batch decoder's dtypes), and event objects only on demand.
Prints the largest datagram's rows, the per-datagram decode times against the reference
decoder, and the graph source values :class:`~fluvius.feeds.adapter.DatagramAdapter`
derives for the busiest symbols.

Run: ``python examples/08_iex_columnar.py``
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from fluvius.feeds.adapter import DatagramAdapter
from fluvius.feeds.iex import ColumnarSegmentDecoder, SegmentDecoder
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.replay import iter_datagrams

SAMPLE = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "iex"
    / "TOPS16_20170710_sample.pcap.gz"
)


def _times_us(decode: object, datagrams: list[tuple[int, bytes]]) -> np.ndarray:
    """Per-datagram wall time of ``decode(datagram, recv_ns)`` in µs."""
    out = np.empty(len(datagrams))
    perf = time.perf_counter_ns
    for i, (recv, data) in enumerate(datagrams):
        t0 = perf()
        decode(data, recv)  # type: ignore[operator]
        out[i] = (perf() - t0) / 1000
    return out


def columnar_demo(path: Path) -> None:
    """Decode ``path`` datagram by datagram, columnar and per event; print what came out."""
    datagrams = list(iter_datagrams(path))
    decoder = ColumnarSegmentDecoder()
    batches = [decoder.decode(data, recv) for recv, data in datagrams]
    i = max(range(len(batches)), key=lambda j: len(batches[j]))
    largest = batches[i]
    print(f"{len(datagrams):,} datagrams, {decoder.report.messages:,} messages")
    print(f"largest datagram: {largest!r}")
    for kind in largest.kinds:
        rows = largest.rows(kind)
        print(f"  {kind:18} {len(rows):3} rows, first {rows[0]['symbol'].decode()!r}")
    recv, data = datagrams[i]
    same = list(largest) == SegmentDecoder().decode(data, recv)  # objects made on demand
    print(f"its event objects equal the reference decoder's: {same}")

    for name, make in (("reference", SegmentDecoder), ("columnar", ColumnarSegmentDecoder)):
        decode = make().decode
        _times_us(decode, datagrams[:200])  # warm up
        t = _times_us(make().decode, datagrams)
        print(f"{name:9} p50 {np.percentile(t, 50):6.2f} µs  p99 {np.percentile(t, 99):6.2f} µs")

    counts: dict[str, int] = {}  # two-sided quotes per symbol
    for batch in batches:
        q = batch.rows("quote")
        for symbol in q["symbol"][(q["bid_px"] > 0) & (q["ask_px"] > 0)].tolist():
            counts[symbol.decode()] = counts.get(symbol.decode(), 0) + 1
    busiest = sorted(counts, key=lambda s: (-counts[s], s))[:3]
    adapter = DatagramAdapter(busiest)
    updates: dict[str, int] = {}
    mids: dict[str, float] = {}  # the last mid with both sides quoted
    for batch in batches:
        for key, value in adapter.batch(batch).items():
            updates[key] = updates.get(key, 0) + 1
            if key.startswith("mid/") and not np.isnan(value):
                mids[key] = value
    for symbol in busiest:
        key = f"mid/{symbol}"
        print(f"{symbol:6} {updates[key]:4} mid updates, last two-sided mid {mids[key]:.4f}")


def main() -> None:
    if SAMPLE.exists():
        columnar_demo(SAMPLE)
        return
    with tempfile.TemporaryDirectory() as tmp:
        columnar_demo(synthetic_tops(20_000, n_symbols=200, seed=3).write(Path(tmp) / "t.pcap"))


if __name__ == "__main__":
    main()
