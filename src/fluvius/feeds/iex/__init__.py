"""IEX: the IEX-TP transport, TOPS 1.6 and DEEP 1.0 decoders.

Layers: ``transport`` (segments, sequence tracking) · ``tops`` / ``deep`` (message layouts,
turned into field programs by ``_layout``) · ``reference`` (the readable decoder and
oracle, one datagram at a time) · the compiled kernel (``feeds._kernel_src.decode_rows``,
over N segments) used by ``batch`` (whole captures, chunk by chunk) and ``datagram`` (live,
one datagram) · ``report`` (what a decode saw).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fluvius._lazy import lazy_exports

if TYPE_CHECKING:
    from fluvius.feeds.iex.batch import DecodedCapture as DecodedCapture
    from fluvius.feeds.iex.batch import decode_capture as decode_capture
    from fluvius.feeds.iex.batch import iter_capture_batches as iter_capture_batches
    from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder as ColumnarSegmentDecoder
    from fluvius.feeds.iex.datagram import DatagramBatch as DatagramBatch
    from fluvius.feeds.iex.reference import SegmentDecoder as SegmentDecoder
    from fluvius.feeds.iex.reference import iter_events as iter_events
    from fluvius.feeds.iex.report import DecodeReport as DecodeReport
    from fluvius.feeds.iex.transport import SegmentHeader as SegmentHeader
    from fluvius.feeds.iex.transport import SequenceTracker as SequenceTracker

# public name -> the module that defines it (imported on first use: the Parquet export
# must not load the live decoder, nor the live path the batch decoder)
_LAZY = {
    "ColumnarSegmentDecoder": "fluvius.feeds.iex.datagram",
    "DatagramBatch": "fluvius.feeds.iex.datagram",
    "DecodeReport": "fluvius.feeds.iex.report",
    "DecodedCapture": "fluvius.feeds.iex.batch",
    "SegmentDecoder": "fluvius.feeds.iex.reference",
    "SegmentHeader": "fluvius.feeds.iex.transport",
    "SequenceTracker": "fluvius.feeds.iex.transport",
    "decode_capture": "fluvius.feeds.iex.batch",
    "iter_capture_batches": "fluvius.feeds.iex.batch",
    "iter_events": "fluvius.feeds.iex.reference",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

__all__ = [
    "ColumnarSegmentDecoder",
    "DatagramBatch",
    "DecodeReport",
    "DecodedCapture",
    "SegmentDecoder",
    "SegmentHeader",
    "SequenceTracker",
    "decode_capture",
    "iter_capture_batches",
    "iter_events",
]
