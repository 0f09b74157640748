"""The Dask scheduler on a cluster as on several machines: ``dask scheduler`` and two
``dask worker`` processes started with their own command lines on 127.0.0.1, then
``fluvius run --scheduler dask --address …``; the same over TLS with certificates made
here (``Security.temporary()``), where a plain-TCP client is refused. Each test stops
its processes; nothing is left behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from child_procs import no_leftover_process  # noqa: F401 - an autouse fixture
from dask_helpers import GUARD_S, assert_left_clean, check_next_run_works
from distributed import Client
from distributed.comm import CommClosedError, connect
from distributed.security import Security
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.scheduling import DaskPool, DaskScheduler

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
runner = CliRunner()

SPEC = {
    "sources": {"x": 1.0, "y": 2.0},
    "nodes": {
        "a": {"op": "add", "inputs": ["x", "y"]},
        "b": {"op": "mul", "inputs": ["x"], "params": {"c": 3.0}},
        "c": {"op": "rolling_mean", "inputs": ["a"], "params": {"window": 2}},
        "d": {"op": "sum", "inputs": ["a", "b", "c"]},
        "e": {"op": "sub", "inputs": ["d", "y"]},
    },
}
TICKS = [{"x": 2.0}, {"y": 5.0}, {"x": 2.0, "y": -1.5}]


@contextlib.contextmanager
def cli_cluster(tmp_path: Path, tls: list[str] | None = None) -> Iterator[str]:
    """``dask scheduler`` + 2 ``dask worker`` processes on 127.0.0.1; yields the address."""
    scheduler_file = tmp_path / "scheduler.json"
    tls_args = tls or []
    protocol = ["--protocol", "tls"] if tls else []
    scheduler = [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0"]
    scheduler += ["--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(scheduler_file)]
    worker = [str(BIN / "dask"), "worker", "--scheduler-file", str(scheduler_file)]
    worker += ["--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard"]
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([*scheduler, *protocol, *tls_args], **quiet)]
    try:
        deadline = time.monotonic() + GUARD_S
        while not scheduler_file.exists() or not scheduler_file.read_text():
            assert time.monotonic() < deadline, "dask scheduler did not start"
            assert procs[0].poll() is None, "dask scheduler exited"
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written whole, but be sure it is read whole
        address = json.loads(scheduler_file.read_text())["address"]
        procs += [
            subprocess.Popen([*worker, "--name", f"w{i}", *protocol, *tls_args], **quiet)
            for i in range(2)
        ]
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(GUARD_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(GUARD_S)


def _wait_for_workers(address: str, security: Any = None) -> None:
    with Client(address, security=security, set_as_default=False, timeout=GUARD_S) as client:
        client.wait_for_workers(2, timeout=GUARD_S)


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    spec, ticks = tmp_path / "spec.json", tmp_path / "ticks.jsonl"
    spec.write_text(json.dumps(SPEC), encoding="utf-8")
    ticks.write_text("".join(json.dumps(t) + "\n" for t in TICKS), encoding="utf-8")
    result = runner.invoke(app, ["run", str(spec), "--ticks", str(ticks), "--json"])
    assert result.exit_code == 0, result.output
    serial = tmp_path / "serial.json"
    serial.write_text(result.stdout, encoding="utf-8")
    return spec, ticks, serial


def test_fluvius_run_on_a_cluster_of_separate_processes(tmp_path: Path) -> None:
    spec, ticks, serial = _files(tmp_path)
    with cli_cluster(tmp_path) as address:
        _wait_for_workers(address)
        for _ in range(2):  # the second run finds the cluster as the first left it
            result = runner.invoke(
                app,
                ["run", str(spec), "--ticks", str(ticks), "--scheduler", "dask",
                 "--address", address, "--compare", str(serial), "--json"],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            doc = json.loads(result.stdout)
            assert doc["compare"]["same"], doc["compare"]
            assert doc["values"] == json.loads(serial.read_text())["values"]
            stats = doc["stats"]
            assert stats["scheduler"] == "dask"
            assert stats["dask_scheduler"] == address
            assert len(stats["workers"]) == 2
            assert {w["address"].rsplit(":", 1)[0] for w in stats["workers"]} == {"tcp://127.0.0.1"}
            expected = [c["recomputed"] for c in json.loads(serial.read_text())["cycles"]]
            assert [c["recomputed"] for c in doc["cycles"]] == expected == [5, 4, 5]
            assert_left_clean(address)
        result = runner.invoke(
            app, ["run", str(spec), "--scheduler", "dask", "--address", address, "--workers", "3"]
        )
        assert result.exit_code == 1, result.output
        assert "has 2 worker(s), fewer than the 3 asked for" in " ".join(result.output.split())


def _certificates(tmp_path: Path) -> tuple[Security, list[str], dict[str, str]]:
    """A CA, key and certificate for every role, written to files: the Python Security,
    the dask CLI's options and the environment that configures a client."""
    made = Security.temporary()
    ca, cert, key = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.write_text(made.tls_ca_file, encoding="utf-8")
    cert.write_text(made.tls_scheduler_cert, encoding="utf-8")
    key.write_text(made.tls_scheduler_key, encoding="utf-8")
    security = Security(
        tls_ca_file=str(ca), tls_client_cert=str(cert), tls_client_key=str(key),
        require_encryption=True,
    )  # fmt: skip
    cli = ["--tls-ca-file", str(ca), "--tls-cert", str(cert), "--tls-key", str(key)]
    env = {
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(ca),
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(cert),
        "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(key),
        "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True",
    }
    return security, cli, env


def test_tls_cluster_runs_and_refuses_plain_tcp(tmp_path: Path) -> None:
    spec, ticks, serial = _files(tmp_path)
    security, cli, env = _certificates(tmp_path)
    with cli_cluster(tmp_path, tls=cli) as address:
        assert address.startswith("tls://127.0.0.1:")
        _wait_for_workers(address, security)
        # the command line, TLS configured through Dask's environment variables
        proc = subprocess.run(
            [str(BIN / "fluvius"), "run", str(spec), "--ticks", str(ticks), "--scheduler",
             "dask", "--address", address, "--compare", str(serial), "--json"],
            capture_output=True, env={**os.environ, **env}, timeout=GUARD_S * 2, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr.decode()
        doc = json.loads(proc.stdout)
        assert doc["compare"]["same"], doc["compare"]
        assert all(w["address"].startswith("tls://") for w in doc["stats"]["workers"])

        # the Python API: the partitions' own links are TLS too; plain TCP is refused there
        async def links() -> None:
            async with DaskScheduler(2, address=address, security=security).session(
                _graph()
            ) as run:
                await run.start()
                pool = run.pool
                assert isinstance(pool, DaskPool)
                assert all(link.comm.peer_address.startswith("tls://") for link in pool.links)
                host_port = pool.listen[0].removeprefix("tls://")
                with pytest.raises(CommClosedError, match="Connection reset by peer"):
                    await connect(f"tcp://{host_port}", timeout=2)
                assert (await run.cycle({"s": 2.0})).recomputed == 1

        asyncio.run(links())
        # a plain-TCP client is refused by the cluster itself
        with pytest.raises(CommClosedError, match="Connection reset by peer"):
            Client(address.replace("tls://", "tcp://"), set_as_default=False, timeout=2)
        check_next_run_works(address, security)
        assert_left_clean(address, security=security)


def _graph() -> Any:
    from fluvius.graph import GraphBuilder
    from fluvius.testing.strategies import FloatOp

    g = GraphBuilder()
    g.node("n", FloatOp("add", 1.0), g.source("s", 1.0))
    return g.build()
