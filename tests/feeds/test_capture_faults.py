"""Issue 15 (items 5 and 9): damaged containers and degenerate input, on real files.

A corrupt gzip stream (isal's ``IsalError`` is no ``OSError``) must be a clear error naming
the file and the offset, with the records before the damage decoded; ``--strict`` must
fail on a corrupt container; degenerate input (empty records, runs of empty blocks) must
walk alike in the compiled and the readable walk.
"""

from __future__ import annotations

import gzip
import json
import random
import socket
import struct
import zlib
from pathlib import Path

import pytest
from capture_builder import shared_sample
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.errors import DecodeError
from fluvius.feeds.iex import DecodeReport, iter_events
from fluvius.feeds.iex.batch import decode_capture
from fluvius.feeds.iex.export import summarize, write_parquet
from fluvius.feeds.iex.replay import iter_datagrams
from fluvius.feeds.iex.synthetic import synthetic_tops

runner = CliRunner()
SAMPLE = shared_sample()


def _plain_capture(tmp_path: Path) -> bytes:
    """The real sample's bytes when present, else a synthetic TOPS capture (~3 MB)."""
    if SAMPLE is not None:
        return gzip.decompress(SAMPLE.read_bytes())
    return synthetic_tops(60_000, n_symbols=100, seed=5).write(tmp_path / "t.pcap").read_bytes()


def _bad_gzip(tmp_path: Path) -> tuple[Path, int]:
    """The capture gzip-compressed, with an invalid deflate block after its first ~1.3 MB.

    Returns the file and how many uncompressed bytes come before the damage.
    """
    data = _plain_capture(tmp_path)
    keep = 1_300_000
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip wrapper
    head = packer.compress(data[:keep]) + packer.flush(zlib.Z_FULL_FLUSH)  # byte-aligned
    # BFINAL 0, BTYPE 11: a reserved block type, as a bit flip in a block header makes it
    path = tmp_path / "damaged.pcap.gz"
    path.write_bytes(head + b"\x06" + packer.compress(data[keep:]) + packer.flush())
    return path, keep


def _bad_record(tmp_path: Path) -> tuple[Path, int]:
    """The capture with one record length made impossible in the middle (its byte offset)."""
    data = bytearray(_plain_capture(tmp_path))
    pos = 24
    while pos < len(data) // 2:
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    struct.pack_into("<I", data, pos + 8, 0x7FFF0000)
    path = tmp_path / "bad_record.pcap"
    path.write_bytes(bytes(data))
    return path, pos


@pytest.mark.slow
def test_corrupt_gzip_stream_keeps_what_came_before_in_every_reader(tmp_path: Path) -> None:
    path, keep = _bad_gzip(tmp_path)
    report = DecodeReport()
    events = list(iter_events(path, report=report))
    clean = tmp_path / "clean.pcap"
    clean.write_bytes(_plain_capture(tmp_path)[:keep])  # the bytes before the damage
    before = list(iter_events(clean))
    # every event of the records inflated before the damage (read 1 MiB at a time)
    assert 0 < len(events) <= len(before)
    assert events == before[: len(events)]
    assert len(events) > len(before) * 0.7
    why = report.capture.truncated_file
    assert why.startswith("the compressed data is damaged after byte ")
    assert "IsalError" in why or "error" in why
    for use_numba in (True, False):
        batch = decode_capture(path, use_numba=use_numba)
        assert batch.report.as_dict() == report.as_dict()
    assert summarize(path).report.as_dict()["capture"] == report.capture.as_dict()
    parquet_report, _ = write_parquet(path, tmp_path / "pq")
    assert parquet_report.capture.truncated_file.startswith("the compressed data is damaged")
    assert sum(1 for _ in iter_datagrams(path)) > 0
    with pytest.raises(DecodeError, match=f"{path.name}: the compressed data is damaged") as exc:
        list(iter_events(path, strict=True))
    assert exc.value.offset == report.capture.bytes_read
    with pytest.raises(DecodeError, match="the compressed data is damaged"):
        decode_capture(path, strict=True)


