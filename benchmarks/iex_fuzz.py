"""Fuzz the IEX decoders with mutated datagrams and captures; report crashes and disagreements.

Usage::

    python benchmarks/iex_fuzz.py --datagrams 100000 --streams 3000 --files 300 \\
        --out benchmarks/results/iex_fuzz.json

Three levels, all seeded (``--seed``), so a failure is reproducible:

1. **datagrams**: valid TOPS/DEEP IEX-TP segments (random messages of every documented
   type, some unknown) are mutated (bit flips, byte writes, cuts, insertions, and targeted
   writes to the payload length, message count and block lengths) and fed to the streaming
   decoder, lenient and strict. Lenient must never raise; strict may raise only DecodeError.
2. **streams** (issue 15): runs of valid datagrams of one stream, with the mutation
   classes that attack sequence tracking: *sequence jumps* (a segment's first sequence
   number moved far ahead, back, or to 1), *forged sessions* (heartbeats and segments of
   random sessions and protocols) and spoofed 40-byte heartbeats, fed datagram by
   datagram to the reference and the columnar live decoder (the compiled kernel): same
   events, same report; at most ``max_streams`` streams tracked; no message of the stream
   lost but those judged duplicates;
3. **captures**: pcap and pcapng files of mutated frames, with container-level damage on
   top (record lengths, magic, truncation) and the issue-15 classes: sequence jumps and
   forged sessions in the segment headers, *zero-length records* (single and in runs),
   and *gzip bit flips* (the capture gzip-compressed, then bits of the compressed data
   flipped), decoded by the reference and the batch decoder (compiled, and its reference fallback),
   lenient and strict: they must give the same events and report, or the same DecodeError.

Every input's wall time is recorded; the slowest one is reported (a hang would show).
"""

from __future__ import annotations

import argparse
import gzip
import random
import struct
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results
from fluvius.errors import DecodeError
from fluvius.feeds.iex import DecodeReport, SegmentDecoder, iter_events
from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.datagram import ColumnarSegmentDecoder
from fluvius.feeds.iex.deep import DEEP_LAYOUTS
from fluvius.feeds.iex.tops import TOPS_LAYOUTS
from fluvius.feeds.iex.transport import PLAUSIBLE_JUMP

_ETH_IP_UDP = struct.Struct(">6s6sH BBHHHBBH4s4s HHHH")


def _message(rnd: random.Random, layouts: dict[int, Any]) -> bytes:
    if rnd.random() < 0.05:  # an undocumented type
        return bytes([rnd.choice([0x01, 0x5A, 0x7E])]) + rnd.randbytes(rnd.randint(0, 40))
    t = rnd.choice(list(layouts))
    body = bytearray(rnd.randbytes(layouts[t].length))
    body[0] = t
    body[10:18] = rnd.choice([b"AAPL    ", b"ZIEXT   ", b"BRK.B   ", b"        "])
    if rnd.random() < 0.05:
        body += rnd.randbytes(rnd.randint(1, 8))  # longer than documented
    return bytes(body)


def _segment(
    rnd: random.Random, seq: int, offset: int, protocol: int | None = None, session: int = 7
) -> bytes:
    protocol = protocol or rnd.choice([0x8003, 0x8004])
    layouts = TOPS_LAYOUTS if protocol == 0x8003 else DEEP_LAYOUTS
    msgs = [_message(rnd, layouts) for _ in range(rnd.choice([0, 1, 1, 2, 3, 5, 8]))]
    payload = b"".join(struct.pack("<H", len(m)) + m for m in msgs)
    head = struct.pack(
        "<BBHIIHHqqq", 1, 0, protocol, 1, session, len(payload), len(msgs), offset, seq, 0
    )
    return head + payload


def _jump(rnd: random.Random, seg: bytes) -> bytes:
    """Sequence jump: the segment's first sequence number moved far ahead, back, or to 1."""
    (first,) = struct.unpack_from("<q", seg, 24)
    new = rnd.choice(
        [
            first + rnd.randint(PLAUSIBLE_JUMP + 1, 1 << 40),
            first + rnd.randint(1, PLAUSIBLE_JUMP),
            first - rnd.randint(1, 1 << 20),
            1,
            rnd.randrange(-(1 << 63), 1 << 63),
        ]
    )
    return seg[:24] + struct.pack("<q", new) + seg[32:]


