"""Unified market events: one schema for every venue (docs/reference/iex.md).

Design note
-----------
An event has three shapes that carry the same field names:

* **streaming** — one frozen, slotted class per kind (:class:`Quote`, :class:`Trade`, ...),
  for live use and for the readable reference decoder;
* **columnar** — one numpy structured array per kind (:func:`dtype_of`), what the fast batch
  decoder produces; :class:`EventBatch` pairs such an array with its kind and venue;
* **Arrow / JSON** — :func:`to_arrow` and :func:`event_to_dict` / :func:`event_to_json`.

Every event has ``kind``, ``venue``, ``symbol``, ``ts_ns`` (exchange timestamp), ``recv_ns``
(capture or receive time) and ``seq`` (transport sequence number), then its own fields:
quote, trade and book level update use the contract's names (``bid_px``, ``px``, ``sz``, ...);
the other kinds name their fields after the exchange specification's field names in
snake_case (IEX TOPS 1.66 / DEEP 1.08, ``shared/reference/iex-specs``).

Units and encodings:

* prices are :data:`Price` — int64 fixed point in units of 1e-9 of the currency (IEX's 1e-4
  prices times :data:`IEX_PRICE_FACTOR`); zero means "no price", as on the wire;
* timestamps are :data:`TimestampNs` — int64 ns since the Unix epoch, UTC; the auction's
  ``scheduled_auction_time`` (seconds on the wire) is converted to ns as well;
* sizes are the wire's unsigned 32-bit integers (numpy ``uint32``);
* one-letter codes stay the wire's ASCII character (``str`` of length 1; numpy ``S1``); a
  space is meaningful ("none": no short-sale test, no retail interest) and is kept as ``" "``;
* strings (symbol, trading-status reason) lose their right space padding only.

The file is longer than the usual ~400 lines because it is the one place that defines
every kind (13 classes, their numpy and Arrow types): splitting it would scatter a contract.

In the columnar shape ``kind`` and ``venue`` are the same for every row of an array, so
they are attributes of :class:`EventBatch` rather than stored per row; :func:`to_arrow`
writes them as (dictionary-encoded) columns so Arrow, Parquet and JSON rows carry every field.

>>> q = Quote("IEX", "ZIEXT", 1471980632572715948, 1471980632572800000, 7,
...           990500 * IEX_PRICE_FACTOR, 9700, 990700 * IEX_PRICE_FACTOR, 1000, 0)
>>> event_to_json(q)[:61]
'{"kind": "quote", "venue": "IEX", "symbol": "ZIEXT", "ts_ns":'
>>> events_from_array("quote", events_to_array([q]))[0] == q
True
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, NewType

import numpy as np

from fluvius._record import frozen_record

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    import pyarrow as pa

__all__ = [
    "AuctionInformation",
    "BOOK_DEPTH",
    "BookLevelUpdate",
    "EVENT_TYPES",
    "Event",
    "EventBatch",
    "IEX_PRICE_FACTOR",
    "KINDS",
    "OfficialPrice",
    "OperationalHalt",
    "PRICE_SCALE",
    "Price",
    "Quote",
    "RetailLiquidityIndicator",
    "SecurityDirectory",
    "SecurityEvent",
    "ShortSaleStatus",
    "SystemEvent",
    "TimestampNs",
    "Trade",
    "TradeBreak",
    "TradingStatus",
    "arrow_schema",
    "dtype_of",
    "event_to_dict",
    "event_to_json",
    "events_from_array",
    "events_to_array",
    "fields_typed",
    "text_fields",
    "to_arrow",
]

Price = NewType("Price", int)
"""Fixed-point price: int64 in units of 1e-9 of the currency. Never a float."""

TimestampNs = NewType("TimestampNs", int)
"""Nanoseconds since the Unix epoch, UTC, as int64 (beyond float64 precision)."""

PRICE_SCALE = 1_000_000_000
"""Price units per currency unit: ``Price(1_500_000_000)`` is 1.50."""

IEX_PRICE_FACTOR = 100_000
"""IEX prices carry 4 implied decimals; multiply by this to get :data:`Price` units."""


@frozen_record
class Event:
    """Fields every event has; ``kind`` is a class attribute of each concrete kind."""

    kind: ClassVar[str] = ""
    venue: str
    symbol: str
    ts_ns: TimestampNs
    recv_ns: TimestampNs
    seq: int


@frozen_record
class Quote(Event):
    """Best bid and offer (TOPS Quote Update ``Q``); a zero price/size means an empty side."""

    kind: ClassVar[str] = "quote"
    bid_px: Price
    bid_sz: int
    ask_px: Price
    ask_sz: int
    flags: int


@frozen_record
class Trade(Event):
    """A trade (Trade Report ``T``); ``flags`` are the sale condition flags."""

    kind: ClassVar[str] = "trade"
    px: Price
    sz: int
    trade_id: int
    flags: int


@frozen_record
class BookLevelUpdate(Event):
    """One price level of one side (DEEP ``8`` buy / ``5`` sell); ``sz`` 0 removes the level.

    ``event_end`` is the spec's Event Flags = 1: the book is consistent only after it.
    """

    kind: ClassVar[str] = "book_level_update"
    side: str
    px: Price
    sz: int
    event_end: bool


@frozen_record
class TradingStatus(Event):
    """Trading Status ``H``: ``H`` halted, ``O`` order acceptance, ``P`` paused, ``T`` trading."""

    kind: ClassVar[str] = "trading_status"
    trading_status: str
    reason: str


@frozen_record
class SystemEvent(Event):
    """System Event ``S`` (``O S R M E C``); the symbol is empty."""

    kind: ClassVar[str] = "system_event"
    system_event: str


@frozen_record
class SecurityDirectory(Event):
    """Security Directory ``D`` (IEX-listed symbols only)."""

    kind: ClassVar[str] = "security_directory"
    flags: int
    round_lot_size: int
    adjusted_poc_price: Price
    luld_tier: int


@frozen_record
class AuctionInformation(Event):
    """Auction Information ``A``; ``scheduled_auction_time`` is in ns (seconds on the wire)."""

    kind: ClassVar[str] = "auction_information"
    auction_type: str
    paired_shares: int
    reference_price: Price
    indicative_clearing_price: Price
    imbalance_shares: int
    imbalance_side: str
    extension_number: int
    scheduled_auction_time: TimestampNs
    auction_book_clearing_price: Price
    collar_reference_price: Price
    lower_auction_collar: Price
    upper_auction_collar: Price


@frozen_record
class TradeBreak(Event):
    """Trade Break ``B``: the trade with ``trade_id`` was broken."""

    kind: ClassVar[str] = "trade_break"
    sale_condition_flags: int
    size: int
    price: Price
    trade_id: int


@frozen_record
class OfficialPrice(Event):
    """Official Price ``X``: ``price_type`` ``Q`` opening, ``M`` closing."""

    kind: ClassVar[str] = "official_price"
    price_type: str
    official_price: Price


@frozen_record
class ShortSaleStatus(Event):
    """Short Sale Price Test Status ``P``: status 0/1 (a number), ``detail`` a letter or space."""

    kind: ClassVar[str] = "short_sale_status"
    short_sale_price_test_status: int
    detail: str


@frozen_record
class OperationalHalt(Event):
    """Operational Halt Status ``O``: ``O`` halted on IEX, ``N`` not halted."""

    kind: ClassVar[str] = "operational_halt"
    operational_halt_status: str


@frozen_record
class RetailLiquidityIndicator(Event):
    """Retail Liquidity Indicator ``I``: space none, ``A`` buy, ``B`` sell, ``C`` both."""

    kind: ClassVar[str] = "retail_liquidity_indicator"
    retail_liquidity_indicator: str


@frozen_record
class SecurityEvent(Event):
    """Security Event ``E`` (DEEP): ``O`` opening process complete, ``C`` closing complete."""

    kind: ClassVar[str] = "security_event"
    security_event: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        Quote,
        Trade,
        BookLevelUpdate,
        TradingStatus,
        SystemEvent,
        SecurityDirectory,
        AuctionInformation,
        TradeBreak,
        OfficialPrice,
        ShortSaleStatus,
        OperationalHalt,
        RetailLiquidityIndicator,
        SecurityEvent,
    )
}
"""Every kind's name → its event class, in a fixed order."""

