"""Per-symbol price-level order books from DEEP price level updates, applied atomically.

Design note
-----------
DEEP 1.08 "Consuming Price Level Update Messages and Updating the IEX BBO": one book event
is zero or more updates with Event Flags 0 followed by exactly one with Event Flags 1
(``event_end``); the book must be seen to jump from the state before the event to the state
after it, never through the states in between ("an in-transition IEX BBO, which never truly
existed"). So :class:`OrderBooks` *stages* the updates of a symbol while its event is open
and applies them all when the ``event_end`` update arrives; every read (:meth:`Book.best`,
:meth:`Book.levels`) sees the last consistent state. Transitions are per symbol: updates of
other symbols may arrive in between, and trades of the same event may be interleaved.

At each event end the books emit, as events of their own (same ``venue``, ``symbol``,
``ts_ns``, ``recv_ns`` and ``seq`` as the ``event_end`` update):

* :class:`BestBidOffer` (kind ``"bbo"``) when the best bid or offer (price or size) changed
  — the quote fields' names (``bid_px``, ``bid_sz``, ``ask_px``, ``ask_sz``), an empty
  side has price and size 0, as in a TOPS quote;
* :class:`BookSnapshot` (kind ``"book_snapshot"``) when any of the top ``depth`` levels of
  either side changed (``depth=0`` turns snapshots off): ``bids`` and ``asks`` as
  ``((px, sz), ...)`` tuples, best first.

State per side: a ``dict`` price → size and a sorted list of the prices (``bisect``), so an
update costs O(levels) at worst and the best level is O(1). A size of 0 removes the level;
removing an absent level is a no-op. A sequence gap makes the book unreliable: the caller
should :meth:`OrderBooks.reset` the symbols concerned (the decoders report gaps).

>>> from fluvius.feeds.events import BookLevelUpdate as U
>>> books = OrderBooks(depth=2)
>>> books.apply(U("IEX", "Z", 1, 1, 1, "B", 25_000_000_000, 100, False))   # in transition
[]
>>> out = books.apply(U("IEX", "Z", 1, 1, 2, "S", 25_100_000_000, 200, True))
>>> [e.kind for e in out], out[0].bid_px, out[0].ask_sz, out[1].asks
(['bbo', 'book_snapshot'], 25000000000, 200, ((25100000000, 200),))
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fluvius._record import frozen_record
from fluvius.feeds.events import BOOK_DEPTH, BookLevelUpdate, Event, Price, dtype_of

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

__all__ = [
    "BestBidOffer",
    "Book",
    "BookSnapshot",
    "OrderBooks",
    "book_events_from_rows",
    "book_rows",
    "with_books",
]

Level = tuple[int, int]
Best = tuple[int, int, int, int]
Top = tuple[tuple[Level, ...], tuple[Level, ...]]
_EMPTY: tuple[Best, Top] = ((0, 0, 0, 0), ((), ()))


@frozen_record
class BestBidOffer(Event):
    """The best bid and offer of a book after an event (0 price and size: empty side)."""

    kind: ClassVar[str] = "bbo"
    bid_px: Price
    bid_sz: int
    ask_px: Price
    ask_sz: int


@frozen_record
class BookSnapshot(Event):
    """The top levels of both sides after an event, best first: ``((px, sz), ...)``."""

    kind: ClassVar[str] = "book_snapshot"
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


@dataclass(slots=True)
class Book:
    """One symbol's consistent book (two sides) and its open, staged event."""

    bid_size: dict[int, int] = field(default_factory=dict)
    ask_size: dict[int, int] = field(default_factory=dict)
    bid_prices: list[int] = field(default_factory=list)  # ascending: best bid last
    ask_prices: list[int] = field(default_factory=list)  # ascending: best ask first
    staged: list[BookLevelUpdate] = field(default_factory=list)

    def best(self) -> Best:
        """``(bid_px, bid_sz, ask_px, ask_sz)`` of the consistent book; 0, 0 for an empty side."""
        bid = self.bid_prices[-1] if self.bid_prices else 0
        ask = self.ask_prices[0] if self.ask_prices else 0
        return bid, self.bid_size.get(bid, 0), ask, self.ask_size.get(ask, 0)

    def levels(self, depth: int) -> Top:
        """The top ``depth`` levels of each side, best first."""
        bids = tuple((p, self.bid_size[p]) for p in reversed(self.bid_prices[-depth:]))
        asks = tuple((p, self.ask_size[p]) for p in self.ask_prices[:depth])
        return bids, asks

    def commit(self) -> None:
        """Apply the staged updates, in arrival order."""
        for u in self.staged:
            if u.side == "B":
                sizes, prices = self.bid_size, self.bid_prices
            else:
                sizes, prices = self.ask_size, self.ask_prices
            px = int(u.px)
            if u.sz:
                if px not in sizes:
                    insort(prices, px)
                sizes[px] = u.sz
            elif sizes.pop(px, None) is not None:
                del prices[bisect_left(prices, px)]
        self.staged.clear()