def _forged(rnd: random.Random) -> bytes:
    """Forged session: a heartbeat or a small segment of a random session and protocol."""
    protocol = rnd.choice([0x8003, 0x8004, 0x8002, 0x8005])
    session = rnd.randrange(1 << 32)
    if rnd.random() < 0.5:  # a spoofed 40-byte heartbeat
        first = rnd.randrange(1 << 40)
        return struct.pack("<BBHIIHHqqq", 1, 0, protocol, 1, session, 0, 0, 0, first, 0)
    return _segment(rnd, rnd.randrange(1, 1 << 40), 0, protocol & 0x8007 or 0x8003, session)


def _mutate(rnd: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        r = rnd.random()
        pos = rnd.randrange(len(out)) if out else 0
        if r < 0.3 and out:
            out[pos] ^= 1 << rnd.randrange(8)
        elif r < 0.5 and out:
            out[pos] = rnd.randrange(256)
        elif r < 0.6:
            del out[pos:]
        elif r < 0.7:
            out[pos:pos] = rnd.randbytes(rnd.randint(1, 12))
        elif r < 0.8 and len(out) >= 16:  # payload length / message count
            at = rnd.choice([12, 14])
            out[at : at + 2] = struct.pack("<H", rnd.randrange(65536))
        elif len(out) > 42:  # a block length
            at = 40 + rnd.randrange(max(1, len(out) - 42))
            out[at : at + 2] = struct.pack("<H", rnd.choice([0, 1, 9, 17, 29, 41, 255, 65535]))
    return bytes(out)


def _frame(payload: bytes) -> bytes:
    return _ETH_IP_UDP.pack(
        b"\x01\x00\x5e\x15\x15\x03", b"\x00\x11\x22\x33\x44\x55", 0x0800,
        0x45, 0, 28 + len(payload), 0, 0x4000, 64, 17, 0, b"\x0a\x00\x00\x01",
        b"\xe9\xd7\x15\x03", 5000, 10377, 8 + len(payload), 0,
    ) + payload  # fmt: skip


def _pcap(frames: list[bytes], rnd: random.Random) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for i, f in enumerate(frames):
        cut = f[: rnd.randint(0, len(f))] if rnd.random() < 0.02 else f
        out.append(struct.pack("<IIII", 1_600_000_000 + i, 0, len(cut), len(f)) + cut)
    return b"".join(out)


def _pcapng(frames: list[bytes]) -> bytes:
    def block(t: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", t, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out.append(block(1, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HHB3x", 9, 1, 9) + bytes(4)))
    for i, f in enumerate(frames):
        ticks = 1_600_000_000_000_000_000 + i
        head = struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(f), len(f))
        out.append(block(6, head + f))
    return b"".join(out)


def fuzz_datagrams(n: int, rnd: random.Random, stats: dict[str, Any]) -> None:
    seq, offset = 1, 0
    for _ in range(n):
        seg = _segment(rnd, seq, offset)
        data = _mutate(rnd, seg)
        t0 = time.perf_counter()
        try:
            SegmentDecoder().decode(data, recv_ns=0)
        except Exception:
            stats["lenient_exceptions"] += 1
            stats["failures"].append(traceback.format_exc(limit=3))
        try:
            SegmentDecoder(strict=True).decode(data, recv_ns=0)
        except DecodeError:
            stats["strict_decode_errors"] += 1
        except Exception:
            stats["strict_other_exceptions"] += 1
            stats["failures"].append(traceback.format_exc(limit=3))
        stats["max_input_seconds"] = max(stats["max_input_seconds"], time.perf_counter() - t0)
        stats["inputs"] += 1