KINDS: tuple[str, ...] = tuple(EVENT_TYPES)
"""Every kind's name."""

# One numpy type per field name, whatever the kind (same name, same meaning, same type).
_FIELD_DTYPES: dict[str, str] = {
    "symbol": "S8",
    "ts_ns": "<i8",
    "recv_ns": "<i8",
    "seq": "<i8",
    "bid_px": "<i8",
    "bid_sz": "<u4",
    "ask_px": "<i8",
    "ask_sz": "<u4",
    "flags": "u1",
    "px": "<i8",
    "sz": "<u4",
    "trade_id": "<i8",
    "side": "S1",
    "event_end": "?",
    "trading_status": "S1",
    "reason": "S4",
    "system_event": "S1",
    "round_lot_size": "<u4",
    "adjusted_poc_price": "<i8",
    "luld_tier": "u1",
    "auction_type": "S1",
    "paired_shares": "<u4",
    "reference_price": "<i8",
    "indicative_clearing_price": "<i8",
    "imbalance_shares": "<u4",
    "imbalance_side": "S1",
    "extension_number": "u1",
    "scheduled_auction_time": "<i8",
    "auction_book_clearing_price": "<i8",
    "collar_reference_price": "<i8",
    "lower_auction_collar": "<i8",
    "upper_auction_collar": "<i8",
    "sale_condition_flags": "u1",
    "size": "<u4",
    "price": "<i8",
    "price_type": "S1",
    "official_price": "<i8",
    "short_sale_price_test_status": "u1",
    "detail": "S1",
    "operational_halt_status": "S1",
    "retail_liquidity_indicator": "S1",
    "security_event": "S1",
}


