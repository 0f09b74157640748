"""Issue 15 (process-scheduler half): faults found by fault injection, with real processes
and real signals. Each test reproduces one defect:

* the parent killed by SIGTERM or SIGKILL while a large array crosses workers leaves no
  shared-memory segment in /dev/shm, and SIGTERM shuts down as orderly as SIGINT;
* a worker that dies between ticks is a WorkerDiedError on every path (cycle, values,
  close), promptly, with or without a shared-memory value in flight;
* a node value that cannot be pickled is a NodeError naming the node and the value's
  type, contained by the isolate policy, and a value that never crosses keeps working;
* on Ctrl-C or SIGTERM of the parent, workers exit quietly (no traceback on stderr).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from child_procs import no_leftover_process  # noqa: F401 - an autouse fixture

from fluvius.errors import NodeError, WorkerDiedError
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.partition import Partition
from fluvius.scheduling import ProcessScheduler, SerialScheduler, WorkerPool, run_graph
from fluvius.scheduling.process import ProcessSession
from fluvius.workloads import calibrate_spin

pytestmark = pytest.mark.slow

_GUARD_S = 30.0  # bound on waiting for a child process; reached only when something is wrong
_SHM = Path("/dev/shm")


def _placed(graph: Graph, where: dict[str, int]) -> ProcessScheduler:
    def place(graph: Graph, workers: int, costs: object) -> Partition:
        return Partition(workers, tuple(where.get(k, 0) for k in graph.keys), "by_key")

    return ProcessScheduler(2, place)  # type: ignore[arg-type]


def _wait_dead(pid: int) -> None:
    """Until ``pid`` (a child of ours) is a zombie or gone; never reaps it (the pool does)."""
    deadline = time.monotonic() + _GUARD_S
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} did not die")


def _gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        alive = []
        for p in pids:
            try:
                if psutil.Process(p).status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
            except psutil.NoSuchProcess:
                continue
        if not alive:
            return True
        time.sleep(0.1)
    return False


# -- 2. shared memory after the parent is killed ---------------------------------------------
_CROSSING = """
import asyncio, sys, time
import numpy as np
from fluvius.graph import GraphBuilder
from fluvius.partition import Partition
from fluvius.scheduling import ProcessScheduler

N = {n}


def big(x):
    return np.full(N, x)


def first(a):
    time.sleep(0.05)  # the array's segment is alive while this runs
    return float(a[0])


def place(graph, workers, costs):
    return Partition(2, tuple(1 if k == "first" else 0 for k in graph.keys), "by_key")


async def main():
    g = GraphBuilder()
    g.node("first", first, g.node("big", big, g.source("s", 0.0)))
    async with ProcessScheduler(2, place).session(g.build()) as run:
        await run.start()
        print("started", flush=True)
        i = 0
        while True:
            i += 1
            await run.cycle({{"s": float(i)}})


asyncio.run(main())
"""


def _segments(pid: int) -> list[str]:
    return sorted(p.name for p in _SHM.glob(f"fluvius_{pid}_*"))


def _start_crossing(tmp_path: Path, nbytes: int) -> tuple[subprocess.Popen[bytes], list[int]]:
    script = tmp_path / "crossing.py"
    script.write_text(_CROSSING.format(n=nbytes // 8), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line == b"started\n", proc.communicate(timeout=_GUARD_S)
    workers = [c.pid for c in psutil.Process(proc.pid).children() if "resource_tracker" not in
               " ".join(c.cmdline())]  # fmt: skip
    deadline = time.monotonic() + _GUARD_S
    while not _segments(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _segments(proc.pid), "no segment seen: the test would prove nothing"
    return proc, workers


def _no_segments_left(pid: int) -> list[str]:
    deadline = time.monotonic() + 10.0  # the clean-up after SIGKILL is another process's
    while (left := _segments(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_parent_killed_leaves_no_shared_memory(tmp_path: Path, sig: signal.Signals) -> None:
    """A 32 MB array crosses workers every cycle; the parent is killed mid-run."""
    proc, workers = _start_crossing(tmp_path, 32 << 20)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=_GUARD_S)
    assert proc.returncode != 0
    assert _gone(workers), f"workers {workers} outlived their parent"
    left = _no_segments_left(proc.pid)
    assert not left, f"{len(left)} segments left in /dev/shm: {left[:4]}"
    if sig == signal.SIGTERM:  # orderly: the session closed, quietly
        assert proc.returncode == 128 + signal.SIGTERM, err.decode()
        assert b"Traceback" not in err, err.decode()


def test_sigterm_closes_the_session_like_sigint(tmp_path: Path) -> None:
    """SIGTERM runs the program's clean-up (finally blocks, context managers)."""
    script = tmp_path / "term.py"
    script.write_text(
        textwrap.dedent(
            """
            import time
            from fluvius.scheduling import WorkerPool
            try:
                with WorkerPool(2):
                    print("ready", flush=True)
                    time.sleep(60)
            finally:
                print("cleaned up", flush=True)
            """
        ),
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=_GUARD_S)
    assert out == b"cleaned up\n", err.decode()
    assert proc.returncode == 128 + signal.SIGTERM