class OrderBooks:
    """Price-level books of every symbol, fed one event at a time (see the module doc).

    Parameters
    ----------
    depth
        Levels per side in :class:`BookSnapshot` events; 0 emits no snapshots.
    """

    def __init__(self, depth: int = 5) -> None:
        if depth < 0:
            raise ValueError(f"depth must be >= 0, got {depth=}")
        self.depth = depth
        self.books: dict[str, Book] = {}
        self._last: dict[str, tuple[Best, Top]] = {}

    def book(self, symbol: str) -> Book:
        """The book of ``symbol`` (empty if never updated)."""
        return self.books.get(symbol) or self.books.setdefault(symbol, Book())

    def apply(self, event: Event) -> list[Event]:
        """Feed one event; returns the BBO / snapshot events an event end produced (or [])."""
        if not isinstance(event, BookLevelUpdate):
            return []
        if event.side not in ("B", "S"):
            raise ValueError(f"book_level_update side must be 'B' or 'S', got {event.side!r}")
        book = self.book(event.symbol)
        book.staged.append(event)
        if not event.event_end:
            return []
        book.commit()
        out: list[Event] = []
        best = book.best()
        top = book.levels(self.depth) if self.depth else None
        last_best, last_top = self._last.get(event.symbol, _EMPTY)
        head = (event.venue, event.symbol, event.ts_ns, event.recv_ns, event.seq)
        if best != last_best:
            bid_px, bid_sz, ask_px, ask_sz = best
            out.append(BestBidOffer(*head, Price(bid_px), bid_sz, Price(ask_px), ask_sz))
        if top is not None and top != last_top:
            out.append(BookSnapshot(*head, *top))
        self._last[event.symbol] = (best, top if top is not None else last_top)
        return out

    def reset(self, symbol: str | None = None) -> None:
        """Forget the book of ``symbol`` (every book when None), e.g. after a sequence gap."""
        if symbol is None:
            self.books.clear()
            self._last.clear()
        else:
            self.books.pop(symbol, None)
            self._last.pop(symbol, None)


def with_books(events: Iterable[Event], depth: int = 5) -> Iterator[Event]:
    """Every event of ``events``, each event end followed by the book events it produced.

    >>> from fluvius.feeds.events import BookLevelUpdate as U
    >>> out = list(with_books([U("IEX", "Z", 1, 1, 1, "B", 10**9, 5, True)], depth=0))
    >>> [e.kind for e in out]
    ['book_level_update', 'bbo']
    """
    books = OrderBooks(depth)
    for event in events:
        yield event
        if isinstance(event, BookLevelUpdate) and event.event_end:
            yield from books.apply(event)
        elif isinstance(event, BookLevelUpdate):
            books.apply(event)


def book_rows(events: Sequence[Event], depth: int = BOOK_DEPTH) -> np.ndarray[Any, Any]:
    """``bbo`` or ``book_snapshot`` events (one kind) as rows of ``dtype_of(kind, depth)``.

    Snapshot levels beyond ``depth`` are dropped; fewer are padded with zeros.

    >>> rows = book_rows([BookSnapshot("IEX", "Z", 1, 2, 3, ((10, 5),), ())], depth=2)
    >>> rows["bid_px"].tolist(), rows["ask_sz"].tolist()
    ([[10, 0]], [[0, 0]])
    """
    kinds = {e.kind for e in events}
    if len(kinds) != 1 or not kinds <= {"bbo", "book_snapshot"}:
        raise ValueError(f"book_rows takes events of one kind, bbo or book_snapshot; got {kinds}")
    (kind,) = kinds
    rows = np.zeros(len(events), dtype=dtype_of(kind, depth))
    rows["symbol"] = [e.symbol.encode("latin-1") for e in events]
    for name in ("ts_ns", "recv_ns", "seq"):
        rows[name] = [getattr(e, name) for e in events]
    if kind == "bbo":
        for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
            rows[name] = [getattr(e, name) for e in events]
        return rows
    for i, e in enumerate(events):
        assert isinstance(e, BookSnapshot)
        for side, levels in (("bid", e.bids[:depth]), ("ask", e.asks[:depth])):
            for j, (px, sz) in enumerate(levels):
                rows[f"{side}_px"][i, j] = px
                rows[f"{side}_sz"][i, j] = sz
    return rows


def book_events_from_rows(
    kind: str, rows: np.ndarray[Any, Any], venue: str = "IEX"
) -> list[BestBidOffer] | list[BookSnapshot]:
    """The rows of :func:`book_rows` as event objects again (zero-size levels dropped)."""
    common: list[tuple[Any, ...]] = [
        (venue, s.decode("latin-1"), t, r, q)
        for s, t, r, q in zip(
            rows["symbol"].tolist(),
            rows["ts_ns"].tolist(),
            rows["recv_ns"].tolist(),
            rows["seq"].tolist(),
            strict=True,
        )
    ]
    if kind == "bbo":
        quotes = zip(
            *(rows[n].tolist() for n in ("bid_px", "bid_sz", "ask_px", "ask_sz")), strict=True
        )
        return [BestBidOffer(*c, *q) for c, q in zip(common, quotes, strict=True)]
    if kind != "book_snapshot":
        raise ValueError(f"book_events_from_rows: kind must be bbo or book_snapshot, got {kind!r}")

    def levels(px: list[int], sz: list[int]) -> tuple[tuple[int, int], ...]:
        return tuple((p, z) for p, z in zip(px, sz, strict=True) if z)

    sides = [rows[n].tolist() for n in ("bid_px", "bid_sz", "ask_px", "ask_sz")]
    return [
        BookSnapshot(v, s, t, r, q, levels(bp, bs), levels(ap, az))
        for (v, s, t, r, q), bp, bs, ap, az in zip(common, *sides, strict=True)
    ]