def _row_fields(cls: type[Event]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name != "venue")


_ROW_FIELDS: dict[str, tuple[str, ...]] = {k: _row_fields(c) for k, c in EVENT_TYPES.items()}
_DTYPES: dict[str, np.dtype[Any]] = {
    kind: np.dtype([(name, _FIELD_DTYPES[name]) for name in names])
    for kind, names in _ROW_FIELDS.items()
}
_TEXT_FIELDS = frozenset(n for n, t in _FIELD_DTYPES.items() if t.startswith("S"))
_CODE_FIELDS = frozenset(n for n, t in _FIELD_DTYPES.items() if t == "S1")


BOOK_DEPTH = 5
"""Levels per side of a ``book_snapshot`` row by default (``OrderBooks``' default depth)."""

_COMMON = [(name, _FIELD_DTYPES[name]) for name in ("symbol", "ts_ns", "recv_ns", "seq")]
_BBO_DTYPE = np.dtype(
    [*_COMMON, *((n, _FIELD_DTYPES[n]) for n in ("bid_px", "bid_sz", "ask_px", "ask_sz"))]
)


def dtype_of(kind: str, depth: int = BOOK_DEPTH) -> np.dtype[Any]:
    """The numpy structured dtype of one kind's rows (every field except ``kind``, ``venue``).

    Besides the decoded kinds (:data:`KINDS`), the books' kinds (:mod:`fluvius.feeds.book`):
    ``bbo`` has the fields of a quote without ``flags``; ``book_snapshot`` has ``bid_px``,
    ``bid_sz``, ``ask_px``, ``ask_sz`` as arrays of ``depth`` levels, best first, padded
    with zeros (a level of size 0 is no level).

    >>> dtype_of("trade").names
    ('symbol', 'ts_ns', 'recv_ns', 'seq', 'px', 'sz', 'trade_id', 'flags')
    >>> dtype_of("book_snapshot", depth=3)["bid_px"].shape
    (3,)
    """
    found = _DTYPES.get(kind)
    if found is not None:
        return found
    if kind == "bbo":
        return _BBO_DTYPE
    if kind == "book_snapshot":
        levels = [(n, _FIELD_DTYPES[n], (depth,)) for n in ("bid_px", "bid_sz", "ask_px", "ask_sz")]
        return np.dtype([*_COMMON, *levels])
    known = (*KINDS, "bbo", "book_snapshot")
    raise ValueError(f"unknown event kind {kind!r}; expected one of {known}")


@frozen_record
class EventBatch:
    """Rows of one kind from one venue, as a numpy structured array of :func:`dtype_of`."""

    kind: str
    venue: str
    rows: np.ndarray[Any, np.dtype[Any]]

    def __len__(self) -> int:
        return len(self.rows)

    def events(self) -> list[Event]:
        """The rows as event objects (slow; for tests and small batches)."""
        return events_from_array(self.kind, self.rows, self.venue)

    def to_arrow(self) -> pa.RecordBatch:
        """The rows as an Arrow record batch with every field (see :func:`to_arrow`)."""
        return to_arrow(self.kind, self.rows, self.venue)


def event_to_dict(event: Event) -> dict[str, Any]:
    """Every field of ``event`` as a plain dict, ``kind`` first (JSON-ready).

    >>> event_to_dict(SystemEvent("IEX", "", 5, 6, 1, "O"))
    {'kind': 'system_event', 'venue': 'IEX', 'symbol': '', 'ts_ns': 5, 'recv_ns': 6, 'seq': 1, \
'system_event': 'O'}
    """
    out: dict[str, Any] = {"kind": event.kind}
    for f in dataclasses.fields(event):
        out[f.name] = getattr(event, f.name)
    return out


