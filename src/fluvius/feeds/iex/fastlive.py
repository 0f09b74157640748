"""A faster per-datagram decoder for live use, equal to the reference decoder by construction.

Design note
-----------
Live decoding pays per datagram, and the readable reference decoder
(:class:`fluvius.feeds.iex.SegmentDecoder`) is generic: per message it builds a dict of
converted fields and calls the event class with keywords. :class:`FastSegmentDecoder`
keeps its results and report but takes a fast path for *clean* segments, which is nearly
every datagram of a healthy feed:

* the whole segment is present (not truncated; ``40 + Payload Length`` bytes exactly),
  Version 1 and protocol TOPS 1.6 (0x8003) or DEEP 1.0 (0x8004);
* its ``Message Count`` blocks fill the payload exactly, and every message is of a
  documented type with exactly its documented length.

Anything else (heartbeats included, they are cheap either way) goes to the reference
decoder *before* any count is touched, so corrupt, truncated, long, unknown or DEEP+
segments are handled — and reported, and raised in strict mode — by the one readable
implementation. Both share one :class:`~fluvius.feeds.iex.report.DecodeReport` and one
sequence tracker.

The fast path decodes a segment with a function generated once per protocol
(:func:`compile_segment`; ``exec`` of generated source, as :mod:`dataclasses` does) from
the same layout tables the other decoders read (:mod:`fluvius.feeds.iex.tops`,
:mod:`fluvius.feeds.iex.deep`): one loop over the message blocks, one branch per message
type (the frequent kinds first), and in each branch one ``struct`` unpack, the
conversions inline, and the event built without its frozen
``__init__`` (which sets each field through ``object.__setattr__`` and costs more than the
whole decode; the event classes have no ``__post_init__``). The function fills an instance
of a private *mutable twin* of the event class (:func:`_twin`: a subclass of the same base
with the same ``__slots__`` and the plain ``object`` attribute setters), where each
``e.field = value`` is one specialised slot store, then assigns ``e.__class__`` the public
event class. CPython allows that assignment only between classes of identical layout (it
checks the slots and raises ``TypeError`` otherwise), so the result is an ordinary, frozen
instance of the public class: equality, hash, repr and pickling are the dataclass's own.
Ten slot stores and the class switch cost about a third of ten slot-descriptor calls. The
tests check the decoder against the reference decoder on random and on damaged segments.
"""

from __future__ import annotations

import dataclasses
import struct
from typing import TYPE_CHECKING, Any

from fluvius.feeds.events import EVENT_TYPES, IEX_PRICE_FACTOR
from fluvius.feeds.iex._layout import Conv
from fluvius.feeds.iex.deep import DEEP_LAYOUTS
from fluvius.feeds.iex.reference import SegmentDecoder
from fluvius.feeds.iex.tops import TOPS_LAYOUTS
from fluvius.feeds.iex.transport import DEEP_PROTOCOL_ID, HEADER, StreamKey

if TYPE_CHECKING:
    from collections.abc import Callable

    from fluvius.feeds.events import Event
    from fluvius.feeds.iex._layout import MessageLayout
    from fluvius.feeds.iex.report import DecodeReport

__all__ = ["FastSegmentDecoder", "compile_layout", "compile_row", "compile_segment"]

TOPS_PROTOCOL_ID = 0x8003
# one-letter codes (S1, always Conv.CODE) are read as their byte value: a tuple index
# beats hashing a one-byte bytes object
_CODES = {"u1": "B", "<u4": "I", "<i8": "q", "S1": "B", "S4": "4s", "S8": "8s"}
_SIZES = {"u1": 1, "<u4": 4, "<i8": 8, "S1": 1, "S4": 4, "S8": 8}
_EXPR = {
    Conv.RAW: "{v}",
    # int64 wrap as numpy (and the reference decoder) on absurd values; one compare normally
    Conv.PRICE: "(p if -_H <= (p := {v} * {F}) < _H else (p + _H) % _W - _H)",
    Conv.SECONDS: "{v} * 1000000000",
    Conv.CODE: "_CODE[{v}]",  # byte value -> its latin-1 character
    Conv.TEXT: "_TEXT[{v}]",
    Conv.BIT0: "bool({v} & 1)",
}


