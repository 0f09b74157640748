"""Issue 15, item 8: a hung node can be seen (watchdog), stopped (cycle timeout) and is
named on Ctrl-C, on the serial scheduler and on worker processes. Real processes and real
signals for Ctrl-C and the command line."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from child_procs import no_leftover_process  # noqa: F401 - an autouse fixture

from fluvius.errors import CycleTimeoutError, FluviusError
from fluvius.graph import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.partition import Partition
from fluvius.scheduling import ProcessScheduler, SerialScheduler
from fluvius.scheduling.base import Scheduler
from fluvius.workloads import calibrate_spin

pytestmark = pytest.mark.slow

_GUARD_S = 30.0  # a hung node ends after this: reached only when a test fails
_HERE = __file__


def _python_loop(x: float) -> float:
    """Hangs in Python bytecode (at start-up, x == 0, it returns at once)."""
    deadline = time.monotonic() + (_GUARD_S if x else 0.0)
    while time.monotonic() < deadline:
        pass
    return x


def _sleep(seconds: float) -> float:
    time.sleep(seconds)  # one C call
    return seconds


async def _wait(x: float) -> float:
    await asyncio.sleep(_GUARD_S if x else 0.0)
    return x


def _graph(fn: Any, key: str = "hung") -> Graph:
    g = GraphBuilder()
    s = g.source("s", 0.0)
    g.node("quick", lambda x: x + 1.0, s)
    g.node(key, fn, s)  # the line named in "created at"
    return g.build()


_LINE = _graph.__code__.co_firstlineno + 4  # the g.node(key, ...) line above


def _timed_out(timeout_s: float, fn: Any) -> tuple[BaseException, float]:
    """Run one cycle of ``_graph(fn)`` on the serial scheduler with ``timeout_s``."""
    return asyncio.run(_one_cycle(SerialScheduler(cycle_timeout_s=timeout_s), _graph(fn), 1.0))


async def _one_cycle(sched: Scheduler, graph: Graph, value: float) -> tuple[BaseException, float]:
    async with sched.session(graph) as run:
        await run.start()
        t0 = time.monotonic()
        try:
            await run.cycle({"s": value})
        except FluviusError as exc:
            seconds = time.monotonic() - t0
            with pytest.raises(FluviusError, match="this run stopped: cycle 1 did not finish"):
                await run.cycle({"s": 1.0})  # the run is over
            return exc, seconds
    raise AssertionError("the cycle was not stopped")


# -- watchdog ---------------------------------------------------------------------------------
def test_serial_watchdog_logs_the_running_node(caplog: pytest.LogCaptureFixture) -> None:
    graph = _graph(_sleep)
    caplog.set_level(logging.WARNING, "fluvius.scheduling")

    async def main() -> None:
        async with SerialScheduler(watchdog_s=0.2).session(graph) as run:
            await run.start()
            await run.cycle({"s": 0.7})

    asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records if "has been running" in r.getMessage()]
    assert len(lines) >= 2, lines  # at 0.2 s, then every 0.2 s
    assert lines[0].startswith("cycle 1 has been running for 0.")
    assert lines[0].endswith(f"s; running: 'hung' (created at {_HERE}:{_LINE})")


def test_process_watchdog_names_node_and_worker(caplog: pytest.LogCaptureFixture) -> None:
    graph = _graph(_sleep)
    caplog.set_level(logging.WARNING, "fluvius.process")
    sched = _on_worker_1(graph, watchdog_s=0.5)

    async def main() -> None:
        async with sched.session(graph) as run:
            await run.start()
            await run.cycle({"s": 1.2})

    asyncio.run(main())
    lines = [r.getMessage() for r in caplog.records if "has been running" in r.getMessage()]
    assert lines, caplog.text
    assert f"running: 'hung' (created at {_HERE}:{_LINE}) on worker 1" in lines[0]


def _on_worker_1(graph: Graph, **options: Any) -> ProcessScheduler:
    def place(graph: Graph, workers: int, costs: object) -> Partition:
        return Partition(workers, tuple(int(k == "hung") for k in graph.keys), "by_key")

    return ProcessScheduler(2, place, **options)  # type: ignore[arg-type]


# -- cycle timeout ------------------------------------------------------------------------------
def test_serial_timeout_stops_a_node_looping_in_python() -> None:
    err, seconds = asyncio.run(
        _one_cycle(SerialScheduler(cycle_timeout_s=0.3), _graph(_python_loop), 1.0)
    )
    assert isinstance(err, CycleTimeoutError), err
    assert err.running == ("hung",)
    assert f"'hung' (created at {_HERE}:{_LINE})" in str(err)
    assert seconds < 5.0


def test_serial_timeout_cancels_an_async_node() -> None:
    err, seconds = _timed_out(0.3, _wait)
    assert isinstance(err, CycleTimeoutError), err
    assert err.running == ("hung",)
    assert seconds < 5.0


def test_serial_timeout_waits_for_a_c_call_to_return() -> None:
    """The documented limit: one C call (here time.sleep) is not interrupted."""
    err, seconds = asyncio.run(
        _one_cycle(SerialScheduler(cycle_timeout_s=0.2), _graph(_sleep), 1.0)
    )
    assert isinstance(err, CycleTimeoutError), err
    assert err.running == ("hung",)
    assert seconds >= 1.0


def test_process_timeout_kills_the_worker_running_the_node() -> None:
    graph = _graph(_sleep)
    sched = _on_worker_1(graph, cycle_timeout_s=0.5)

    async def main() -> tuple[CycleTimeoutError, float, int]:
        async with sched.session(graph) as run:
            await run.start()
            assert run.pool is not None
            pid = run.pool.pids[1]
            t0 = time.monotonic()
            with pytest.raises(CycleTimeoutError) as info:
                await run.cycle({"s": _GUARD_S})
            return info.value, time.monotonic() - t0, pid

    err, seconds, pid = asyncio.run(main())
    assert err.running == ("hung",)
    assert f"'hung' (created at {_HERE}:{_LINE}) on worker 1" in str(err)
    assert "worker(s) 1 were killed" in str(err)
    assert seconds < 5.0
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("scheduler", ["serial", "process"])
def test_fast_cycles_and_a_slow_startup_are_not_stopped(scheduler: str) -> None:
    """The timeout applies to cycles, not start-up; quick cycles never trip it."""
    g = GraphBuilder()
    s = g.source("s", 0.0)
    g.node("slow start", lambda x: _sleep(1.2) if x == 0 else x, s)
    g.node("double", lambda x: 2 * x, s)
    graph = g.build()
    sched: Scheduler = (
        SerialScheduler(cycle_timeout_s=1.0, watchdog_s=0.5)
        if scheduler == "serial"
        else ProcessScheduler(2, cycle_timeout_s=1.0, watchdog_s=0.5)
    )

    async def main() -> float:
        async with sched.session(graph) as run:
            await run.start()
            for i in range(1, 200):
                await run.cycle({"s": float(i)})
            return float(run.values()["double"])

    assert asyncio.run(main()) == 398.0


@pytest.mark.parametrize("bad", [0, -1.0, True, "1"])
def test_timeout_settings_are_checked(bad: object) -> None:
    with pytest.raises(ValueError, match="cycle_timeout_s must be a number of seconds > 0"):
        SerialScheduler(cycle_timeout_s=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="watchdog_s must be a number of seconds > 0"):
        ProcessScheduler(2, watchdog_s=bad)  # type: ignore[arg-type]


# -- Ctrl-C and the command line ----------------------------------------------------------------
_HUNG_SCRIPT = """
import time
from fluvius import GraphBuilder, run_graph