@pytest.mark.slow
def test_corrupt_gzip_stream_on_the_command_line(tmp_path: Path) -> None:
    path, _ = _bad_gzip(tmp_path)
    out = tmp_path / "o.jsonl"
    lenient = runner.invoke(app, ["iex", "decode", str(path), "-o", str(out)])
    assert lenient.exit_code == 0, lenient.output
    assert "stopped early: the compressed data is damaged" in lenient.output
    assert out.stat().st_size > 0
    for args in (
        ["decode", str(path), "--strict", "-o", str(out)],
        ["decode", str(path), "--strict", "-f", "parquet", "-o", str(tmp_path / "pq")],
        ["info", str(path), "--strict", "--json"],
    ):
        strict = runner.invoke(app, ["iex", *args])
        assert strict.exit_code == 1, strict.output
        assert "Traceback" not in strict.output
        assert f"{path}: the compressed data is damaged" in " ".join(strict.output.split())
    info = runner.invoke(app, ["iex", "info", str(path), "--json"])
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout)["report"]["capture"]["truncated_file"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        port = sink.getsockname()[1]
        replay = runner.invoke(
            app, ["iex", "replay", str(path), "--to", f"127.0.0.1:{port}", "--speed", "0",
                  "--json"],
        )  # fmt: skip
    assert replay.exit_code == 0, replay.output
    assert "Traceback" not in replay.output


@pytest.mark.slow
def test_strict_fails_when_a_corrupt_record_stops_the_decode(tmp_path: Path) -> None:
    path, at = _bad_record(tmp_path)
    report = DecodeReport()
    assert list(iter_events(path, report=report))
    assert report.capture.truncated_file.startswith(f"corrupt pcap record at byte offset {at}")
    for decode in (
        lambda: list(iter_events(path, strict=True)),
        lambda: decode_capture(path, strict=True),
        lambda: decode_capture(path, strict=True, use_numba=False),
    ):
        with pytest.raises(DecodeError, match="captured length 2147418112 exceeds") as exc:
            decode()
        assert exc.value.offset == at
    strict = runner.invoke(app, ["iex", "decode", str(path), "--strict", "-o", str(tmp_path / "o")])
    assert strict.exit_code == 1, strict.output
    lenient = runner.invoke(app, ["iex", "decode", str(path), "-o", str(tmp_path / "o")])
    assert lenient.exit_code == 0, lenient.output


def test_a_file_that_ends_inside_its_last_record_is_not_corrupt(tmp_path: Path) -> None:
    data = synthetic_tops(500, seed=2).write(tmp_path / "c.pcap").read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-7])  # an interrupted capture, as real samples end
    report = DecodeReport()
    assert list(iter_events(path, strict=True, report=report))
    assert report.capture.truncated_file.startswith("the file ends inside a record")


def test_empty_records_are_counted_alike_by_both_walks(tmp_path: Path) -> None:
    """A pcap header and 65,536 empty records (what a gzip bomb of zeros reads as): the
    compiled walk and the readable one count the same records, nothing decoded."""
    n = 65_536
    path = tmp_path / "empty.pcap"
    path.write_bytes(
        struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
        + struct.pack("<IIII", 1_500_000_000, 0, 0, 0) * n
    )
    report = decode_capture(path).report
    assert report.capture.records == n
    assert report.non_udp == n
    assert report.capture.truncated_file == ""
    assert decode_capture(path, use_numba=False).report.as_dict() == report.as_dict()
    mixed = tmp_path / "mixed.pcap"
    recs = [struct.pack("<IIII", 1, 0, k % 3, k % 3) + bytes(k % 3) for k in range(5000)]
    recs[100:4000] = [struct.pack("<IIII", 2, 0, 0, 0)] * 3900
    mixed.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + b"".join(recs))
    chunk_report = DecodeReport()
    assert list(iter_events(mixed, report=chunk_report)) == []
    assert chunk_report.capture.records == 5000
    assert decode_capture(mixed, chunk_bytes=1 << 12).report.as_dict() == chunk_report.as_dict()


def _pcapng_runs(rnd: random.Random) -> bytes:
    """A pcapng file with runs of equal blocks (EPBs, empty EPBs, custom blocks) between
    irregular ones, on two interfaces (and an undeclared one)."""

    def block(t: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", t, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out += [block(1, struct.pack("<HHI", 1, 0, 0))] * 2
    for _ in range(rnd.randint(1, 12)):
        size = rnd.choice([0, 0, 3, 60])
        kind = rnd.choice(["epb", "custom", "odd"])
        for k in range(rnd.choice([1, 5, 9, 40, 3000])):
            if kind == "epb":
                iface = rnd.choice([0, 0, 1, 7]) if rnd.random() < 0.1 else 0
                ticks = rnd.randrange(1 << 64)
                head = struct.pack("<IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, size, size + k)
                out.append(block(6, head + bytes([k % 251]) * size))
            elif kind == "custom":
                out.append(block(0xBAD, bytes(size)))
            else:
                out.append(block(rnd.choice([6, 0xBAD, 5]), rnd.randbytes(rnd.randint(20, 40))))
    return b"".join(out)


@pytest.mark.slow
def test_pcapng_runs_of_equal_blocks_walk_alike(tmp_path: Path) -> None:
    rnd = random.Random(15)
    for case in range(20):
        path = tmp_path / f"runs{case}.pcapng"
        path.write_bytes(_pcapng_runs(rnd))
        reference = DecodeReport()
        assert list(iter_events(path, report=reference)) == []
        for use_numba in (True, False):
            decoded = decode_capture(path, chunk_bytes=1 << 16, use_numba=use_numba)
            assert decoded.report.as_dict() == reference.as_dict(), case