class _Texts(dict[bytes, str]):
    """Space-padded wire strings → str, remembered (symbols repeat); bounded in size."""

    def __missing__(self, raw: bytes) -> str:
        if len(self) >= 100_000:  # corrupt or adversarial input must not grow it forever
            self.clear()
        text = self[raw] = raw.rstrip(b" ").rstrip(b"\x00").decode("latin-1")
        return text


_CODE = tuple(bytes([b]).decode("latin-1") for b in range(256))
_TEXT = _Texts()


def _twin(cls: type) -> type:
    """A mutable class whose instances can become ``cls`` instances by ``__class__`` assignment.

    Same base and same ``__slots__`` as ``cls`` (so the same memory layout), and the plain
    ``object`` setters: with both ``__setattr__`` and ``__delattr__`` the generic ones, the
    interpreter specialises ``e.field = value`` into a direct slot store.

    >>> from fluvius.feeds.events import Quote
    >>> e = _twin(Quote)()
    >>> for name in Quote.__match_args__:
    ...     setattr(e, name, 0)
    >>> e.__class__ = Quote
    >>> e == Quote(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    True
    """
    (base,) = cls.__bases__
    namespace = {
        "__slots__": cls.__dict__.get("__slots__", ()),
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__init__": object.__init__,  # twin() is cheaper than object.__new__(twin)
    }
    return type(f"_Mutable{cls.__name__}", (base,), namespace)


def _event_code(layout: MessageLayout, tag: str, indent: str) -> tuple[str, dict[str, Any]]:
    """Source lines building one event into ``e`` from ``buf`` at ``off``, and their globals.

    Names in the globals carry ``tag`` so that several layouts share one function.
    """
    fmt, pos, names = "<", 0, []
    for i, f in enumerate(sorted(layout.fields, key=lambda f: f.offset)):
        fmt += "x" * (f.offset - pos) + _CODES[f.wire]
        pos = f.offset + _SIZES[f.wire]
        names.append((f"v{i}", f))
    values = {f.name: _EXPR[f.conv].format(v=v, F=IEX_PRICE_FACTOR) for v, f in names}
    values |= {name: repr(value) for name, value in layout.constants}
    values.setdefault("symbol", "''")
    values |= {"venue": "venue", "recv_ns": "recv_ns", "seq": "seq"}
    cls = EVENT_TYPES[layout.kind]
    fields = [f.name for f in dataclasses.fields(cls)]
    unpacked = ", ".join(v for v, _ in names) + ","
    # fill a mutable twin with specialised slot stores, then make it the frozen class
    lines = [f"{unpacked} = unpack{tag}(buf, off)", f"e = twin{tag}()"]
    lines += [f"e.{name} = {values[name]}" for name in fields]
    lines.append(f"e.__class__ = cls{tag}")
    source = "".join(f"{indent}{line}\n" for line in lines)
    namespace = {
        f"unpack{tag}": struct.Struct(fmt).unpack_from,
        f"cls{tag}": cls,
        f"twin{tag}": _twin(cls),
    }
    return source, namespace


_GLOBALS: dict[str, Any] = {
    "_H": 1 << 63,
    "_W": 1 << 64,
    "_CODE": _CODE,
}


def _exec(source: str, name: str, namespace: dict[str, Any]) -> Any:
    namespace |= _GLOBALS | {"_TEXT": _TEXT}
    exec(compile(source, f"<fluvius.feeds.iex.fastlive {name}>", "exec"), namespace)
    return namespace[source[4 : source.index("(")]]


