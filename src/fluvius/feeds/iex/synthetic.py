"""Synthetic IEX captures for the ``iex`` benchmarks, deterministic from a seed.

The ``iex`` workload is described in docs/reference/workloads.md.

Design
------
Both generators draw every field with vectorised numpy (one ``numpy.random.Generator``
seeded by ``seed``; draws happen in a fixed order) and hand the rows to
:func:`fluvius.feeds.iex._pack.pack_capture`: 10^7 messages take seconds (13 to 19 s on the
shared 2-core machine, docs/benchmarks.md).
This is test and benchmark data, not a market simulation.

One session, in feed order:

* a heartbeat segment (real HIST files start and end with heartbeats);
* the preamble: System Events ``O`` (start of messages) and ``S`` (start of system hours);
  for every IEX-listed symbol (one in 50, at least one) a Security Directory, Trading
  Status ``T``, Operational Halt ``N``, Short Sale Price Test 0 / space and Retail
  Liquidity Indicator space; System Event ``R`` (regular hours); DEEP adds a Security
  Event ``O`` per listed symbol;
* the body. TOPS: about 94 % Quote Updates and 6 % Trade Reports. DEEP: book events of one
  to four Price Level Updates sharing one timestamp, Event Flags 1 on the last one only,
  some preceded by a Trade Report of the same event (the spec allows that interleaving);
* the trailer: Auction Information (closing) and Official Price ``M`` per listed symbol,
  System Events ``M``, ``E``, ``C``; and a closing heartbeat.

Symbols follow a Zipf-like popularity (a few are busy, most are quiet). The fields are
calibrated against the real sample (IEX HIST TOPS 1.6 of 2017-07-10; docs/benchmarks.md
compares the two), so that the captures compress as real ones do instead of as noise:

* TOPS quotes keep each symbol's book: a Quote Update changes one side's price and size
  (52 %), one side's size (36 %) or nothing but the time (12 %), as the sample's quotes do
  against the symbol's previous one. A side's new price is the other side's price -/+ a
  spread of 1 to 10 cents, so prices walk in ticks from the symbol's level and the book
  never crosses; sizes are round lots (100, 200, ... ever rarer), one in ten with an odd
  lot. Trades are at the symbol's bid or ask, round lots or odd lots (flag 0x20), some
  intermarket sweeps (0x80); trade ids grow by small steps;
* DEEP price levels sit at the symbol's level (the mid price walking on a coarse time grid,
  one row per symbol, 256 columns), mostly at the best price, sizes as above;
* segments carry messages in bursts drawn from the sample's messages per segment (most
  segments one message, bursts of 11, 12, 32 or 52), a burst longer than
  ``max_per_segment`` cut into segments of that many: a mean of 3.4 messages per segment
  at ``max_per_segment=10``, 4.3 at 30 (the default);
* timestamps are increasing ns from 14:30 UTC of ``day``, segments about 1.4 µs per
  message apart; TOPS messages of one segment mostly share a timestamp, DEEP events (one
  to four Price Level Updates and maybe a trade) share one. A segment's send time follows
  its last message and its capture time follows the send time by tens of µs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fluvius.feeds.iex._pack import MessageTable, pack_capture, plan_segments
from fluvius.feeds.iex._wire_out import DEEP_PROTOCOL_ID, MESSAGE_DTYPES, TOPS_PROTOCOL_ID

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from fluvius.feeds._writers import CaptureFormat, UdpFlow

__all__ = ["SyntheticCapture", "synthetic_deep", "synthetic_symbols", "synthetic_tops"]

_GRID = 256
_MEAN_GAP_NS = 1400  # ~17 M messages over 6.5 h
_TICK = 100  # one cent in IEX 1e-4 units
# Messages per segment in the real sample (IEX HIST TOPS 1.6, 2017-07-10, 12,785 segments
# with messages): most segments carry one message, bursts carry 11, 12, 32 or 52. A burst
# longer than ``max_per_segment`` is cut into segments of that many (as encode._split).
_BURSTS = np.array(
    [[1, 10963], [2, 76], [3, 40], [4, 25], [5, 37], [6, 48], [7, 36], [8, 46], [9, 26],
     [10, 27], [11, 431], [12, 217], [13, 2], [14, 2], [15, 1], [16, 9], [19, 1], [20, 3],
     [21, 5], [23, 5], [24, 12], [27, 3], [28, 2], [29, 1], [30, 2], [31, 1], [32, 168],
     [33, 1], [44, 1], [51, 1], [52, 593]],
    dtype=np.int64,
)  # fmt: skip
# what a Quote Update changes against the symbol's previous quote (the sample's regular
# symbols: one side's price and size 51 %, one side's size 35 %, nothing but the time 11 %,
# both sides 3 %): bid price+size, ask price+size, bid size, ask size, none
_QUOTE_ACTIONS = (0.26, 0.26, 0.18, 0.18, 0.12)
_SAME_TIME = 0.7  # share of a segment's later messages with the timestamp of the one before


@dataclass(frozen=True, slots=True)
class SyntheticCapture:
    """A generated capture: the file's bytes and what went into it."""

    data: NDArray[np.uint8] = field(repr=False)
    protocol: Literal["tops", "deep"]
    messages: int
    segments: int
    heartbeats: int
    counts: dict[str, int]
    symbols: tuple[str, ...] = field(repr=False)

    @property
    def size_bytes(self) -> int:
        """Size of the capture file."""
        return len(self.data)

    def tobytes(self) -> bytes:
        """The capture file's bytes."""
        return self.data.tobytes()

    def write(self, path: str | Path) -> Path:
        """Write the capture file to ``path``; returns the path."""
        out = Path(path)
        self.data.tofile(out)
        return out


