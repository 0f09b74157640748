"""IEX: the IEX-TP transport, TOPS 1.6 and DEEP 1.0 decoders.

Layers: ``transport`` (segments, sequence tracking) · ``tops`` / ``deep`` (message layouts)
· ``reference`` (streaming decoder, one datagram at a time) · ``datagram`` (live decoder
to columns, one datagram at a time) · ``batch`` (columnar decoder
of whole captures) · ``report`` (what a decode saw).
"""

from __future__ import annotations

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