def compile_layout(layout: MessageLayout) -> Callable[[Any, int, str, int, int], Event]:
    """A function ``(buf, off, venue, recv_ns, seq) -> Event`` for one message layout.

    >>> from fluvius.feeds.iex.tops import TOPS_LAYOUTS
    >>> decode = compile_layout(TOPS_LAYOUTS[ord("S")])
    >>> decode(bytes.fromhex("534f0100000000000000"), 0, "IEX", 5, 1)
    SystemEvent(venue='IEX', symbol='', ts_ns=1, recv_ns=5, seq=1, system_event='O')
    """
    body, namespace = _event_code(layout, "", "    ")
    source = f"def decode(buf, off, venue, recv_ns, seq):\n{body}    return e\n"
    fn: Callable[[Any, int, str, int, int], Event] = _exec(source, layout.name, namespace)
    return fn


def compile_row(kind: str) -> Callable[[str, str, tuple[Any, ...]], Event]:
    """A function ``(venue, symbol, row) -> Event`` for a numeric row of ``kind``.

    ``row`` is a tuple of a :func:`~fluvius.feeds.events.dtype_of` row (``.tolist()`` of
    a structured array gives them); its symbol (field 0) is passed decoded, as ``symbol``.
    The event is built as the segment scan builds it (a mutable twin, then the public
    class). Only kinds whose other fields are all numbers (quote, trade, ...) qualify.

    >>> make = compile_row("trade")
    >>> make("IEX", "AB", (b"AB", 1, 2, 3, 25 * 10**9, 100, 7, 0))
    Trade(venue='IEX', symbol='AB', ts_ns=1, recv_ns=2, seq=3, px=25000000000, sz=100, \
trade_id=7, flags=0)
    """
    from fluvius.feeds.events import dtype_of

    dtype = dtype_of(kind)
    names = dtype.names or ()
    text = [n for n in names[1:] if dtype.fields[n][0].kind == "S"]  # type: ignore[index]
    if names[:1] != ("symbol",) or text:
        raise ValueError(f"compile_row needs a numeric row after the symbol; {kind!r} has {text}")
    lines = ["e = twin()", "e.venue = venue", "e.symbol = symbol"]
    lines += [f"e.{name} = row[{i}]" for i, name in enumerate(names) if i]
    lines.append("e.__class__ = cls")
    body = "".join(f"    {line}\n" for line in lines)
    source = f"def make(venue, symbol, row):\n{body}    return e\n"
    cls = EVENT_TYPES[kind]
    fn: Callable[[str, str, tuple[Any, ...]], Event]
    fn = _exec(source, f"row {kind}", {"twin": _twin(cls), "cls": cls})
    return fn


# branch order: the trading-day kinds first, then the pre-market spin's (one trading
# status, operational halt and short sale status per symbol, packed up to ~70 a segment)
_HOT = (
    "quote",
    "trade",
    "book_level_update",
    "trading_status",
    "operational_halt",
    "short_sale_status",
    "security_directory",
)


def compile_segment(
    layouts: dict[int, MessageLayout],
) -> Callable[[Any, int, int, str, int, int], tuple[list[Event], list[str]] | None]:
    """A function ``(buf, n, count, venue, recv_ns, first) -> (events, kinds) | None``.

    It walks the ``count`` message blocks of a whole segment ``buf[:n]`` (header at 0) in
    one loop, one branch per message type with the event's construction inline, and
    returns the events and their kinds, or None at the first block that is not exactly a
    documented message (the caller then hands the segment to the reference decoder). A
    block that runs past ``n`` raises ``IndexError`` or ``struct.error`` (the loop does not
    test bounds: the caller catches both and treats the segment as not clean).

    >>> from fluvius.feeds.iex.tops import TOPS_LAYOUTS
    >>> scan = compile_segment(TOPS_LAYOUTS)
    >>> seg = bytes(40) + bytes.fromhex("0a00534f0100000000000000")
    >>> events, kinds = scan(seg, 52, 1, "IEX", 5, 1)
    >>> kinds, events[0].system_event, events[0].seq
    (['system_event'], 'O', 1)
    >>> scan(bytes(40) + bytes.fromhex("0b00534f0100000000000000"), 52, 1, "IEX", 5, 1) is None
    True
    """
    rank = {kind: i for i, kind in enumerate(_HOT)}
    order = sorted(layouts.items(), key=lambda tl: (rank.get(tl[1].kind, len(_HOT)), tl[0]))
    source = (
        "def scan(buf, n, count, venue, recv_ns, seq):\n"
        "    events = []\n"
        "    kinds = []\n"
        "    append = events.append\n"
        "    kind_append = kinds.append\n"
        "    pos = 40\n"
        "    for _ in range(count):\n"
        "        t = buf[pos + 2]\n"
        "        length = buf[pos] | (buf[pos + 1] << 8)\n"
        "        off = pos + 2\n"
    )
    namespace: dict[str, Any] = {}
    for i, (t, layout) in enumerate(order):
        body, more = _event_code(layout, f"_{t}", "            ")
        namespace |= more
        source += (
            f"        {'if' if i == 0 else 'elif'} t == {t} and length == {layout.length}:\n"
            f"{body}            kind_append({layout.kind!r})\n"
        )
    source += (
        "        else:\n"
        "            return None\n"
        "        append(e)\n"
        "        pos = off + length\n"
        "        seq += 1\n"
        "    return (events, kinds) if pos == n else None\n"
    )
    fn: Callable[[Any, int, int, str, int, int], tuple[list[Event], list[str]] | None]
    fn = _exec(source, "segment", namespace)
    return fn


