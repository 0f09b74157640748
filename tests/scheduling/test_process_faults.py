"""Faults of the process scheduler, with real processes: node exceptions, a worker killed
by SIGKILL or leaving through ``os._exit``, an unpicklable node, Ctrl-C (SIGINT) to the
``fluvius run`` command, and the parent dying. After each: a clear error, no hang, and no
process left behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from child_procs import children, no_leftover_process  # noqa: F401 - an autouse fixture

from fluvius.errors import NodeError, UnpicklableNodeError, WorkerDiedError
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.partition import Partition
from fluvius.scheduling import ProcessScheduler, WorkerPool, run_graph
from fluvius.testing.strategies import FloatOp
from fluvius.workloads import calibrate_spin

pytestmark = pytest.mark.slow

_GUARD_S = 30.0  # bound on waiting for a child process; reached only when something is wrong


def by_key(graph: Graph, workers: int, where: dict[str, int]) -> Partition:
    """Place the named nodes on the given workers, everything else on worker 0."""
    owner = [where.get(k, 0) for k in graph.keys]
    return Partition(workers, tuple(owner), "by_key")


def _die(x: float) -> float:
    os._exit(3)


def _kill_self(x: float) -> float:
    os.kill(os.getpid(), signal.SIGKILL)
    return x


def _sleep(x: float) -> float:
    time.sleep(x)
    return x


def two_workers(fn: object, *, policy: str = "fail_fast") -> tuple[Graph, ProcessScheduler]:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    a = g.node("a", FloatOp("add", 1.0), s)
    g.node("risk/AAPL", fn, a)
    g.node("b", FloatOp("add", 2.0), s)
    graph = g.build()

    def place(graph: Graph, workers: int, costs: object) -> Partition:
        return by_key(graph, workers, {"risk/AAPL": 1, "b": 1})

    return graph, ProcessScheduler(2, place, error_policy=policy)  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", ["fail_fast", "isolate"])
def test_node_error_names_key_worker_and_remote_traceback(policy: str) -> None:
    graph, sched = two_workers(FloatOp("raise_above", 1.0), policy=policy)

    async def main() -> NodeError:
        async with sched.session(graph) as run:
            await run.start()
            try:
                result = await run.cycle({"s": 5.0})
            except NodeError as exc:
                return exc
            (err,) = result.errors
            assert sorted(run.failed) == ["risk/AAPL"]
            assert run.values()["b"] == 7.0  # the rest of the run goes on (isolate)
            return err

    err = asyncio.run(main())
    assert err.key == "risk/AAPL"
    assert err.worker.startswith("worker-1[pid "), err.worker
    assert "_raise_above" in err.remote_traceback
    assert "ValueError: input 6.0 is above the limit 1.0" in err.remote_traceback
    assert "node 'risk/AAPL'" in str(err)
    assert "worker-1" in str(err)
    if policy == "fail_fast":
        assert isinstance(err.__cause__, ValueError)


@pytest.mark.parametrize("fn", [_die, _kill_self], ids=["os._exit", "SIGKILL itself"])
def test_worker_exiting_inside_a_node_raises_worker_died(fn: object) -> None:
    graph, sched = two_workers(fn)
    with pytest.raises(WorkerDiedError, match=r"worker 1 \(pid \d+\) (exited|was killed)") as info:
        run_graph(graph, [], sched)
    assert "owned 2 nodes ('risk/AAPL', 'b')" in str(info.value)


def test_worker_killed_from_outside_is_detected() -> None:
    """SIGKILL to a worker busy in a long node: the run stops with WorkerDiedError."""
    g = GraphBuilder()
    g.node("slow", _sleep, g.source("s", 0.0))
    graph = g.build()
    with WorkerPool(2) as pool:

        def place(graph: Graph, workers: int, costs: object) -> Partition:
            return by_key(graph, workers, {"slow": 1})

        sched = ProcessScheduler(2, place, pool=pool)  # type: ignore[arg-type]

        async def main() -> None:
            async with sched.session(graph) as run:
                await run.start()
                killer = threading.Timer(0.3, os.kill, (pool.pids[1], signal.SIGKILL))
                killer.start()
                try:
                    await run.cycle({"s": _GUARD_S})
                finally:
                    killer.cancel()

        with pytest.raises(WorkerDiedError, match=r"worker 1 .* was killed by SIGKILL"):
            asyncio.run(main())
        assert pool.broken
        assert pool.closed


def test_unpicklable_node_fails_before_any_process_starts() -> None:
    lock = threading.Lock()
    g = GraphBuilder()
    g.node("guarded", lambda x: x + lock.locked(), g.source("s", 1.0))
    graph = g.build()
    before = children()
    with pytest.raises(UnpicklableNodeError, match=r"'guarded'.*'lock'.*lock") as info:
        ProcessScheduler(2).session(graph)
    assert "cannot be pickled" in str(info.value)
    assert children() == before


def _spec(tmp_path: Path, seconds: float) -> Path:
    n = calibrate_spin(0.01, repeats=1) * round(seconds * 100)
    spec = {
        "sources": {"s": 1.0},
        "nodes": {
            "a": {"op": "spin", "inputs": ["s"], "params": {"n": n}},
            "b": {"op": "spin", "inputs": ["s"], "params": {"n": n}},
        },
    }
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def _start_cli(tmp_path: Path, seconds: float) -> tuple[subprocess.Popen[bytes], list[int]]:
    """``fluvius run`` with 2 workers on a slow spec; returns it and its workers' pids."""
    spec = str(_spec(tmp_path, seconds))
    options = ["--scheduler", "process", "--workers", "2", "--partitioner", "round_robin"]
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "fluvius"), "run", spec, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + _GUARD_S
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert len(workers) >= 2, proc.communicate(timeout=_GUARD_S)
    time.sleep(0.5)  # let the workers load and start the slow node
    return proc, workers


def _gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
        if not alive:
            return True
        time.sleep(0.1)
    return False


def test_ctrl_c_to_fluvius_run_leaves_no_process(tmp_path: Path) -> None:
    proc, workers = _start_cli(tmp_path, _GUARD_S)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=_GUARD_S)
    assert proc.returncode != 0, err.decode()
    assert _gone(workers), f"workers {workers} outlived the interrupted run"


def test_workers_exit_when_the_parent_dies(tmp_path: Path) -> None:
    """Even in the middle of a node far longer than the wait below (Linux: PDEATHSIG)."""
    proc, workers = _start_cli(tmp_path, _GUARD_S)
    proc.kill()
    proc.communicate(timeout=_GUARD_S)
    assert _gone(workers), f"workers {workers} outlived their parent"
