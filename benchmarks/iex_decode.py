"""IEX decode speed: batch decoder, streaming decoder, whole CLI command, peak memory.

Usage::

    python benchmarks/iex_decode.py --messages 1000000 --repeats 5 \\
        --out benchmarks/results/iex_decode.json

Synthetic captures (TOPS 1.6 and DEEP 1.0, classic pcap, not gzipped) come from the
``iex`` workload generator (``fluvius.feeds.iex.synthetic``); ``--writer own`` uses the
small independent writer below instead (1-8 messages per segment, real data averages 4.4;
a few heartbeats; quotes about half the messages). Figures:

* batch decoding (file in the page cache): messages/s and MB/s, median of repeats
  (``decode_capture``'s 4 MiB chunks, and the generic 16 MiB ones for comparison);
* the streaming reference decoder, for comparison;
* ``fluvius iex decode FILE --format parquet`` as a subprocess, interpreter start-up
  included, against the issue's baseline (IEXTools 0.0.8: 125,000 messages/s measured by
  the issue's author on this machine; IEXTools is not installed here, see the docs);
* peak RSS of a child process that only decodes the file (``VmHWM``), vs file size; also
  of one that streams ``iter_capture_batches`` in 1 MiB chunks and keeps nothing;
* the whole command on the TOPS session written as classic pcap and as pcapng (IEX's HIST
  layout), each against IEXTools 0.0.8 on the same file (when installed: the bench extra);
* the real sample (``shared/data/iex``) when present.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import child_peak_rss, median_time, write_results

IEXTOOLS_BASELINE = 125_000  # messages/s, from issue 4 (IEXTools 0.0.8, this machine)
SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "iex"
SAMPLE_FILE = SAMPLE / "TOPS16_20170710_sample.pcap.gz"

_ETH_IP_UDP = struct.Struct(">6s6sH BBHHHBBH4s4s HHHH")
_SEG = struct.Struct("<BBHIIHHqqq")


def _frame(payload: bytes) -> bytes:
    return _ETH_IP_UDP.pack(
        b"\x01\x00\x5e\x15\x15\x03", b"\x00\x11\x22\x33\x44\x55", 0x0800,
        0x45, 0, 28 + len(payload), 0, 0x4000, 64, 17, 0, b"\x0a\x00\x00\x01",
        b"\xe9\xd7\x15\x03", 5000, 10377, 8 + len(payload), 0,
    ) + payload  # fmt: skip


def own_capture(path: Path, n_messages: int, feed: str, seed: int = 1) -> int:
    """Write a synthetic classic-pcap capture of ``n_messages``; returns the message count."""
    rnd = random.Random(seed)
    symbols = [f"S{i:04d}".encode().ljust(8) for i in range(500)]
    q = struct.Struct("<cBq8sIqqI")
    t = struct.Struct("<cBq8sIqq")
    plu = struct.Struct("<cBq8sIq")
    admin = struct.Struct("<ccq8s")
    protocol = 0x8003 if feed == "tops" else 0x8004
    ts = 1_700_000_000_000_000_000
    seq, offset, written = 1, 0, 0
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    while written < n_messages:
        ts += rnd.randrange(1, 50_000)
        count = 0 if rnd.random() < 0.02 else min(rnd.randint(1, 8), n_messages - written)
        blocks = []
        for _ in range(count):
            sym = symbols[rnd.randrange(len(symbols))]
            r = rnd.random()
            px = rnd.randrange(10_000, 5_000_000)
            if feed == "tops" and r < 0.5:
                msg = q.pack(b"Q", 0, ts, sym, rnd.randrange(1, 5000), px, px + 100, 300)
            elif feed == "deep" and r < 0.6:
                side = b"8" if rnd.random() < 0.5 else b"5"
                msg = plu.pack(side, rnd.randrange(2), ts, sym, rnd.randrange(0, 5000), px)
            elif r < 0.72:
                msg = t.pack(b"T", 0, ts, sym, rnd.randrange(1, 1000), px, rnd.randrange(1 << 40))
            else:
                msg = admin.pack(rnd.choice([b"H", b"O", b"P"]), b"T", ts, sym)
                if msg[0:1] == b"H":
                    msg += b"    "
                elif msg[0:1] == b"P":
                    msg = msg[:1] + b"\x00" + msg[2:] + b" "
            blocks.append(struct.pack("<H", len(msg)) + msg)
        payload = b"".join(blocks)
        seg = _SEG.pack(1, 0, protocol, 1, 1, len(payload), count, offset, seq, ts) + payload
        data = _frame(seg)
        sec, ns = divmod(ts, 1_000_000_000)
        out.append(struct.pack("<IIII", sec, ns // 1000, len(data), len(data)) + data)
        seq += count
        offset += len(payload)
        written += count
    path.write_bytes(b"".join(out))
    return written


def synthetic_capture(path: Path, n_messages: int, feed: str, writer: str) -> str:
    """Write the capture with part B's generator (``fluvius.feeds.iex.synthetic``) or ours."""
    if writer == "auto":
        from fluvius.feeds.iex.synthetic import synthetic_deep, synthetic_tops

        make = synthetic_tops if feed == "tops" else synthetic_deep
        make(n_messages, seed=1).write(path)
        return f"fluvius.feeds.iex.synthetic.synthetic_{feed}({n_messages}, seed=1)"
    own_capture(path, n_messages, feed)
    return "benchmarks/iex_decode.py own_capture"