def test_segments_of_a_dead_run_are_swept_at_the_next_start() -> None:
    """Belt and braces: segments named after a dead pid go when a pool starts."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, check=True, text=True)  # fmt: skip
    pid = int(dead.stdout)
    stale = _SHM / f"fluvius_{pid}_abcdef_p_1"
    stale.write_bytes(b"x" * 100)
    try:
        with WorkerPool(1):
            pass
        assert not stale.exists()
    finally:
        stale.unlink(missing_ok=True)


# -- 3. a worker dying between ticks -------------------------------------------------------
def _crossing_graph(big: bool) -> Graph:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    a = g.node("a", (lambda x: np.full(1 << 17, x)) if big else (lambda x: x + 1.0), s)
    g.node("risk/AAPL", lambda v: float(np.sum(v)), a)
    return g.build()


_KILLED = r"worker 1 \(pid \d+\) was killed by SIGKILL"


async def _call(run: object, path: str) -> None:
    assert isinstance(run, ProcessSession)
    if path == "cycle":
        await run.cycle({"s": 2.0})
    elif path == "values":
        run.values()
    else:
        await run.aclose()


@pytest.mark.parametrize("big", [False, True], ids=["float", "shared-memory array"])
@pytest.mark.parametrize("path", ["cycle", "values", "close"])
def test_worker_dying_between_ticks_is_worker_died(path: str, big: bool) -> None:
    graph = _crossing_graph(big)
    sched = _placed(graph, {"risk/AAPL": 1})

    async def main() -> float:
        run = sched.session(graph)
        try:
            await run.start()
            await run.cycle({"s": 1.0})
            assert run.pool is not None
            pid = run.pool.pids[1]
            os.kill(pid, signal.SIGKILL)
            _wait_dead(pid)
            t0 = time.monotonic()
            with pytest.raises(WorkerDiedError, match=_KILLED):
                await _call(run, path)
            return time.monotonic() - t0
        finally:
            await run.aclose()

    seconds = asyncio.run(main())
    assert seconds < 5.0, f"the death was reported {seconds:.1f} s late"


def test_values_after_a_dead_worker_stay_an_error() -> None:
    """Once a worker is known dead, its nodes' values are not served stale."""
    graph = _crossing_graph(False)
    sched = _placed(graph, {"risk/AAPL": 1})

    async def main() -> None:
        async with sched.session(graph) as run:
            await run.start()
            assert run.pool is not None
            os.kill(run.pool.pids[1], signal.SIGKILL)
            _wait_dead(run.pool.pids[1])
            with pytest.raises(WorkerDiedError):
                await run.cycle({"s": 2.0})
            with pytest.raises(WorkerDiedError, match="worker 1"):
                run.values()

    asyncio.run(main())


# -- 4. a value that cannot be pickled -------------------------------------------------------
def _lock_graph() -> Graph:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    lock = g.node("lock", lambda x: threading.Lock(), s)
    g.node("local", lambda lk: float(lk.locked()), lock)  # same worker: never crosses
    g.node("remote", lambda lk: float(lk.locked()), lock)  # another worker
    g.node("other", lambda x: x * 2.0, s)
    return g.build()


