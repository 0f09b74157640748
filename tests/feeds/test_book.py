"""Order books against a naive book that re-sorts everything at each event end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fluvius.feeds.book import BestBidOffer, BookSnapshot, OrderBooks, with_books
from fluvius.feeds.events import BookLevelUpdate, Event, Trade

P = 10_000_000  # one cent in 1e-9 units


class NaiveBooks:
    """Updates wait in a list per symbol; an event end applies them to plain dicts."""

    def __init__(self, depth: int) -> None:
        self.depth = depth
        self.sides: dict[str, dict[str, dict[int, int]]] = {}
        self.pending: dict[str, list[BookLevelUpdate]] = {}
        self.seen: dict[str, tuple[Any, Any]] = {}

    def top(self, symbol: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        side = self.sides.get(symbol, {"B": {}, "S": {}})
        bids = sorted(((p, s) for p, s in side["B"].items() if s), reverse=True)
        asks = sorted((p, s) for p, s in side["S"].items() if s)
        return bids, asks

    def best(self, symbol: str) -> tuple[int, int, int, int]:
        bids, asks = self.top(symbol)
        b = bids[0] if bids else (0, 0)
        a = asks[0] if asks else (0, 0)
        return b[0], b[1], a[0], a[1]

    def feed(self, u: BookLevelUpdate) -> list[tuple[str, Any]]:
        self.pending.setdefault(u.symbol, []).append(u)
        if not u.event_end:
            return []
        side = self.sides.setdefault(u.symbol, {"B": {}, "S": {}})
        for p in self.pending.pop(u.symbol):
            side[p.side][p.px] = p.sz
        bids, asks = self.top(u.symbol)
        now = (self.best(u.symbol), (tuple(bids[: self.depth]), tuple(asks[: self.depth])))
        before = self.seen.get(u.symbol, ((0, 0, 0, 0), ((), ())))
        self.seen[u.symbol] = now
        out: list[tuple[str, Any]] = []
        if now[0] != before[0]:
            out.append(("bbo", now[0]))
        if self.depth and now[1] != before[1]:
            out.append(("book_snapshot", now[1]))
        return out


@st.composite
def updates(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(1, 80))
    out: list[Event] = []
    for seq in range(n):
        symbol = draw(st.sampled_from(["A", "B", "C"]))
        if draw(st.integers(0, 9)) == 0:
            out.append(Trade("IEX", symbol, seq, seq, seq, 100 * P, 10, seq, 0))
            continue
        side = draw(st.sampled_from("BS"))
        px = draw(st.integers(95, 105)) * P
        sz = draw(st.sampled_from([0, 0, 100, 200, 300, 500]))
        end = draw(st.integers(0, 2)) > 0
        out.append(BookLevelUpdate("IEX", symbol, seq, seq, seq, side, px, sz, end))
    return out


def _as_plain(e: Event) -> tuple[str, Any]:
    if isinstance(e, BestBidOffer):
        return "bbo", (e.bid_px, e.bid_sz, e.ask_px, e.ask_sz)
    assert isinstance(e, BookSnapshot)
    return "book_snapshot", (e.bids, e.asks)


@pytest.mark.slow
@given(events=updates(), depth=st.integers(0, 4))
def test_books_match_the_naive_books(events: list[Event], depth: int) -> None:
    books, naive = OrderBooks(depth), NaiveBooks(depth)
    for e in events:
        got = books.apply(e)
        want = naive.feed(e) if isinstance(e, BookLevelUpdate) else []
        assert [_as_plain(g) for g in got] == want
        for g in got:  # derived events carry the event end's identity
            assert (g.symbol, g.ts_ns, g.seq) == (e.symbol, e.ts_ns, e.seq)
        for symbol in "ABC":  # mid-transition reads see the last consistent book
            assert books.book(symbol).best() == naive.best(symbol)


def test_spec_example_keeps_the_previous_bbo_during_a_transition() -> None:
    # DEEP 1.08 "Consuming Price Level Update Messages", example for ZIEXT
    books = OrderBooks(depth=3)

    def u(seq: int, side: str, cents: int, size: int, end: bool) -> BookLevelUpdate:
        return BookLevelUpdate("IEX", "ZIEXT", seq, seq, seq, side, cents * P, size, end)

    for i, (side, cents) in enumerate([("S", 2530), ("S", 2520), ("S", 2510), ("B", 2500)]):
        books.apply(u(i, side, cents, 100, False))
    books.apply(u(4, "B", 2490, 100, True))
    assert books.book("ZIEXT").best() == (2500 * P, 100, 2510 * P, 100)
    assert books.apply(u(5, "S", 2510, 0, False)) == []
    assert books.book("ZIEXT").best() == (2500 * P, 100, 2510 * P, 100)  # in transition
    (bbo, snap) = books.apply(u(6, "S", 2520, 0, True))
    assert isinstance(bbo, BestBidOffer)
    assert (bbo.ask_px, bbo.ask_sz, bbo.seq) == (2530 * P, 100, 6)
    assert isinstance(snap, BookSnapshot)
    assert snap.asks == ((2530 * P, 100),)
    assert snap.bids == ((2500 * P, 100), (2490 * P, 100))


def test_with_books_interleaves_and_reset_forgets() -> None:
    e1 = BookLevelUpdate("IEX", "Z", 1, 1, 1, "B", 100 * P, 5, True)
    e2 = BookLevelUpdate("IEX", "Z", 2, 2, 2, "B", 100 * P, 5, True)  # same book: no BBO
    kinds = [e.kind for e in with_books([e1, e2], depth=0)]
    assert kinds == ["book_level_update", "bbo", "book_level_update"]
    books = OrderBooks(depth=0)
    books.apply(e1)
    books.reset("Z")
    assert books.book("Z").best() == (0, 0, 0, 0)
    assert [e.kind for e in books.apply(e2)] == ["bbo"]
    with pytest.raises(ValueError, match="depth must be >= 0"):
        OrderBooks(depth=-1)


@pytest.mark.parametrize("depth", [1, 5])
def test_book_events_as_rows_and_back(tmp_path: Path, depth: int) -> None:
    from fluvius.feeds.book import book_events_from_rows, book_rows
    from fluvius.feeds.events import dtype_of
    from fluvius.feeds.iex import iter_events
    from fluvius.feeds.iex.synthetic import synthetic_deep

    path = synthetic_deep(3000, n_symbols=20, seed=3).write(tmp_path / "deep.pcap")
    out = list(with_books(iter_events(path), depth=depth))
    for kind in ("bbo", "book_snapshot"):
        events = [e for e in out if e.kind == kind]
        assert events, kind
        rows = book_rows(events, depth=depth)
        assert rows.dtype == dtype_of(kind, depth=depth)
        assert book_events_from_rows(kind, rows) == events
    snapshots = book_rows([e for e in out if e.kind == "book_snapshot"], depth=depth)
    assert snapshots["bid_px"].shape[1] == depth
    with pytest.raises(ValueError, match="one kind"):
        book_rows([e for e in out if e.kind in ("bbo", "book_snapshot")][:50])