def event_to_json(event: Event) -> str:
    """``event`` as one line of JSON (no newline), ``kind`` first."""
    return json.dumps(event_to_dict(event), ensure_ascii=False)


def events_to_array(events: Sequence[Event]) -> np.ndarray[Any, np.dtype[Any]]:
    """Events of one kind as a structured array of :func:`dtype_of` (``venue`` is dropped)."""
    if not events:
        raise ValueError("events_to_array needs at least one event to know the kind")
    kind = events[0].kind
    names = _ROW_FIELDS[kind]
    rows = []
    for ev in events:
        if ev.kind != kind:
            raise ValueError(f"events_to_array got kinds {kind!r} and {ev.kind!r}; expected one")
        rows.append(
            tuple(
                getattr(ev, n).encode("latin-1") if n in _TEXT_FIELDS else getattr(ev, n)
                for n in names
            )
        )
    return np.array(rows, dtype=_DTYPES[kind])


def events_from_array(
    kind: str, rows: np.ndarray[Any, np.dtype[Any]], venue: str = "IEX"
) -> list[Event]:
    """The rows of a structured array of :func:`dtype_of` as event objects."""
    cls = EVENT_TYPES[kind]
    names = _ROW_FIELDS[kind]
    columns: list[Iterable[Any]] = []
    for n in names:
        col = rows[n].tolist()
        if n in _CODE_FIELDS:
            # numpy drops trailing NULs of S fields, so a NUL code reads back as b""
            col = [b.decode("latin-1") if b else "\x00" for b in col]
        elif n in _TEXT_FIELDS:
            col = [b.decode("latin-1") for b in col]
        columns.append(col)
    return [cls(venue, *values) for values in zip(*columns, strict=True)]


@cache  # one per kind (to_arrow makes every batch of a kind with it)
def arrow_schema(kind: str) -> pa.Schema:
    """The Arrow schema of one kind: ``kind``, ``venue``, then the rows' fields.

    Text fields (symbol, one-letter codes, reason) are dictionary-encoded strings: a day
    has a few thousand symbols over millions of rows.
    """
    import pyarrow as pa

    fields = [
        pa.field("kind", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("venue", pa.dictionary(pa.int8(), pa.string()), nullable=False),
    ]
    for name in _ROW_FIELDS[kind]:
        code = _FIELD_DTYPES[name]
        typ = (
            pa.dictionary(pa.int32(), pa.string())
            if code.startswith("S")
            else pa.from_numpy_dtype(np.dtype(code))
        )
        fields.append(pa.field(name, typ, nullable=False))
    return pa.schema(fields)


def to_arrow(
    kind: str,
    rows: np.ndarray[Any, np.dtype[Any]] | Mapping[str, np.ndarray[Any, np.dtype[Any]]],
    venue: str = "IEX",
) -> pa.RecordBatch:
    """One kind's rows as an Arrow record batch with every field, ``kind`` first.

    ``rows`` is a structured array of :func:`dtype_of` or a mapping of its columns.
    Numeric columns are handed to Arrow without copies when contiguous; text fields are
    dictionary-encoded by Arrow, and only the (small) dictionary is decoded in Python.
    Every array is built from its buffers, never by ``pa.array``: that call imports pandas
    when it is installed (about 0.3 s and 100 MB, once per process), which a decoder
    that never touches pandas should not pay.
    """
    import pyarrow as pa

    schema = arrow_schema(kind)
    n = len(rows["seq"])
    zeros = pa.py_buffer(np.zeros(n, np.int8))
    columns: list[pa.Array] = [
        pa.DictionaryArray.from_buffers(schema.field(0).type, n, [None, zeros], _strings([kind])),
        pa.DictionaryArray.from_buffers(schema.field(1).type, n, [None, zeros], _strings([venue])),
    ]
    for name in _ROW_FIELDS[kind]:
        col = rows[name]
        if name in _TEXT_FIELDS:
            columns.append(_bytes_to_arrow_dictionary(col, code=name in _CODE_FIELDS))
        else:
            columns.append(_numeric_to_arrow(col))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def fields_typed(kind: str, annotation: str) -> list[str]:
    """The fields of ``kind`` declared with type ``annotation`` (``"Price"``, ``"TimestampNs"``).

    >>> fields_typed("trade", "Price"), fields_typed("trade", "TimestampNs")
    (['px'], ['ts_ns', 'recv_ns'])
    """
    cls = EVENT_TYPES[kind]
    return [
        f.name for f in dataclasses.fields(cls) if f.type in (annotation, globals()[annotation])
    ]


def text_fields(kind: str) -> list[str]:
    """The fields of ``kind`` stored as fixed-width bytes and written as text (in order).

    >>> text_fields("quote")
    ['symbol']
    """
    return [name for name in _ROW_FIELDS[kind] if name in _TEXT_FIELDS]


def _numeric_to_arrow(col: np.ndarray[Any, np.dtype[Any]]) -> pa.Array:
    """A numeric or bool numpy column as an Arrow array (no copy when contiguous)."""
    import pyarrow as pa

    if col.dtype == np.bool_:
        data = np.packbits(col, bitorder="little")  # Arrow booleans are bits, LSB first
        return pa.Array.from_buffers(pa.bool_(), len(col), [None, pa.py_buffer(data)])
    col = np.ascontiguousarray(col)
    typ = pa.from_numpy_dtype(col.dtype)
    return pa.Array.from_buffers(typ, len(col), [None, pa.py_buffer(col)])


def _bytes_to_arrow_dictionary(col: np.ndarray[Any, np.dtype[Any]], *, code: bool) -> pa.Array:
    """A fixed-width ``S<n>`` column as a dictionary-encoded Arrow string array.

    Values decode as numpy reads them (trailing NULs dropped), through latin-1 so that no
    byte string can fail; a one-letter code that is NUL stays ``"\x00"``.
    """
    import pyarrow as pa

    col = np.ascontiguousarray(col)
    width = col.dtype.itemsize
    # hashed as unsigned integers of the same width where there is one: Arrow's integer
    # hash table is 2-4 times faster than its byte-string one (no memcmp per probe)
    as_int = _UINT_OF_WIDTH.get(width)
    typ = pa.binary(width) if as_int is None else getattr(pa, as_int)()
    values = pa.Array.from_buffers(typ, len(col), [None, pa.py_buffer(col)])
    encoded = _call("dictionary_encode", values)
    d = encoded.dictionary
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(d), [None, d.buffers()[1]], offset=d.offset
    )
    return pa.DictionaryArray.from_arrays(encoded.indices, _fixed_to_strings(fixed, code))