def _live_run(decoder: Any, datagrams: list[bytes]) -> tuple[Any, Any]:
    events: list[Any] = []
    try:
        for i, d in enumerate(datagrams):
            events.extend(decoder.decode(d, recv_ns=i, offset=i))
    except DecodeError as exc:
        return ("error", exc.offset, str(exc)), decoder.report.as_dict()
    return events, decoder.report.as_dict()


def fuzz_streams(n: int, rnd: random.Random, stats: dict[str, Any]) -> None:
    """Runs of one stream's datagrams with sequence jumps, forged sessions and heartbeats."""
    for _ in range(n):
        protocol = rnd.choice([0x8003, 0x8004])
        clean: list[bytes] = []
        seq, offset = rnd.choice([1, rnd.randrange(1, 1 << 40)]), 0
        for _ in range(rnd.randint(1, 60)):
            seg = _segment(rnd, seq, offset, protocol)
            clean.append(seg)
            seq += struct.unpack_from("<H", seg, 14)[0]
            offset += len(seg) - 40
        datagrams: list[bytes] = []
        for seg in clean:
            r = rnd.random()
            if r < 0.08:
                datagrams.append(_jump(rnd, seg))
            elif r < 0.12:
                datagrams.append(_mutate(rnd, seg))
            else:
                datagrams.append(seg)
            while rnd.random() < 0.3:
                datagrams.append(_forged(rnd))
        if rnd.random() < 0.2:  # a flood of forged sessions: the tracker's bound
            for _ in range(rnd.randint(50, 400)):
                datagrams.insert(rnd.randrange(len(datagrams) + 1), _forged(rnd))
        for strict in (False, True):
            t0 = time.perf_counter()
            try:
                ref = SegmentDecoder(strict=strict)
                want = _live_run(ref, datagrams)
                for other in (ColumnarSegmentDecoder(strict=strict),):
                    got = _live_run(other, datagrams)
                    if _no_recv(got) != _no_recv(want):
                        stats["disagreements"] += 1
                        stats["failures"].append(
                            f"live decoders disagree (strict={strict}, {type(other).__name__})"
                        )
                if len(ref.tracker) > ref.tracker.max_streams:
                    stats["failures"].append(f"tracker holds {len(ref.tracker)} streams")
                    stats["disagreements"] += 1
                if strict and isinstance(want[0], tuple):
                    stats["strict_decode_errors"] += 1
            except Exception:
                stats["file_exceptions"] += 1
                stats["failures"].append(traceback.format_exc(limit=3))
            stats["max_input_seconds"] = max(stats["max_input_seconds"], time.perf_counter() - t0)
        stats["inputs"] += 1
        stats["stream_inputs"] += 1


def _no_recv(result: tuple[Any, Any]) -> tuple[Any, Any]:
    events, report = result
    if isinstance(events, list):
        events = [(e.kind, e.symbol, e.ts_ns, e.seq) for e in events]
    return events, report


def _decode_both(path: Path, strict: bool) -> tuple[Any, Any]:
    try:
        report = DecodeReport()
        events = list(iter_events(path, strict=strict, report=report))
        ref: Any = (
            {k: [e for e in events if e.kind == k] for k in sorted({e.kind for e in events})},
            report.as_dict(),
        )
    except DecodeError as exc:
        ref = ("error", exc.offset, str(exc))
    got: Any = None
    for use_numba in (True, False):
        try:
            batch = decode_capture(path, strict=strict, use_numba=use_numba)
            this: Any = (
                {k: b.events() for k, b in sorted(batch.batches.items())},
                batch.report.as_dict(),
            )
        except DecodeError as exc:
            this = ("error", exc.offset, str(exc))
        if got is None or this != ref:  # report a numpy-path disagreement too
            got = this
    return ref, got


def _zero_records(rnd: random.Random, data: bytes) -> bytes:
    """Zero-length records (single, and runs) between the records of a classic pcap."""
    out = [data[:24]]
    pos = 24
    empty = struct.pack("<IIII", 1_600_000_000, 0, 0, 0)
    while pos + 16 <= len(data):
        (incl,) = struct.unpack_from("<I", data, pos + 8)
        if rnd.random() < 0.2:
            out.append(empty * rnd.choice([1, 1, 2, 9, 100, 5000]))
        out.append(data[pos : pos + 16 + incl])
        pos += 16 + incl
    out.append(data[pos:])
    return b"".join(out)


