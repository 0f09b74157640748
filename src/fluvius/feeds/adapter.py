"""Feed → graph: unified market events as source ticks and batches of a fluvius graph.

Design note
-----------
A graph sees market data through three sources per symbol, keyed with
:func:`fluvius.graph.make_key`:

========================  ================================================================
``quote/<SYMBOL>``        the latest quote event: a TOPS :class:`~fluvius.feeds.events.Quote`
                          or a DEEP-derived :class:`~fluvius.feeds.book.BestBidOffer`
                          (both have ``bid_px``, ``bid_sz``, ``ask_px``, ``ask_sz``)
``mid/<SYMBOL>``          the mid price as a float in currency units,
                          ``(bid_px + ask_px) / 2 / PRICE_SCALE``; NaN when a side is empty
``trade/<SYMBOL>``        the trades of the cycle: a tuple of
                          :class:`~fluvius.feeds.events.Trade`, in feed order (never only
                          the last one: a VWAP must see every trade)
========================  ================================================================

Initial values (before the first tick): ``None`` for quote and trade, NaN for mid, so a
node must accept them at start-up.

**Trades accumulate.** A trade source carries *every* trade since the previous cycle:
one event gives a 1-tuple, a datagram with three trades of a symbol a 3-tuple, and when
ticks of a busy source are merged into one cycle (``per="recv"`` here, conflation in
:func:`fluvius.scheduling.run_live` and ``fluvius live``) their tuples are concatenated
(:func:`merge_tick`), never replaced. Quote and mid keep only the latest value. And a
trade source is *the trades of the cycle*: after a cycle that set it, the next cycle that
does not bring trades of that symbol sets it to ``()`` (:func:`clear_trades`), so a node
that reads trades and something else (a mid) never sees the same trades twice.

The mid is a float because it feeds analytics (rolling statistics, models); prices on
events stay int64 fixed point.

The adapter does not run anything: feeds (rank 1) may not import scheduling (rank 4). It
gives ticks, ``(source key, value)`` pairs, which is what
:func:`fluvius.scheduling.run_live` consumes from one async iterable (it forms cycles
itself, conflating busy sources), and batches, ``{source key: value}`` dicts, for
:func:`fluvius.scheduling.run_graph` or ``Session.cycle``. So the *same graph* runs

* on a capture:  ``run_graph(graph, batches(iter_events(path), symbols))``;
* on live UDP:   ``run_live(session, aticks(feed.events(), symbols))`` where ``feed`` is a
  :class:`fluvius.feeds.iex.live.LiveFeed` (a replay of the same capture gives the same
  values, see ``examples/`` and ``docs/how-to/iex-live.md``).

Events of other kinds, and of symbols the graph did not declare, are skipped. A DEEP feed
has no quotes: pass its events through :func:`fluvius.feeds.book.with_books` first, and the
BBO events it adds drive ``quote/`` and ``mid/`` as TOPS quotes do.

**Columnar, per datagram.** A live feed's datagrams also come as columnar batches
(:class:`fluvius.feeds.iex.datagram.DatagramBatch`: rows per kind, no event objects).
:class:`DatagramAdapter` turns one into the source batch of that datagram without an
object per message: rows of other kinds are never touched, numpy finds the quote and
trade rows of the declared symbols (a binary search of the symbols as 8-byte integers),
only those rows become tuples; per symbol the last quote of the datagram counts (a later
quote replaces an earlier one, as ``batches(..., per="recv")`` does) and *every* trade
does. Then one value per *source update*: the quote event of the winning row and the mid
from its prices, the tuple of the symbol's trade events (each made from its row by the
event class, as :func:`fluvius.feeds.events.events_from_array` makes them). The
result equals ``batches(events, symbols, per="recv")`` for the same datagram (tested on
the real sample). :func:`datagram_batches` and :func:`adatagram_ticks` are its iterator
forms for ``run_graph`` and ``run_live``: ``run_live(session,
adatagram_ticks(feed.batches(), symbols))``. A DEEP batch gives only trades this way
(books need every price level update; use ``with_books`` on the events for BBOs).

>>> from fluvius.feeds.events import Quote
>>> q = Quote("IEX", "ZIEXT", 1, 2, 3, 99_050_000_000, 100, 99_070_000_000, 200, 0)
>>> event_ticks(q)
[('quote/ZIEXT', Quote(...)), ('mid/ZIEXT', 99.06)]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from fluvius.feeds.events import EVENT_TYPES, PRICE_SCALE, Event, dtype_of
from fluvius.graph.keys import key_maker, make_key

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator

    from fluvius.feeds.iex.datagram import DatagramBatch
    from fluvius.graph.builder import GraphBuilder
    from fluvius.graph.node import NodeRef

__all__ = [
    "SOURCE_KINDS",
    "DatagramAdapter",
    "accumulates",
    "adatagram_ticks",
    "aticks",
    "batches",
    "clear_trades",
    "datagram_batches",
    "declare_sources",
    "event_ticks",
    "merge_tick",
    "mid_of",
    "source_key",
]

SOURCE_KINDS = ("quote", "mid", "trade")
"""The per-symbol sources, in declaration order."""

_QUOTE_KINDS = frozenset({"quote", "bbo"})
_QUOTE, _TRADE = EVENT_TYPES["quote"], EVENT_TYPES["trade"]  # rows: symbol, then numbers
if dtype_of("quote").names[4:7:2] != ("bid_px", "ask_px"):  # type: ignore[index]
    raise ValueError("DatagramAdapter reads bid_px and ask_px at row fields 4 and 6")
_INITIAL: dict[str, Any] = {"quote": None, "mid": math.nan, "trade": None}
_SOURCE_KEYS = key_maker("quote", "mid", "trade")  # a symbol's keys in one step
_FEW = 8  # up to this many rows of a kind in a datagram are read with struct, not numpy


def source_key(kind: str, symbol: str) -> str:
    """The source key of ``kind`` (quote, mid or trade) for ``symbol``.

    >>> source_key("mid", "BRK.B")
    'mid/BRK.B'
    """
    if kind not in _INITIAL:
        raise ValueError(f"unknown source kind {kind!r}; expected one of {SOURCE_KINDS}")
    return make_key(kind, symbol)


def accumulates(key: str) -> bool:
    """Whether source ``key`` carries events that accumulate within a cycle (trades).

    >>> accumulates("trade/AB"), accumulates("mid/AB")
    (True, False)
    """
    return key.startswith("trade/")


def merge_tick(batch: dict[str, Any], key: str, value: Any) -> None:
    """Put tick ``key: value`` into ``batch``: trade tuples concatenate, the rest replace.

    >>> b = {"trade/AB": (1,), "mid/AB": 1.0}
    >>> merge_tick(b, "trade/AB", (2, 3)); merge_tick(b, "mid/AB", 2.0); b
    {'trade/AB': (1, 2, 3), 'mid/AB': 2.0}
    """
    old = batch.get(key)
    if type(old) is tuple and type(value) is tuple and accumulates(key):
        batch[key] = old + value
    else:
        batch[key] = value


def clear_trades(batch: dict[str, Any], last: set[str]) -> set[str]:
    """Make ``batch`` a cycle's batch: every trade source set by the previous cycle (``last``)
    and not in ``batch`` is set to ``()``. Returns the trade sources of this cycle.

    >>> b = {"mid/AB": 1.0}
    >>> clear_trades(b, {"trade/AB"}), b
    (set(), {'mid/AB': 1.0, 'trade/AB': ()})
    """
    for key in last:
        if key not in batch:
            batch[key] = ()
    return {k for k, v in batch.items() if v and accumulates(k)}


def declare_sources(
    builder: GraphBuilder,
    symbols: Iterable[str],
    kinds: Iterable[str] = SOURCE_KINDS,
) -> dict[str, dict[str, NodeRef]]:
    """Add the market-data sources of ``symbols`` to ``builder``.

    Returns ``refs[kind][symbol]``, the :class:`~fluvius.graph.NodeRef` of each source.
    """
    kinds = tuple(kinds)
    refs: dict[str, dict[str, NodeRef]] = {k: {} for k in kinds}
    for symbol in symbols:
        for kind in kinds:
            refs[kind][symbol] = builder.source(source_key(kind, symbol), _INITIAL[kind])
    return refs


def mid_of(bid_px: int, ask_px: int) -> float:
    """Mid price in currency units; NaN when either side is empty (price 0).

    >>> mid_of(99_050_000_000, 99_070_000_000), mid_of(0, 99_070_000_000)
    (99.06, nan)
    """
    if not bid_px or not ask_px:
        return math.nan
    return (bid_px + ask_px) / (2 * PRICE_SCALE)


def event_ticks(event: Event) -> list[tuple[str, Any]]:
    """The source ticks one event makes: quote and mid for a quote or BBO, trade for a trade."""
    kind = event.kind
    if kind in _QUOTE_KINDS:
        q: Any = event
        return [
            (make_key("quote", event.symbol), event),
            (make_key("mid", event.symbol), mid_of(q.bid_px, q.ask_px)),
        ]
    if kind == "trade":
        return [(make_key("trade", event.symbol), (event,))]
    return []


def _wanted(symbols: Iterable[str] | None) -> frozenset[str] | None:
    return None if symbols is None else frozenset(symbols)


def batches(
    events: Iterable[Event], symbols: Iterable[str] | None = None, *, per: str = "event"
) -> Iterator[dict[str, Any]]:
    """Source batches from events: one per event (``per="event"``), or one per group of
    events received together (``per="recv"``: same ``recv_ns``, i.e. one datagram; a later
    quote of a symbol in the group replaces an earlier one, trades accumulate).

    Each batch is a cycle's: trade sources set by the previous batch and without trades in
    this one are set to ``()`` (:func:`clear_trades`)."""
    if per not in ("event", "recv"):
        raise ValueError(f"per must be 'event' or 'recv', got {per!r}")
    wanted = _wanted(symbols)
    batch: dict[str, Any] = {}
    recv: int | None = None
    traded: set[str] = set()
    for event in events:
        if wanted is not None and event.symbol not in wanted:
            continue
        ticks = event_ticks(event)
        if not ticks:
            continue
        if per == "event":
            one = dict(ticks)
            traded = clear_trades(one, traded)
            yield one
            continue
        if batch and event.recv_ns != recv:
            traded = clear_trades(batch, traded)
            yield batch
            batch = {}
        recv = event.recv_ns
        for key, value in ticks:
            merge_tick(batch, key, value)
    if batch:
        clear_trades(batch, traded)
        yield batch


async def aticks(
    events: AsyncIterable[Event] | Iterable[Event], symbols: Iterable[str] | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """Source ticks from an async (live) or plain (capture) event stream, for ``run_live``."""
    wanted = _wanted(symbols)
    if hasattr(events, "__aiter__"):
        async for event in events:
            if wanted is None or event.symbol in wanted:
                for tick in event_ticks(event):
                    yield tick
    else:
        for event in events:
            if wanted is None or event.symbol in wanted:
                for tick in event_ticks(event):
                    yield tick


class DatagramAdapter:
    """Source batches from columnar datagram batches, one value per source update.

    ``symbols`` restricts the sources to those symbols (None: every symbol seen).
    :meth:`batch` of a datagram equals ``batches(events, symbols, per="recv")`` of its
    events (see the module doc).

    >>> from fluvius.feeds.events import Quote, Trade
    >>> from fluvius.feeds.iex.datagram import DatagramBatch
    >>> b = DatagramBatch.from_events([
    ...     Quote("IEX", "AB", 1, 9, 1, 10 * PRICE_SCALE, 1, 12 * PRICE_SCALE, 2, 0),
    ...     Trade("IEX", "CD", 2, 9, 2, 11 * PRICE_SCALE, 5, 7, 0),
    ...     Quote("IEX", "AB", 3, 9, 3, 10 * PRICE_SCALE, 1, 14 * PRICE_SCALE, 2, 0)], "IEX", 9)
    >>> out = DatagramAdapter(["AB", "CD"]).batch(b)
    >>> sorted(out), out["mid/AB"], out["quote/AB"].seq, [t.sz for t in out["trade/CD"]]
    (['mid/AB', 'quote/AB', 'trade/CD'], 12.0, 3, [5])
    """

    _CACHE_LIMIT = 100_000  # distinct wire symbols remembered (corrupt input must not grow it)

    def __init__(self, symbols: Iterable[str] | None = None) -> None:
        self.symbols = None if symbols is None else tuple(symbols)
        # the declared symbols as a row holds them (8 NUL-padded bytes); longer or NUL-ended
        # names never match a row (None: every symbol)
        self._wanted: frozenset[bytes] | None = None
        if self.symbols is not None:
            fit = [s.encode("latin-1") for s in self.symbols if _fits_s8(s)]
            self._wanted = frozenset(raw.ljust(8, b"\0") for raw in fit)
        self._keys: dict[bytes, tuple[str, str, str, str]] = {}
        for symbol in self.symbols if self.symbols is not None else ():
            if _fits_s8(symbol):  # the declared symbols' keys now, not on the feed's time
                raw = symbol.encode("latin-1")
                self._names(raw)
                self._names(raw.ljust(8, b"\0"))  # as raw_rows gives it

    def _names(self, wire: bytes) -> tuple[str, str, str, str]:
        """(symbol, quote key, mid key, trade key) of a row's symbol bytes (NUL-padded or not)."""
        found = self._keys.get(wire)
        if found is None:
            if len(self._keys) >= self._CACHE_LIMIT:
                self._keys.clear()
            symbol = wire.rstrip(b"\0").decode("latin-1")
            quote_key, mid_key, trade_key = _SOURCE_KEYS(symbol)
            found = self._keys[wire] = (symbol, quote_key, mid_key, trade_key)
        return found

    def _rows_of(self, batch: DatagramBatch, kind: str, n: int) -> list[tuple[Any, ...]]:
        """Every row of the datagram's ``n`` rows of ``kind`` (every symbol is wanted): a few
        rows without numpy. (With declared symbols :meth:`batch` reads only their rows,
        each row's symbol compared in place: ``DatagramBatch.raw_rows_of``.)"""
        if n <= _FEW:
            return batch.raw_rows(kind)
        rows: list[tuple[Any, ...]] = batch.rows(kind).tolist()
        return rows

    def batch(self, batch: DatagramBatch) -> dict[str, Any]:
        """The source batch of one datagram (empty when it has no wanted quote or trade)."""
        out: dict[str, Any] = {}
        venue = batch.venue
        names = self._keys.get  # the declared symbols' names are made up front
        wanted = self._wanted
        if wanted is not None:  # the live path: few calls (its code runs cold after a gap)
            quotes = batch.raw_rows_of("quote", wanted)
            trades = batch.raw_rows_of("trade", wanted)
        else:
            n = batch.kind_count("quote")
            quotes = self._rows_of(batch, "quote", n) if n else []
            n = batch.kind_count("trade")
            trades = self._rows_of(batch, "trade", n) if n else []
        if quotes:
            for row in quotes if len(quotes) == 1 else _last_of_each(quotes):
                symbol, quote_key, mid_key, _ = names(row[0]) or self._names(row[0])
                out[quote_key] = _QUOTE(venue, symbol, *row[1:])
                out[mid_key] = mid_of(row[4], row[6])  # bid_px, ask_px
        if trades:
            for row in trades:
                symbol, _, _, trade_key = names(row[0]) or self._names(row[0])
                trade = (_TRADE(venue, symbol, *row[1:]),)
                old = out.get(trade_key)
                out[trade_key] = trade if old is None else old + trade
        return out

    def ticks(self, batch: DatagramBatch) -> list[tuple[str, Any]]:
        """The source ticks of one datagram (its :meth:`batch` as pairs)."""
        return list(self.batch(batch).items())