def _child_peak_rss(path: Path) -> dict[str, int]:
    """Peak RSS (VmHWM, reset at exec unlike ru_maxrss) of fresh interpreters that decode."""
    programs = {
        "import_rss_bytes": "import fluvius.feeds.iex.batch",
        "decode_numba_rss_bytes": "from fluvius.feeds.iex.batch import decode_capture\n"
        "decode_capture(sys.argv[1])",
        # streaming 1 MiB chunks, keeping nothing: the working set of a streaming consumer
        "batches_1mib_rss_bytes": "from fluvius.feeds.iex.batch import iter_capture_batches\n"
        "for _ in iter_capture_batches(sys.argv[1], chunk_bytes=1 << 20):\n    pass",
        "cli_parquet_rss_bytes": "import tempfile\nfrom fluvius.cli.app import main\n"
        "out = tempfile.mkdtemp()\n"
        "try:\n    main(['iex', 'decode', sys.argv[1], '-f', 'parquet', '-o', out])\n"
        "except SystemExit:\n    pass",
    }
    return {name: child_peak_rss(body, str(path))[0] for name, body in programs.items()}


_IEXTOOLS = """
import sys, time
from IEXTools import Parser
t0 = time.perf_counter()
with Parser(sys.argv[1]) as parser:
    allowed = list(parser.messages_types)  # every type IEXTools decodes
    try:
        while True:
            parser.get_next_message(allowed)
    except StopIteration:
        pass
print(time.perf_counter() - t0)
"""


def iextools_seconds(path: Path) -> float | None:
    """IEXTools 0.0.8 reading the TOPS capture at ``path`` (the issue's baseline), or None.

    Run in a child interpreter like the CLI. IEXTools reads TOPS only; it has no decoder
    for the retail liquidity indicator, so ``allowed`` lists every type it knows and it
    skips those messages by their length (it still reads them, as it reads all others).
    """
    try:
        import IEXTools  # noqa: F401
    except ImportError:
        return None
    run = subprocess.run(
        [sys.executable, "-c", _IEXTOOLS, str(path)], check=True, capture_output=True, text=True
    )
    return float(run.stdout.strip().splitlines()[-1])