def synthetic_symbols(n: int) -> tuple[str, ...]:
    """``n`` distinct ticker-like symbols (1 to 4 letters; every 97th gets a class ``.B``).

    >>> synthetic_symbols(3), synthetic_symbols(400)[-1]
    (('A', 'B', 'C'), 'OJ')
    """
    if not 1 <= n <= 475_254:
        raise ValueError(f"n_symbols must be in 1..475254, got {n=}")
    out = []
    for i in range(n):
        k, name = i, ""
        while True:
            name = chr(65 + k % 26) + name
            k = k // 26 - 1
            if k < 0:
                break
        out.append(name + ".B" if i % 97 == 96 and len(name) <= 5 else name)
    return tuple(out)


def _stream_times(rng: np.random.Generator, n: int, start_ns: int) -> NDArray[np.int64]:
    gaps = rng.exponential(_MEAN_GAP_NS, n).astype(np.int64) + 1
    return start_ns + np.cumsum(gaps)


def _segment_counts(rng: np.random.Generator, n: int, max_per_segment: int) -> NDArray[np.int64]:
    """Messages per segment, summing to ``n``: bursts drawn as in the real sample, each
    longer than ``max_per_segment`` cut into segments of that many and the rest."""
    if max_per_segment < 1:
        raise ValueError(f"max_per_segment must be >= 1, got {max_per_segment=}")
    sizes, weight = _BURSTS[:, 0], _BURSTS[:, 1] / _BURSTS[:, 1].sum()
    bursts = rng.choice(sizes, n // 3 + 16, p=weight)
    while int(bursts.sum()) < n:  # rare: too few drawn
        bursts = np.concatenate((bursts, rng.choice(sizes, n // 3 + 16, p=weight)))
    pieces = -(-bursts // max_per_segment)
    counts = np.full(int(pieces.sum()), max_per_segment, dtype=np.int64)
    last = np.cumsum(pieces) - 1
    counts[last] = bursts - (pieces - 1) * max_per_segment
    k = int(np.searchsorted(np.cumsum(counts), n))  # the segment holding message n
    counts = counts[: k + 1]
    counts[k] -= int(counts.sum()) - n
    return counts


def _group_starts(keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """For sorted ``keys``: the index of the first element of each element's run."""
    n = len(keys)
    start = np.ones(n, dtype=bool)
    start[1:] = keys[1:] != keys[:-1]
    return np.maximum.accumulate(np.where(start, np.arange(n), 0))


def _group_cumsum(x: NDArray[np.int64], first: NDArray[np.int64]) -> NDArray[np.int64]:
    """Cumulative sums of ``x`` restarting at each run (``first``: see _group_starts)."""
    c = np.cumsum(x)
    return c - c[first] + x[first]


def _last_set(where: NDArray[np.bool_], first: NDArray[np.int64]) -> NDArray[np.int64]:
    """Per element: the index of the last element of its run up to it with ``where`` set,
    or -1 when there is none."""
    idx = np.maximum.accumulate(np.where(where, np.arange(len(where)), -1))
    return np.where(idx >= first, idx, -1)


def _lots(rng: np.random.Generator, n: int) -> NDArray[np.int64]:
    """Displayed sizes: round lots (100, 200, ... ever rarer), one in ten with an odd lot."""
    lots = 100 * np.minimum(rng.geometric(0.45, n), 50)
    return lots + np.where(rng.random(n) < 0.1, rng.integers(1, 100, n), 0)


def _quote_book(
    rng: np.random.Generator, sym: NDArray[np.int64], frozen: NDArray[np.bool_],
    mid: NDArray[np.int64],
) -> tuple[NDArray[np.int64], ...]:  # fmt: skip
    """Each symbol's best bid and offer along the feed: (bid, ask in cents, bid size, ask
    size) at every message.

    A symbol's message changes one side's price and size, or one side's size, or nothing
    (:data:`_QUOTE_ACTIONS`; ``frozen`` messages, the trades, change nothing). A side's new
    price is the other side's price -/+ a spread of 1 to 10 cents, so the book never
    crosses and the prices walk in ticks from ``mid`` (per symbol, cents). Vectorised: the
    messages sorted by symbol; a run of changes of one side prices off the other side's last
    change, a cumulative sum over the runs.
    """
    n = len(sym)
    order = np.argsort(sym, kind="stable")
    first = _group_starts(sym[order])
    act = rng.choice(5, n, p=_QUOTE_ACTIONS)
    act[frozen[order]] = 4
    spread = np.minimum(rng.geometric(0.45, n), 10)
    new_size = _lots(rng, n)
    size0 = _lots(rng, 2 * n).reshape(2, n)  # each side's size before its first change
    bid0 = mid[sym[order]][first] - spread[first] // 2  # before the symbol's first change
    ask0 = bid0 + spread[first]
    # price changes: side -1 (bid) or +1 (ask); P = the other side's price + side * spread
    ev = np.flatnonzero(act <= 1)
    side = np.where(act[ev] == 0, -1, 1)
    step = side * spread[ev]
    ev_first = _group_starts(first[ev])
    run_end = np.ones(len(ev), dtype=bool)
    run_end[:-1] = (first[ev][1:] != first[ev][:-1]) | (side[1:] != side[:-1])
    ends = np.where(run_end, step, 0)  # a run moves the next run's reference by its last step
    before = _group_cumsum(ends, ev_first) - ends
    other0 = np.where(side[ev_first] < 0, ask0[ev], bid0[ev])  # the first run's reference
    price = np.zeros(n, dtype=np.int64)
    price[ev] = other0 + before + step
    out = []
    for changed, start in ((act == 0, bid0), (act == 1, ask0)):
        at = _last_set(changed, first)
        out.append(np.where(at >= 0, price[np.maximum(at, 0)], start))
    bid, ask = out
    floor = np.maximum(1 - np.minimum.reduceat(bid, np.unique(first)), 0)  # cents >= 1
    lift = np.repeat(floor, np.diff(np.append(np.unique(first), n)))
    for changed, start in (
        ((act == 0) | (act == 2), size0[0]),
        ((act == 1) | (act == 3), size0[1]),
    ):
        at = _last_set(changed, first)
        out.append(np.where(at >= 0, new_size[np.maximum(at, 0)], start[first]))
    result = (bid + lift, ask + lift, out[2], out[3])
    unsorted = []
    for column in result:
        back = np.empty(n, dtype=np.int64)
        back[order] = column
        unsorted.append(back)
    return tuple(unsorted)


def _segment_times(
    rng: np.random.Generator, counts: NDArray[np.int64], lo: int, n: int, start_ns: int
) -> NDArray[np.int64]:
    """Timestamps of messages ``lo .. lo+n-1`` of a session cut into ``counts`` segments:
    segments about ``_MEAN_GAP_NS`` per message apart, and within a segment most messages
    share the time of the one before (the rest are a few hundred ns later)."""
    seg = np.repeat(np.arange(len(counts)), counts)[lo : lo + n]
    segs = int(seg[-1] - seg[0]) + 1
    gaps = rng.exponential(_MEAN_GAP_NS * n / segs, segs).astype(np.int64) + 1
    seg_ns = start_ns + np.cumsum(gaps)
    first = _group_starts(seg)
    later = np.where(rng.random(n) < _SAME_TIME, 0, rng.exponential(300.0, n).astype(np.int64))
    later[first == np.arange(n)] = 0
    return np.maximum.accumulate(seg_ns[seg - seg[0]] + _group_cumsum(later, first))


class _Builder:
    """Collects the messages of one session in feed order (types + per-type rows)."""

    def __init__(self) -> None:
        self.types: list[NDArray[np.uint8]] = []
        self.rows: dict[bytes, list[NDArray[Any]]] = {}

    def add(self, t: bytes, rows: NDArray[Any]) -> None:
        self.add_mixed(np.full(len(rows), t[0], np.uint8), {t: rows})

    def add_mixed(self, types: NDArray[np.uint8], rows: dict[bytes, NDArray[Any]]) -> None:
        self.types.append(types)
        for t, r in rows.items():
            self.rows.setdefault(t, []).append(r)

    def table(self) -> MessageTable:
        return MessageTable(
            np.concatenate(self.types), {t: np.concatenate(r) for t, r in self.rows.items()}
        )


def _rows(t: bytes, n: int, ts: NDArray[np.int64], symbols: NDArray[Any] | None) -> NDArray[Any]:
    rows = np.zeros(n, dtype=MESSAGE_DTYPES[t])
    rows["message_type"] = t
    rows["timestamp"] = ts
    if symbols is not None:
        rows["symbol"] = symbols
    return rows


def _system(b: _Builder, code: bytes, ts: int) -> None:
    rows = _rows(b"S", 1, np.array([ts]), None)
    rows["system_event"] = code
    b.add(b"S", rows)


def _preamble(
    b: _Builder, names: NDArray[Any], listed: NDArray[np.int64], base: NDArray[np.int64], t0: int
) -> None:
    """System events and the per-listed-symbol spin, from ``t0`` on."""
    m = len(listed)
    _system(b, b"O", t0)
    _system(b, b"S", t0 + 1000)
    ts = np.full(m, t0 + 2000, dtype=np.int64)
    sym = names[listed]
    d = _rows(b"D", m, ts, sym)
    d["round_lot_size"] = 100
    d["adjusted_poc_price"] = base[listed] * _TICK
    d["luld_tier"] = 1 + (listed % 2)
    b.add(b"D", d)
    h = _rows(b"H", m, ts + 1000, sym)
    h["trading_status"] = b"T"
    h["reason"] = b"    "
    b.add(b"H", h)
    o = _rows(b"O", m, ts + 2000, sym)
    o["operational_halt_status"] = b"N"
    b.add(b"O", o)
    p = _rows(b"P", m, ts + 3000, sym)
    p["detail"] = b" "
    b.add(b"P", p)
    i = _rows(b"I", m, ts + 4000, sym)
    i["retail_liquidity_indicator"] = b" "
    b.add(b"I", i)
    _system(b, b"R", t0 + 7000)


def _trailer(
    b: _Builder, names: NDArray[Any], listed: NDArray[np.int64], mid: NDArray[np.int64], t: int
) -> None:
    m = len(listed)
    ts = np.full(m, t, dtype=np.int64)
    sym = names[listed]
    close = mid[listed, -1] * _TICK
    a = _rows(b"A", m, ts, sym)
    a["auction_type"] = b"C"
    a["paired_shares"] = 1000
    a["reference_price"] = close
    a["indicative_clearing_price"] = close
    a["imbalance_shares"] = 200
    a["imbalance_side"] = b"B"
    a["scheduled_auction_time"] = (t // 1_000_000_000) + 60
    a["auction_book_clearing_price"] = close
    a["collar_reference_price"] = close
    a["lower_auction_collar"] = close - close // 10
    a["upper_auction_collar"] = close + close // 10
    b.add(b"A", a)
    x = _rows(b"X", m, ts + 1000, sym)
    x["price_type"] = b"M"
    x["official_price"] = close
    b.add(b"X", x)
    for k, code in enumerate((b"M", b"E", b"C")):
        _system(b, code, t + 2000 + 1000 * k)


def _universe(
    rng: np.random.Generator, n_symbols: int
) -> tuple[NDArray[Any], NDArray[np.int64], NDArray[np.int64]]:
    """Padded names, listed symbols, and the mid-price grid in cents."""
    names = np.array([s.ljust(8).encode() for s in synthetic_symbols(n_symbols)], dtype="S8")
    listed = np.arange(0, n_symbols, 50, dtype=np.int64)
    base = np.exp(rng.uniform(np.log(5.0), np.log(500.0), n_symbols))  # dollars
    steps = rng.normal(0.0, 1.0, (n_symbols, _GRID)) * (base[:, None] * 2e-4)  # 2 bp per cell
    mid = np.rint((base[:, None] + np.cumsum(steps, axis=1)) * 100).astype(np.int64)
    return names, listed, np.maximum(mid, 100)


def _draw_symbols(rng: np.random.Generator, n_symbols: int, n: int) -> NDArray[np.int64]:
    """Symbol indices with density proportional to 1 / (index + 5), by the inverse CDF."""
    x = 5.0 * np.power((n_symbols + 5) / 5.0, rng.random(n)) - 5.0
    return np.minimum(x.astype(np.int64), n_symbols - 1)


def _finish(
    b: _Builder,
    rng: np.random.Generator,
    ts: NDArray[np.int64],
    protocol: Literal["tops", "deep"],
    names: NDArray[Any],
    session_id: int,
    fmt: CaptureFormat | None,
    flow: UdpFlow | None,
    counts: NDArray[np.int64],
) -> SyntheticCapture:
    """Pack the session cut into ``counts`` segments (plus opening/closing heartbeats)."""
    table = b.table()
    n = len(table.types)
    last_ts = ts[np.cumsum(counts) - 1]
    send = np.maximum.accumulate(last_ts + rng.integers(2_000, 20_000, len(counts)))
    counts = np.concatenate(([0], counts, [0]))
    send = np.concatenate(([ts[0] - 1_000_000_000], send, [send[-1] + 1_000_000_000]))
    recv = send + 30_000 + rng.integers(0, 10_000, len(send))
    plan = plan_segments(counts, send, recv)
    protocol_id = TOPS_PROTOCOL_ID if protocol == "tops" else DEEP_PROTOCOL_ID
    data = pack_capture(
        table, plan, protocol_id=protocol_id, session_id=session_id, fmt=fmt, flow=flow
    )
    kinds, per_kind = np.unique(table.types, return_counts=True)
    return SyntheticCapture(
        data=data,
        protocol=protocol,
        messages=n,
        segments=len(counts),
        heartbeats=2,
        counts={chr(int(t)): int(c) for t, c in zip(kinds, per_kind, strict=True)},
        symbols=tuple(s.decode().rstrip() for s in names.tolist()),
    )


def _start_ns(day: dt.date) -> int:
    start = dt.datetime(day.year, day.month, day.day, 14, 30, tzinfo=dt.UTC)
    return int(start.timestamp()) * 1_000_000_000


def _check(n_messages: int, n_symbols: int, fixed: int) -> None:
    if n_messages <= fixed:
        raise ValueError(
            f"n_messages={n_messages} leaves no room after the {fixed} preamble and trailer "
            f"messages of {n_symbols} symbols; ask for more messages or fewer symbols"
        )


def synthetic_tops(
    n_messages: int,
    n_symbols: int = 2000,
    seed: int = 0,
    *,
    fmt: CaptureFormat | None = None,
    flow: UdpFlow | None = None,
    session_id: int = 1,
    day: dt.date = dt.date(2026, 11, 20),
    max_per_segment: int = 30,
) -> SyntheticCapture:
    """A TOPS 1.6 capture of exactly ``n_messages`` messages (see the module docstring).

    >>> cap = synthetic_tops(2000, n_symbols=100, seed=1)
    >>> cap.messages, cap.counts["Q"] + cap.counts["T"] + 6 + 7 * 2 == 2000
    (2000, True)
    """
    rng = np.random.default_rng(seed)
    names, listed, mid = _universe(rng, n_symbols)
    fixed = 6 + 7 * len(listed)
    _check(n_messages, n_symbols, fixed)
    n = n_messages - fixed
    counts = _segment_counts(rng, n_messages, max_per_segment)
    t0 = _start_ns(day)
    b = _Builder()
    _preamble(b, names, listed, mid[:, 0], t0 - 60_000_000_000)
    ts = _segment_times(rng, counts, 3 + 5 * len(listed), n, t0)  # after the preamble
    sym = _draw_symbols(rng, n_symbols, n)
    is_trade = rng.random(n) < 0.06
    bid, ask, bid_sz, ask_sz = _quote_book(rng, sym, is_trade, mid[:, 0])
    bid, ask = bid * _TICK, ask * _TICK
    buy = rng.random(n) < 0.5
    odd = rng.random(n) < 0.3
    types = np.where(is_trade, ord("T"), ord("Q")).astype(np.uint8)
    q = ~is_trade
    quotes = _rows(b"Q", int(q.sum()), ts[q], names[sym[q]])
    quotes["bid_size"], quotes["bid_price"] = bid_sz[q], bid[q]
    quotes["ask_price"], quotes["ask_size"] = ask[q], ask_sz[q]
    trades = _rows(b"T", int(is_trade.sum()), ts[is_trade], names[sym[is_trade]])
    trades["price"] = np.where(buy, ask, bid)[is_trade]
    lot = 100 * np.minimum(rng.geometric(0.6, n), 20)
    trades["size"] = np.where(odd, rng.integers(1, 100, n), lot)[is_trade]
    iso = rng.random(n) < 0.3  # intermarket sweep orders
    trades["flags"] = (np.where(odd, 0x20, 0) | np.where(iso, 0x80, 0))[is_trade]
    trades["trade_id"] = 1_000_000 + np.cumsum(rng.geometric(0.3, len(trades)))
    b.add_mixed(types, {b"Q": quotes, b"T": trades})
    _trailer(b, names, listed, mid, int(ts[-1]) + 1000)
    return _finish(b, rng, _feed_times(b), "tops", names, session_id, fmt, flow, counts)


def _feed_times(b: _Builder) -> NDArray[np.int64]:
    """Each message's timestamp, in feed order."""
    table_types = np.concatenate(b.types)
    out = np.empty(len(table_types), dtype=np.int64)
    for t, parts in b.rows.items():
        out[table_types == t[0]] = np.concatenate([p["timestamp"] for p in parts])
    return out


def synthetic_deep(
    n_messages: int,
    n_symbols: int = 2000,
    seed: int = 0,
    *,
    fmt: CaptureFormat | None = None,
    flow: UdpFlow | None = None,
    session_id: int = 1,
    day: dt.date = dt.date(2026, 11, 20),
    max_per_segment: int = 30,
) -> SyntheticCapture:
    """A DEEP 1.0 capture of exactly ``n_messages`` messages (see the module docstring).

    >>> cap = synthetic_deep(2000, n_symbols=100, seed=1)
    >>> cap.messages, sorted(cap.counts)
    (2000, ['5', '8', 'A', 'D', 'E', 'H', 'I', 'O', 'P', 'S', 'T', 'X'])
    """
    rng = np.random.default_rng(seed)
    names, listed, mid = _universe(rng, n_symbols)
    fixed = 6 + 8 * len(listed)
    _check(n_messages, n_symbols, fixed)
    n = n_messages - fixed
    counts = _segment_counts(rng, n_messages, max_per_segment)
    t0 = _start_ns(day)
    b = _Builder()
    _preamble(b, names, listed, mid[:, 0], t0 - 60_000_000_000)
    e = _rows(b"E", len(listed), np.full(len(listed), t0, np.int64), names[listed])
    e["security_event"] = b"O"
    b.add(b"E", e)
    # events: a trade (8 %) then 1 PLU (75 %) or 2-4 PLUs, all with the event's timestamp
    n_ev = n + 1  # every event has at least one message
    plus = np.where(rng.random(n_ev) < 0.75, 1, rng.integers(2, 5, n_ev))
    has_trade = rng.random(n_ev) < 0.08
    size = plus + has_trade
    n_ev = int(np.searchsorted(np.cumsum(size), n)) + 1
    plus, has_trade, size = plus[:n_ev], has_trade[:n_ev], size[:n_ev]
    ev_ts = _stream_times(rng, n_ev, t0)
    ev_sym = _draw_symbols(rng, n_symbols, n_ev)
    ev = np.repeat(np.arange(n_ev), size)[:n]
    pos = np.arange(len(ev)) - (np.cumsum(size) - size)[ev]
    is_trade = has_trade[ev] & (pos == 0)
    last = pos == size[ev] - 1
    last[-1] = True  # a truncated final event still ends on a flagged PLU
    ts = ev_ts[ev]
    sym = ev_sym[ev]
    cell = np.minimum((ts - t0) * _GRID // max(int(ts[-1] - t0) + 1, 1), _GRID - 1)
    center = mid[sym, cell]
    buy = rng.random(n) < 0.5
    depth = np.minimum(rng.geometric(0.55, n) - 1, 9)
    level = np.where(buy, center - 1 - depth, center + 1 + depth) * _TICK
    lots = _lots(rng, n)
    gone = rng.random(n) < 0.25
    types = np.where(is_trade, ord("T"), np.where(buy, ord("8"), ord("5"))).astype(np.uint8)
    rows: dict[bytes, NDArray[Any]] = {}
    for code, mask in ((b"8", ~is_trade & buy), (b"5", ~is_trade & ~buy)):
        plu = _rows(code, int(mask.sum()), ts[mask], names[sym[mask]])
        plu["event_flags"] = last[mask]
        plu["size"] = np.where(gone, 0, lots)[mask]
        plu["price"] = level[mask]
        rows[code] = plu
    trades = _rows(b"T", int(is_trade.sum()), ts[is_trade], names[sym[is_trade]])
    trades["price"] = np.where(buy, center + 1, center - 1)[is_trade] * _TICK
    trades["size"] = lots[is_trade]
    trades["trade_id"] = 1_000_000 + np.cumsum(rng.geometric(0.3, len(trades)))
    rows[b"T"] = trades
    b.add_mixed(types, rows)
    _trailer(b, names, listed, mid, int(ts[-1]) + 1000)
    return _finish(b, rng, _feed_times(b), "deep", names, session_id, fmt, flow, counts)