_UINT_OF_WIDTH = {1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64"}  # Arrow type names


def _fixed_to_strings(fixed: pa.FixedSizeBinaryArray, code: bool) -> pa.Array:
    """Fixed-width byte strings as Arrow strings: trailing NULs dropped, latin-1.

    ASCII values (all real symbols and codes) are cut out of the fixed-width buffer with
    numpy, with no Python object per value: a day's Parquet export meets each symbol
    again in every row group. Other bytes go through ``bytes.decode("latin-1")``.
    """
    width = fixed.type.byte_width
    raw = np.frombuffer(fixed.buffers()[1], np.uint8, len(fixed) * width, fixed.offset * width)
    raw = raw.reshape(len(fixed), width)
    if (raw >= 0x80).any():
        values = [b.rstrip(b"\x00").decode("latin-1") for b in fixed.to_pylist()]
        return _strings([v or "\x00" for v in values] if code else values)
    nonzero = raw != 0
    lengths = np.where(nonzero.any(axis=1), width - np.argmax(nonzero[:, ::-1], axis=1), 0)
    if code:  # a NUL code stays "\x00"
        lengths = np.maximum(lengths, 1)
    data = raw[np.arange(width) < lengths[:, None]]  # each value's bytes, in order
    offsets = np.zeros(len(raw) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return _string_array(len(raw), offsets, data.tobytes())


def _call(function: str, *args: Any) -> Any:
    """Arrow compute ``function`` on ``args``, without importing ``pyarrow.compute``.

    That module generates a Python wrapper, with its docstring, for each of Arrow's
    hundreds of compute functions: 60 ms at its first import, a fifth of the whole
    ``fluvius iex decode`` of a small capture. The engine's ``call_function`` lives in
    the compiled ``pyarrow._compute``; ``pyarrow.compute.call_function`` is the same.
    """
    try:
        from pyarrow._compute import call_function
    except ImportError:  # pragma: no cover - a pyarrow that moved it
        from pyarrow.compute import call_function
    return call_function(function, list(args))


def _strings(values: list[str]) -> pa.Array:
    """An Arrow string array of ``values``, from its offsets and UTF-8 bytes (see above)."""
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    np.cumsum(np.fromiter(map(len, encoded), np.int32, len(encoded)), out=offsets[1:])
    return _string_array(len(encoded), offsets, b"".join(encoded))


def _string_array(n: int, offsets: np.ndarray[Any, np.dtype[Any]], data: bytes) -> pa.Array:
    import pyarrow as pa

    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
