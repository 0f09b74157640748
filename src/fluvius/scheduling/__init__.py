"""Schedulers: where and in what order node computations run."""

from __future__ import annotations

from fluvius.scheduling._dask_pool import DaskPool as DaskPool
from fluvius.scheduling.base import Scheduler as Scheduler
from fluvius.scheduling.base import Session as Session
from fluvius.scheduling.dask import DaskScheduler as DaskScheduler
from fluvius.scheduling.live import LiveReport as LiveReport
from fluvius.scheduling.live import run_live as run_live
from fluvius.scheduling.process import ProcessScheduler as ProcessScheduler
from fluvius.scheduling.process import WorkerPool as WorkerPool
from fluvius.scheduling.runner import RunReport as RunReport
from fluvius.scheduling.runner import run_graph as run_graph
from fluvius.scheduling.runner import run_graph_async as run_graph_async
from fluvius.scheduling.serial import SerialScheduler as SerialScheduler

__all__ = [
    "DaskPool",
    "DaskScheduler",
    "LiveReport",
    "ProcessScheduler",
    "RunReport",
    "Scheduler",
    "SerialScheduler",
    "Session",
    "WorkerPool",
    "run_graph",
    "run_graph_async",
    "run_live",
]
