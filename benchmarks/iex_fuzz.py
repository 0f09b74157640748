"""Fuzz the IEX decoders with mutated datagrams and captures; report crashes and disagreements.

Usage::

    python benchmarks/iex_fuzz.py --datagrams 100000 --files 300 \\
        --out benchmarks/results/iex_fuzz.json

Two levels, both seeded (``--seed``), so a failure is reproducible:

1. **datagrams**: valid TOPS/DEEP IEX-TP segments (random messages of every documented
   type, some unknown) are mutated (bit flips, byte writes, cuts, insertions, and targeted
   writes to the payload length, message count and block lengths) and fed to the streaming
   decoder, lenient and strict. Lenient must never raise; strict may raise only DecodeError.
2. **captures**: pcap and pcapng files of mutated frames, with container-level damage on
   top (record lengths, magic, truncation), decoded by the reference and the batch decoder,
   lenient and strict: they must give the same events and report, or the same DecodeError.

Every input's wall time is recorded; the slowest one is reported (a hang would show).
"""

from __future__ import annotations

import argparse
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
from fluvius.feeds.iex.deep import DEEP_LAYOUTS
from fluvius.feeds.iex.tops import TOPS_LAYOUTS

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


def _segment(rnd: random.Random, seq: int, offset: int) -> bytes:
    protocol = rnd.choice([0x8003, 0x8004])
    layouts = TOPS_LAYOUTS if protocol == 0x8003 else DEEP_LAYOUTS
    msgs = [_message(rnd, layouts) for _ in range(rnd.choice([0, 1, 1, 2, 3, 5, 8]))]
    payload = b"".join(struct.pack("<H", len(m)) + m for m in msgs)
    head = struct.pack("<BBHIIHHqqq", 1, 0, protocol, 1, 7, len(payload), len(msgs), offset, seq, 0)
    return head + payload


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
    try:
        batch = decode_capture(path, strict=strict)
        got: Any = (
            {k: b.events() for k, b in sorted(batch.batches.items())},
            batch.report.as_dict(),
        )
    except DecodeError as exc:
        got = ("error", exc.offset, str(exc))
    return ref, got


def fuzz_files(n: int, rnd: random.Random, stats: dict[str, Any], tmp: Path) -> None:
    for i in range(n):
        frames = [_frame(_mutate(rnd, _segment(rnd, 1 + j, 0))) for j in range(rnd.randint(1, 300))]
        data = _pcap(frames, rnd) if rnd.random() < 0.6 else _pcapng(frames)
        if rnd.random() < 0.3:  # container damage too
            data = _mutate(rnd, data)
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
        f"{stats['inputs']:,} inputs ({args.datagrams:,} datagrams, {stats['file_inputs']:,} "
        f"captures) in {stats['seconds']:.1f} s; strict DecodeErrors "
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