def _compile_bytecode() -> None:
    """Write fluvius's .pyc files, as an installed package has them.

    With ``PYTHONDONTWRITEBYTECODE`` set (as in this workplace) an editable install is
    compiled from source by every command, which is not what a user's machine does.
    """
    import compileall

    import fluvius

    compileall.compile_dir(Path(fluvius.__file__).parent, quiet=1)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_times(
    path: Path,
    repeats: int,
    cpu: list[float] | None = None,
    before: tuple[Path, list[float], list[float]] | None = None,
) -> list[float]:
    """Wall seconds of ``fluvius iex decode FILE --format parquet --out DIR``, each run.

    ``cpu`` receives each run's CPU seconds (user + system, all threads). ``before``
    (a source tree's ``src``, its wall and CPU lists) runs the same command from that
    source too, alternating with this one run by run (``PYTHONPATH`` puts it first).
    """
    fluvius = Path(sys.executable).with_name("fluvius")
    _compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(fluvius), "iex", "decode", str(path), "--format", "parquet", "--out", tmp]
        times = []
        for _ in range(repeats):
            c0 = _children_cpu()
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times.append(time.perf_counter() - t0)
            if cpu is not None:
                cpu.append(_children_cpu() - c0)
            if before is not None:
                src, wall_before, cpu_before = before
                env = dict(os.environ, PYTHONPATH=str(src))
                c0 = _children_cpu()
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True, env=env)
                wall_before.append(time.perf_counter() - t0)
                cpu_before.append(_children_cpu() - c0)
    return times


def source_of(revision: str, into: Path) -> Path:
    """The ``src`` tree of git ``revision`` of this repository, written under ``into``,
    with its bytecode and its decoder kernels built (as installing it would)."""
    import compileall
    import io
    import tarfile

    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", revision, "src"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    compileall.compile_dir(into / "src", quiet=1)
    # its decoder kernels, built ahead of time as its install would (into the user cache;
    # by feeds/_aot.py before the loader and the build were one module, feeds/_kernels.py)
    old = (into / "src" / "fluvius" / "feeds" / "_aot.py").exists()
    subprocess.run(
        [sys.executable, "-m", "fluvius.feeds._aot" if old else "fluvius.feeds._kernels"],
        check=True,
        capture_output=True,
        env=dict(os.environ, PYTHONPATH=str(into / "src")),
    )
    return into / "src"


def containers_vs_iextools(
    tmp: Path, n_messages: int, repeats: int, before: Path | None = None
) -> dict[str, Any]:
    """The whole command against IEXTools on one TOPS session as pcap and as pcapng.

    ``before``: the ``src`` of an earlier revision, whose whole command is run too
    (alternating with this one) for before/after figures of the same run.
    """
    from fluvius.feeds._writers import CaptureFormat
    from fluvius.feeds.iex.synthetic import synthetic_tops

    out: dict[str, Any] = {}
    for container in ("pcap", "pcapng"):
        path = tmp / f"tops.{container}"
        fmt = CaptureFormat(container)  # type: ignore[arg-type]
        synthetic_tops(n_messages, seed=1, fmt=fmt).write(path)
        cpus: list[float] = []
        wall_before: list[float] = []
        cpu_before: list[float] = []
        times = cli_times(
            path, repeats, cpus, None if before is None else (before, wall_before, cpu_before)
        )
        cli_s = statistics.median(times)
        cli_cpu = statistics.median(cpus)
        c0 = _children_cpu()
        baseline_s = iextools_seconds(path)
        baseline_cpu = _children_cpu() - c0
        doc: dict[str, Any] = {
            "file_bytes": path.stat().st_size,
            "cli_seconds": cli_s,
            "cli_cpu_seconds": cli_cpu,
        }
        if baseline_s is not None:
            doc.update(
                {
                    "iextools_seconds": baseline_s,
                    "iextools_cpu_seconds": baseline_cpu,
                    "cli_vs_iextools": baseline_s / cli_s,
                    "cli_vs_iextools_cpu": baseline_cpu / cli_cpu,
                }
            )
        if before is not None:
            doc["before"] = {
                "cli_seconds": statistics.median(wall_before),
                "cli_cpu_seconds": statistics.median(cpu_before),
            }
            if baseline_s is not None:
                doc["before"]["cli_vs_iextools_cpu"] = baseline_cpu / statistics.median(cpu_before)
        out[container] = doc
        print(
            f"TOPS {container}: fluvius iex decode -f parquet {cli_s:.2f} s wall, "
            f"{cli_cpu:.2f} s CPU (median of {repeats}); IEXTools 0.0.8 "
            + (
                f"{baseline_s:.2f} s wall, {baseline_cpu:.2f} s CPU: {baseline_s / cli_s:.1f}x "
                f"wall, {baseline_cpu / cli_cpu:.1f}x CPU"
                if baseline_s
                else "absent"
            )
            + (
                f"; before: {statistics.median(wall_before):.2f} s wall, "
                f"{statistics.median(cpu_before):.2f} s CPU"
                if before is not None
                else ""
            )
        )
    return out


