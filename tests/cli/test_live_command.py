"""``fluvius live``: the command as outside scripts use it (--json, --record, signals)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import psutil
import pyarrow.dataset as ds
import pytest
import yaml
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.feeds.iex.encode import synthetic_tops
from fluvius.feeds.iex.replay import replay

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    root = tmp_path_factory.mktemp("live")
    cap = synthetic_tops(2_000, n_symbols=10, seed=3)
    path = cap.write(root / "t.pcap")
    symbols = list(cap.symbols[:3])
    spec: dict[str, Any] = {"sources": {}, "nodes": {}}
    for s in symbols:
        for kind in ("quote", "mid", "trade"):
            spec["sources"][f"{kind}/{s}"] = None
        spec["nodes"][f"mean/{s}"] = {
            "op": "rolling_mean",
            "inputs": [f"mid/{s}"],
            "params": {"window": 5},
        }
        spec["nodes"][f"twice/{s}"] = {
            "op": "scale",
            "inputs": [f"mean/{s}"],
            "params": {"factor": 2},
        }
    spec_path = root / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    return spec_path, path, symbols


def _live(*args: str) -> Any:
    result = runner.invoke(app, ["live", *args])
    assert result.exit_code == 0, result.output
    return result


def test_json_is_run_json_plus_feeds(setup: Any) -> None:
    spec, path, _ = setup
    url = f"iex+pcap://{path}?speed=0"
    doc = json.loads(_live(str(spec), "--feed", url, "--json").stdout)
    assert set(doc) >= {"values", "sources", "cycles", "stats", "errors", "feeds"}
    assert doc["stats"]["cycles"] == len(doc["cycles"]) > 0
    assert doc["feeds"][url]["messages"] == 2_000
    assert {"messages", "gaps", "drops", "lag_ns_max"} <= set(doc["feeds"][url])
    again = json.loads(_live(str(spec), "--feed", url, "--json").stdout)
    assert doc["values"] == again["values"]
    assert [c["recomputed"] for c in doc["cycles"]] == [c["recomputed"] for c in again["cycles"]]


def test_record_reads_back_with_pyarrow_and_duckdb(setup: Any, tmp_path: Path) -> None:
    spec, path, symbols = setup
    rec = tmp_path / "rec"
    url = f"iex+pcap://{path}?speed=0"
    doc = json.loads(
        _live(
            str(spec), "--feed", url, "--record", str(rec), "--record-keys", "mean/*", "--json"
        ).stdout
    )
    files = sorted(rec.glob("*.parquet"))
    assert files
    assert not list(rec.glob("*.partial"))
    table = ds.dataset(rec).to_table()
    assert table.num_rows == doc["stats"]["recorded_rows"]
    assert table.num_rows > 0
    assert set(table.column("key").to_pylist()) <= {f"mean/{s}" for s in symbols}
    last = duckdb.sql(
        f"SELECT key, value FROM '{rec}/*.parquet' QUALIFY row_number() OVER "
        "(PARTITION BY key ORDER BY cycle DESC) = 1"
    ).fetchall()
    assert dict(last) == {
        k: v for k, v in doc["values"].items() if k.startswith("mean/") and v is not None
    }


def test_bad_usage_exits_2(setup: Any) -> None:
    spec, path, _ = setup
    result = runner.invoke(app, ["live", str(spec), "--feed", "ftp://x"])
    assert result.exit_code == 2, result.output
    assert "unknown scheme" in result.output
    result = runner.invoke(
        app, ["live", str(spec), "--feed", f"iex+pcap://{path}", "--workers", "2"]
    )
    assert result.exit_code == 2, result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "scheduler"), [(signal.SIGINT, "serial"), (signal.SIGTERM, "process")]
)
def test_a_signal_ends_the_run_cleanly(
    setup: Any, tmp_path: Path, sig: int, scheduler: str
) -> None:
    """SIGINT/SIGTERM: recordings flushed, workers closed, the JSON printed, exit code 0."""
    spec, path, _ = setup
    rec = tmp_path / "rec"
    cmd = [
        sys.executable, "-c", "from fluvius.cli.app import main; main()", "live", str(spec),
        "--feed", f"iex+pcap://{path}?speed=0.001", "--scheduler", scheduler,
        "--record", str(rec), "--json",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stderr is not None
        started = proc.stderr.readline().decode()  # the command says when it has started
        assert "started" in started, started
        time.sleep(0.5)  # a few cycles
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    doc = json.loads(out)
    assert doc["stats"]["ended_by"] == signal.Signals(sig).name
    assert ds.dataset(rec).to_table().num_rows == doc["stats"]["recorded_rows"] > 0
    assert not list(rec.glob("*.partial"))
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"processes outlived the run: {alive}"
    assert len(children) >= (2 if scheduler == "process" else 0)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize(("how", "poll"), [("SIGINT", "poll=busy"), ("duration", "spin=0.01")])
def test_a_busy_polling_udp_run_ends_cleanly(setup: Any, how: str, poll: str) -> None:
    """``fluvius live`` on a UDP feed that busy-polls (``poll=busy``, ``spin=S``): a capture
    sent to it gives the replay's last values with nothing lost, and SIGINT or
    ``--duration`` ends the run (exit 0, the JSON printed) although the receiver spins."""
    spec, path, symbols = setup
    port = _free_udp_port()
    cmd = [
        sys.executable, "-c", "from fluvius.cli.app import main; main()", "live", str(spec),
        "--feed", f"iex+udp://127.0.0.1:{port}?{poll}", "--json",
    ]  # fmt: skip
    if how == "duration":
        cmd += ["--duration", "4"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        assert proc.stderr is not None
        started = proc.stderr.readline().decode()
        assert "started" in started, started
        t0 = time.perf_counter()
        asyncio.run(replay(path, "127.0.0.1", port, speed=0))
        if how == "SIGINT":
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        elapsed = time.perf_counter() - t0
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    doc = json.loads(out)
    assert doc["stats"]["ended_by"] == how
    if how == "duration":
        assert elapsed < 4 + 10
    (health,) = doc["feeds"].values()
    assert (health["messages"], health["gaps"], health["drops"]) == (2_000, 0, 0)
    replayed = json.loads(_live(str(spec), "--feed", f"iex+pcap://{path}?speed=0", "--json").stdout)
    for s in symbols:  # the last quote wins whatever the cycles merged; received now
        live, again = (
            re.sub(r"recv_ns=\d+", "", d["sources"][f"quote/{s}"]) for d in (doc, replayed)
        )
        assert live == again
        assert doc["sources"][f"mid/{s}"] == replayed["sources"][f"mid/{s}"]


@pytest.mark.slow
def test_dask_scheduler_gives_the_serial_run(setup: Any) -> None:
    """``--scheduler dask``: a local Dask cluster of 2 workers, started and closed by the
    run; the same cycles and values as serial, and no process left."""
    spec, path, _ = setup
    url = f"iex+pcap://{path}?speed=0"
    before = _children()
    serial = json.loads(_live(str(spec), "--feed", url, "--json").stdout)
    dask = json.loads(
        _live(str(spec), "--feed", url, "--scheduler", "dask", "--workers", "2", "--json").stdout
    )
    assert dask["stats"]["scheduler"] == "dask"
    assert [w["address"].rsplit(":", 1)[0] for w in dask["stats"]["workers"]] == [
        "tcp://127.0.0.1"
    ] * 2
    assert dask["values"] == serial["values"]
    assert [c["recomputed"] for c in dask["cycles"]] == [c["recomputed"] for c in serial["cycles"]]
    deadline = time.monotonic() + 10.0
    while (left := _children() - before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, [psutil.Process(p).cmdline() for p in left]


def _children() -> set[int]:
    """Child processes, but multiprocessing's resource tracker (one per process tree)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            if "multiprocessing.resource_tracker" not in " ".join(p.cmdline()):
                out.add(p.pid)
    return out