def _gzip_flips(rnd: random.Random, data: bytes) -> bytes:
    """The capture gzip-compressed, then 1-3 bits of the compressed data flipped."""
    packed = bytearray(gzip.compress(data, 6))
    for _ in range(rnd.randint(1, 3)):
        packed[rnd.randrange(10, len(packed))] ^= 1 << rnd.randrange(8)
    return bytes(packed)


def fuzz_files(n: int, rnd: random.Random, stats: dict[str, Any], tmp: Path) -> None:
    for i in range(n):
        classes = rnd.random()
        segs = []
        for j in range(rnd.randint(1, 300)):
            seg = _segment(rnd, 1 + j, 0)
            if classes < 0.5:  # the issue-15 classes: sequence jumps, forged sessions
                r = rnd.random()
                seg = _jump(rnd, seg) if r < 0.1 else _forged(rnd) if r < 0.2 else seg
            else:
                seg = _mutate(rnd, seg)
            segs.append(seg)
        frames = [_frame(seg) for seg in segs]
        is_pcap = rnd.random() < 0.6
        data = _pcap(frames, rnd) if is_pcap else _pcapng(frames)
        if is_pcap and rnd.random() < 0.3:
            data = _zero_records(rnd, data)
        if rnd.random() < 0.3:  # container damage too
            data = _mutate(rnd, data)
        if rnd.random() < 0.2:
            data = _gzip_flips(rnd, data)
        path = tmp / f"f{i}.cap"
        path.write_bytes(data)
        for strict in (False, True):
            t0 = time.perf_counter()
            try:
                ref, got = _decode_both(path, strict)
                if ref != got:
                    stats["disagreements"] += 1
                    keep = tmp.parent / f"iex_fuzz_disagreement_{i}_{strict}.cap"
                    keep.write_bytes(data)
                    stats["failures"].append(f"decoders disagree on {keep} (strict={strict})")
            except Exception:
                stats["file_exceptions"] += 1
                stats["failures"].append(traceback.format_exc(limit=3))
            elapsed = time.perf_counter() - t0
            stats["max_input_seconds"] = max(stats["max_input_seconds"], elapsed)
        stats["inputs"] += 1
        stats["file_inputs"] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datagrams", type=int, default=100_000)
    parser.add_argument("--streams", type=int, default=3_000)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20171010)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    np.random.seed(args.seed)
    stats: dict[str, Any] = {
        "seed": args.seed,
        "inputs": 0,
        "file_inputs": 0,
        "stream_inputs": 0,
        "lenient_exceptions": 0,
        "strict_decode_errors": 0,
        "strict_other_exceptions": 0,
        "file_exceptions": 0,
        "disagreements": 0,
        "max_input_seconds": 0.0,
        "failures": [],
    }
    t0 = time.perf_counter()
    fuzz_datagrams(args.datagrams, rnd, stats)
    fuzz_streams(args.streams, rnd, stats)
    with tempfile.TemporaryDirectory() as tmp:
        fuzz_files(args.files, rnd, stats, Path(tmp))
    stats["seconds"] = time.perf_counter() - t0
    stats["inputs_per_second"] = stats["inputs"] / stats["seconds"]
    stats["failures"] = stats["failures"][:20]
    bad = (
        stats["lenient_exceptions"]
        + stats["strict_other_exceptions"]
        + stats["file_exceptions"]
        + stats["disagreements"]
    )
    print(
        f"{stats['inputs']:,} inputs ({args.datagrams:,} datagrams, {stats['stream_inputs']:,} "
        f"streams, {stats['file_inputs']:,} captures) in {stats['seconds']:.1f} s; strict "
        "DecodeErrors "
        f"{stats['strict_decode_errors']:,}; crashes {bad}; slowest input "
        f"{stats['max_input_seconds'] * 1000:.1f} ms"
    )
    for failure in stats["failures"][:5]:
        print(failure)
    write_results(args.out, stats)
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