def hang(x):
    if x:
        print("hanging", flush=True)
        time.sleep(60)
    return x


g = GraphBuilder()
g.node("hung", hang, g.source("s", 0.0))
run_graph(g.build(), [{"s": 1.0}])
"""


def test_ctrl_c_stops_a_hung_serial_node_and_names_it(tmp_path: Path) -> None:
    """One Ctrl-C is enough (asyncio.run's own handler would wait for the node)."""
    script = tmp_path / "hung.py"
    script.write_text(textwrap.dedent(_HUNG_SCRIPT), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"hanging\n", proc.communicate(timeout=_GUARD_S)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("one Ctrl-C did not stop the hung node") from None
    text = err.decode()
    assert proc.returncode != 0
    assert f"cycle 1 interrupted; running: 'hung' (created at {script}:" in text, text


def _spin_spec(tmp_path: Path, seconds: float) -> tuple[Path, Path]:
    n = calibrate_spin(0.01, repeats=1) * round(seconds * 100)
    spec = {"sources": {"s": 1.0}, "nodes": {"spin": {"op": "spin", "inputs": ["s"],
            "params": {"n": n}}}}  # fmt: skip
    path = tmp_path / "spin.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    ticks = tmp_path / "ticks.jsonl"
    ticks.write_text('{"s": 2.0}\n', encoding="utf-8")
    return path, ticks


def _fluvius(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "fluvius"), "run", *args]


_HANG_OPS = """
import time


def hang(x):
    deadline = time.monotonic() + (30.0 if x > 1.0 else 0.0)  # cycles only, not start-up
    while time.monotonic() < deadline:  # in Python: the serial scheduler can stop it
        pass
    return x
"""


@pytest.mark.parametrize("scheduler", ["serial", "process"])
def test_fluvius_run_cycle_timeout(tmp_path: Path, scheduler: str) -> None:
    (tmp_path / "hang_ops.py").write_text(_HANG_OPS, encoding="utf-8")
    spec = tmp_path / "hang.json"
    spec.write_text(json.dumps({"sources": {"s": 1.0}, "nodes": {"hung": {"op": "hang_ops:hang",
                    "inputs": ["s"]}}}), encoding="utf-8")  # fmt: skip
    ticks = tmp_path / "ticks.jsonl"
    ticks.write_text('{"s": 2.0}\n', encoding="utf-8")
    proc = subprocess.run(
        _fluvius(str(spec), "--ticks", str(ticks), "--scheduler", scheduler,
                 "--cycle-timeout", "0.5", "--watchdog", "0.2"),
        capture_output=True, text=True, timeout=_GUARD_S, check=False,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    text = " ".join(proc.stderr.split())
    assert proc.returncode == 1, text
    assert "did not finish within its timeout of 0.5 s" in text
    assert f"'hung' (created at {spec})" in text
    assert "cycle 1 has been running for" in text  # the watchdog spoke first


def test_fluvius_run_rejects_bad_seconds(tmp_path: Path) -> None:
    spec, _ = _spin_spec(tmp_path, 0.01)
    proc = subprocess.run(_fluvius(str(spec), "--cycle-timeout", "0"), capture_output=True,
                          text=True, timeout=_GUARD_S, check=False)  # fmt: skip
    assert proc.returncode == 2
    assert "--cycle-timeout must be a number of seconds > 0" in proc.stderr


def test_ctrl_c_to_fluvius_run_names_what_workers_run(tmp_path: Path) -> None:
    spec, ticks = _spin_spec(tmp_path, _GUARD_S)
    proc = subprocess.Popen(
        _fluvius(str(spec), "--ticks", str(ticks), "--scheduler", "process", "--workers", "2"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    time.sleep(0.2)
    deadline = time.monotonic() + _GUARD_S
    while time.monotonic() < deadline and proc.poll() is None:  # until a worker spins
        kids = psutil.Process(proc.pid).children()
        if any(k.cpu_times().user > 1.0 for k in kids if "resource_tracker" not in
               " ".join(k.cmdline())):  # fmt: skip
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=_GUARD_S)
    text = " ".join(err.decode().split())
    assert proc.returncode != 0
    assert "cycle 0 interrupted" in text, text  # the spin runs at start-up
    assert f"'spin' (created at {spec}) on worker" in text, text
    assert "Traceback" not in text, text