def _last_of_each(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The last row of each symbol (field 0), in their order."""
    if len(rows) > 1:
        last = {row[0]: i for i, row in enumerate(rows)}
        if len(last) < len(rows):
            return [rows[i] for i in sorted(last.values())]
    return rows


def _fits_s8(symbol: str) -> bool:
    """Whether ``symbol`` can be a row's symbol (at most 8 latin-1 bytes, no trailing NUL)."""
    try:
        raw = symbol.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return len(raw) <= 8 and not raw.endswith(b"\x00")


def datagram_batches(
    datagrams: Iterable[DatagramBatch], symbols: Iterable[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Source batches of columnar datagram batches (datagrams without any are skipped); each
    a cycle's batch (:func:`clear_trades`)."""
    adapter = DatagramAdapter(symbols)
    traded: set[str] = set()
    for batch in datagrams:
        out = adapter.batch(batch)
        if out:
            traded = clear_trades(out, traded)
            yield out


async def adatagram_ticks(
    datagrams: AsyncIterable[DatagramBatch], symbols: Iterable[str] | None = None
) -> AsyncIterator[tuple[str, Any]]:
    """Source ticks of a live feed's columnar batches (``LiveFeed.batches()``), for ``run_live``."""
    adapter = DatagramAdapter(symbols)
    async for batch in datagrams:
        for tick in adapter.batch(batch).items():
            yield tick