def measure(path: Path, repeats: int, *, cli: bool = True) -> dict[str, Any]:
    """Batch, streaming, CLI and memory figures for one capture file."""
    from fluvius.feeds._capture import CHUNK_BYTES
    from fluvius.feeds.iex import iter_events
    from fluvius.feeds.iex.batch import DECODE_CHUNK_BYTES, decode_capture

    size = path.stat().st_size
    path.read_bytes()  # into the page cache
    result = decode_capture(path)  # also compiles (or loads) the numba kernels
    messages = result.report.messages

    def cpu_median(fn: Any, repeats: int) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        return sorted(times)[len(times) // 2]

    batch_s = median_time(lambda: decode_capture(path), repeats)
    batch_cpu = cpu_median(lambda: decode_capture(path), repeats)
    # the same with the generic 16 MiB chunks (decode_capture reads 4 MiB ones)
    big_cpu = cpu_median(lambda: decode_capture(path, chunk_bytes=CHUNK_BYTES), repeats)
    stream_s = median_time(lambda: sum(1 for _ in iter_events(path)), 1)
    doc: dict[str, Any] = {
        "file_bytes": size,
        "messages": messages,
        "events": result.report.total_events,
        "batch_seconds": batch_s,
        "batch_messages_per_s": messages / batch_s,
        "batch_cpu_messages_per_s": messages / batch_cpu,
        "batch_chunk_bytes": DECODE_CHUNK_BYTES,
        "batch_cpu_messages_per_s_16mib_chunks": messages / big_cpu,
        "batch_mb_per_s": size / batch_s / 1e6,
        "stream_seconds": stream_s,
        "stream_messages_per_s": messages / stream_s,
    }
    if cli:
        times = cli_times(path, repeats)
        cli_s = sorted(times)[len(times) // 2]
        doc.update(
            {
                "cli_command": "fluvius iex decode FILE --format parquet --out DIR",
                "cli_seconds": cli_s,
                "cli_seconds_all": times,
                "cli_vs_iextools_best": messages / min(times) / IEXTOOLS_BASELINE,
                "cli_messages_per_s": messages / cli_s,
                "cli_vs_iextools": messages / cli_s / IEXTOOLS_BASELINE,
            }
        )
    rss = _child_peak_rss(path)
    doc.update(rss)
    doc.update(
        {
            f"{name.removesuffix('_rss_bytes')}_rss_over_file": value / size
            for name, value in rss.items()
        }
    )
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--writer", choices=["auto", "own"], default="auto")
    parser.add_argument("--out", default="")
    parser.add_argument(
        "--containers-only",
        action="store_true",
        help="only the whole command on pcap and pcapng against IEXTools",
    )
    parser.add_argument(
        "--before",
        default="",
        metavar="REVISION",
        help="also run the whole command (pcap and pcapng) from this git revision's src, "
        "alternating with this checkout's, for before/after figures of the same run",
    )
    args = parser.parse_args()
    from fluvius.feeds._kernels import kernels

    k = kernels()
    source = "none (reference)" if k is None else ("ahead-of-time" if k.aot else "just-in-time")
    print(f"compiled kernels: {source} (`make` builds them ahead of time at install)")
    load = os.getloadavg()
    results: dict[str, Any] = {"kernels": source, "load_average_at_start": load, "baseline": {
        "iextools_messages_per_s": IEXTOOLS_BASELINE,
        "source": "issue 4 (IEXTools 0.0.8 on a synthetic 1,000,000-message TOPS capture); "
                  "when IEXTools is installed (the bench extra) it is also re-run here, on "
                  "this run's TOPS capture: iextools_same_run",
    }}  # fmt: skip
    same_run_rate: float | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for feed in () if args.containers_only else ("tops", "deep"):
            path = Path(tmp) / f"{feed}.pcap"
            writer = synthetic_capture(path, args.messages, feed, args.writer)
            doc = measure(path, args.repeats)
            doc["writer"] = writer
            results[feed] = doc
            if feed == "tops" and (baseline_s := iextools_seconds(path)) is not None:
                same_run_rate = doc["messages"] / baseline_s  # IEXTools reads TOPS only
                results["iextools_same_run"] = {
                    "seconds": baseline_s,
                    "messages_per_s": same_run_rate,
                    "file": "this run's TOPS capture",
                }
                print(f"IEXTools 0.0.8 on the TOPS capture: {baseline_s:.2f} s = "
                      f"{same_run_rate / 1e3:.0f} k msg/s (issue: 125 k msg/s)")  # fmt: skip
            if same_run_rate is not None:
                doc["cli_vs_iextools_same_run"] = doc["cli_messages_per_s"] / same_run_rate
                best = doc["messages"] / min(doc["cli_seconds_all"])
                doc["cli_vs_iextools_same_run_best"] = best / same_run_rate
            print(
                f"{feed}: {doc['messages']:,} messages, {doc['file_bytes'] / 1e6:.1f} MB; batch "
                f"{doc['batch_messages_per_s'] / 1e6:.2f} M msg/s wall, "
                f"{doc['batch_cpu_messages_per_s'] / 1e6:.2f} M msg/s CPU "
                f"({doc['batch_mb_per_s']:.0f} MB/s; 16 MiB chunks "
                f"{doc['batch_cpu_messages_per_s_16mib_chunks'] / 1e6:.2f}); stream "
                f"{doc['stream_messages_per_s'] / 1e3:.0f} k msg/s; CLI parquet "
                f"{doc['cli_seconds']:.2f} s = {doc['cli_messages_per_s'] / 1e6:.2f} M msg/s = "
                f"{doc['cli_vs_iextools']:.1f}x IEXTools (best of {args.repeats} "
                f"{doc['cli_vs_iextools_best']:.1f}x; against IEXTools in this run "
                f"{doc.get('cli_vs_iextools_same_run', float('nan')):.1f}x); "
                f"peak RSS / file: CLI parquet "
                f"{doc['cli_parquet_rss_over_file']:.2f}, decode_capture "
                f"{doc['decode_numba_rss_over_file']:.2f}, batches of 1 MiB chunks "
                f"{doc['batches_1mib_rss_over_file']:.2f}, imports alone "
                f"{doc['import_rss_over_file']:.2f}"
            )
    with tempfile.TemporaryDirectory() as tmp:
        before = source_of(args.before, Path(tmp) / "before") if args.before else None
        results["containers_vs_iextools"] = containers_vs_iextools(
            Path(tmp), args.messages, args.repeats, before
        )
        if args.before:
            results["containers_vs_iextools"]["before_revision"] = args.before
    if SAMPLE_FILE.exists() and not args.containers_only:
        doc = measure(SAMPLE_FILE, args.repeats)
        results["sample"] = doc
        print(
            f"sample (gzip): {doc['messages']:,} messages; batch "
            f"{doc['batch_messages_per_s'] / 1e6:.2f} M msg/s; CLI parquet "
            f"{doc['cli_seconds']:.2f} s"
        )
    results["load_average_at_end"] = os.getloadavg()
    results["max_rss_of_this_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    write_results(args.out, results)


if __name__ == "__main__":
    main()