@pytest.mark.parametrize("trace", [False, True], ids=["fast path", "event-driven path"])
def test_unpicklable_value_is_a_node_error_contained_by_isolate(trace: bool) -> None:
    graph = _lock_graph()
    where = {"lock": 0, "local": 0, "remote": 1, "other": 1}

    def place(graph: Graph, workers: int, costs: object) -> Partition:
        return Partition(workers, tuple(where.get(k, 0) for k in graph.keys), "by_key")

    sched = ProcessScheduler(2, place, error_policy="isolate", trace=trace)  # type: ignore[arg-type]

    async def main() -> None:
        async with sched.session(graph) as run:
            startup = await run.start()
            (err,) = startup.errors
            assert err.key == "lock"
            assert "_thread.lock" in str(err)
            assert "cannot be pickled" in str(err)
            assert "worker 1" in str(err)
            for i in (1.0, 2.0):  # the worker lives on, cycle after cycle
                result = await run.cycle({"s": i})
                assert [e.key for e in result.errors] == ["lock"]
                values = run.values()
                assert values["other"] == 2 * i
                assert values["local"] == 0.0  # computed beside the lock: it kept working
                assert sorted(run.failed) == ["lock", "remote"]
                assert "_thread.lock" in str(run.failed["remote"])

    asyncio.run(main())


@pytest.mark.parametrize("trace", [False, True], ids=["fast path", "event-driven path"])
def test_unpicklable_value_under_fail_fast_is_a_node_error(trace: bool) -> None:
    graph = _lock_graph()
    sched = _placed(graph, {"remote": 1, "other": 1})
    sched.trace = trace
    with pytest.raises(NodeError, match=r"node 'lock'.*_thread\.lock.*cannot be pickled"):
        run_graph(graph, [{"s": 1.0}], sched)


def test_unpicklable_value_that_never_crosses_keeps_working() -> None:
    """Only the parent asks for it: the run goes on; the value is reported as not sent."""
    g = GraphBuilder()
    lock = g.node("lock", lambda x: threading.Lock(), g.source("s", 0.0))
    g.node("local", lambda lk: float(lk.locked()), lock)
    graph = g.build()
    serial = run_graph(graph, [{"s": 1.0}], SerialScheduler())
    report = run_graph(graph, [{"s": 1.0}, {"s": 2.0}], _placed(graph, {}))
    assert report.values["local"] == serial.values["local"] == 0.0
    assert [c.errors for c in report.cycles] == [(), ()]
    assert list(report.failed) == ["lock"]
    assert "cannot be pickled" in str(report.failed["lock"])
    assert "parent" in str(report.failed["lock"])


# -- also: workers exit quietly when the parent is interrupted ---------------------------------
def _spin_spec(tmp_path: Path, seconds: float) -> Path:
    """``a`` spins on worker 0; ``b`` reads it on worker 1 (values cross each cycle)."""
    n = calibrate_spin(0.01, repeats=1) * round(seconds * 100)
    spec = {
        "sources": {"s": 1.0},
        "nodes": {
            "a": {"op": "spin", "inputs": ["s"], "params": {"n": n}},
            "b": {"op": "spin", "inputs": ["a"], "params": {"n": n}},
            "c": {"op": "spin", "inputs": ["s"], "params": {"n": n}},
        },
    }
    path = tmp_path / "spin.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    ticks = tmp_path / "ticks.jsonl"
    ticks.write_text("".join(json.dumps({"s": float(i)}) + "\n" for i in range(100_000)))
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_is_quiet(tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal does) or SIGTERM to
    ``fluvius run`` in the middle of cycles: no traceback from any process."""
    spec = _spin_spec(tmp_path, 0.02)
    cmd = [str(Path(sys.executable).parent / "fluvius"), "run", str(spec), "--ticks",
           str(tmp_path / "ticks.jsonl"), "--scheduler", "process", "--workers", "2",
           "--partitioner", "round_robin"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + _GUARD_S
    workers: list[int] = []
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        workers = [c.pid for c in psutil.Process(proc.pid).children()
                   if "resource_tracker" not in " ".join(c.cmdline())]  # fmt: skip
    time.sleep(1.5)  # loaded, cycles running
    if sig == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
    else:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=_GUARD_S)
    text = err.decode()
    assert proc.returncode != 0, text
    assert "Traceback" not in text, text
    assert "BrokenPipeError" not in text, text
    assert _gone(workers), f"workers {workers} outlived the interrupted run"