_SCANS = {
    TOPS_PROTOCOL_ID: compile_segment(TOPS_LAYOUTS),
    DEEP_PROTOCOL_ID: compile_segment(DEEP_LAYOUTS),
}


class FastSegmentDecoder:
    """Drop-in for :class:`~fluvius.feeds.iex.SegmentDecoder` (same events, same report).

    >>> seg = bytes.fromhex(
    ...     "010003800100000001000000" "0c00" "0100" + "00" * 8 + "0100000000000000" + "00" * 8
    ...     + "0a00" + "534f" + "0100000000000000")
    >>> FastSegmentDecoder().decode(seg, recv_ns=5)
    [SystemEvent(venue='IEX', symbol='', ts_ns=1, recv_ns=5, seq=1, system_event='O')]
    """

    def __init__(
        self, *, venue: str = "IEX", strict: bool = False, report: DecodeReport | None = None
    ) -> None:
        self.reference = SegmentDecoder(venue=venue, strict=strict, report=report)
        self.report = self.reference.report
        self.tracker = self.reference.tracker
        self.venue = venue
        self.strict = strict

    def decode(
        self,
        payload: bytes | bytearray | memoryview,
        recv_ns: int,
        *,
        offset: int = 0,
        truncated: bool = False,
    ) -> list[Event]:
        """The events of one datagram (see :meth:`SegmentDecoder.decode`)."""
        n = len(payload)
        if truncated or n < 40:
            return self.reference.decode(payload, recv_ns, offset=offset, truncated=truncated)
        version, _, protocol, channel, session, plen, count, soff, first, _ = HEADER.unpack_from(
            payload, 0
        )
        scan = _SCANS.get(protocol)
        if version != 1 or scan is None or n != 40 + plen or count == 0:
            return self.reference.decode(payload, recv_ns, offset=offset)
        # building events has no side effects: a segment that is not clean is handed over
        try:
            scanned = scan(payload, n, count, self.venue, recv_ns, first)
        except (IndexError, struct.error):  # a block runs past the end
            scanned = None
        if scanned is None:
            return self.reference.decode(payload, recv_ns, offset=offset)
        events, kinds = scanned
        # a clean segment: account for it exactly as the reference decoder would
        report = self.report
        report.datagrams += 1
        report.segments += 1
        tracker = self.tracker
        if not tracker.advance_in_order((protocol, channel, session), first, count, soff, plen):
            key = StreamKey(protocol, channel, session)
            drop = tracker.observe(key, first, count, soff, plen, offset)
            if drop:
                del events[:drop], kinds[:drop]
        counted = report.events
        for kind in kinds:
            counted[kind] = counted.get(kind, 0) + 1
        report.messages += len(events)
        return events
