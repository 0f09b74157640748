"""``fluvius run``: run a spec file, optionally over a ticks file, and report."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fluvius.cli.errors import fail, user_errors
from fluvius.cli.output import err_console, jsonable, out_console, print_json
from fluvius.engine.compare import Comparison, compare_values
from fluvius.engine.state import ERROR_POLICIES, check_policy
from fluvius.errors import SpecError
from fluvius.graph.spec import load_graph
from fluvius.graph.ticks import read_ticks
from fluvius.partition import load_costs, partitioner_names
from fluvius.scheduling.base import ProgressCallback, Scheduler
from fluvius.scheduling.dask import DaskScheduler
from fluvius.scheduling.process import ProcessScheduler
from fluvius.scheduling.runner import RunReport, run_graph
from fluvius.scheduling.serial import SerialScheduler

__all__ = ["EPILOG", "HELP", "check_scheduler", "report_document", "run"]

HELP = """Run the graph of SPEC: start-up (every node once), then one cycle per line of TICKS.

SPEC is a YAML or JSON file with `sources` (key -> initial value) and `nodes` (key -> op, \
inputs, params). TICKS is JSON Lines: each line `{"source key": new value, ...}` is one \
cycle.

Results go to stdout: a summary for people, or with --json one JSON document: `values` \
(every node), `cycles` (recomputed count and seconds per ticks line), `stats` and \
`errors`. Progress and errors go to stderr.
"""

EPILOG = """Examples:

  fluvius workload export overhead --out overhead.json

  fluvius run overhead.json --ticks ticks.jsonl --json | jq '.cycles[0].recomputed'

  fluvius run spec.yaml --error-policy isolate --verbose

  fluvius run spec.yaml --json > serial.json

  fluvius run spec.yaml --scheduler process --compare serial.json

  fluvius run fanout.json --scheduler process --workers 2 --json | jq .stats.workers

  fluvius run fanout.json --scheduler dask --workers 2   # a local Dask cluster on 127.0.0.1

  fluvius run fanout.json --scheduler dask --address tcp://10.0.0.5:8786   # an existing one

  fluvius run spec.yaml --ticks ticks.jsonl --watchdog 2 --cycle-timeout 10   # name the \
nodes of a cycle still running at 2 s; stop it at 10 s

  fluvius profile fanout.json --out costs.json

  fluvius run fanout.json --scheduler process --workers 2 --partitioner components \
--costs costs.json --trace trace.json   # then open trace.json in ui.perfetto.dev
"""

SCHEDULERS = ("serial", "process", "dask")

# Options that `fluvius run` and `fluvius live` share (the same words in both --help pages).
SchedulerOption = Annotated[str, typer.Option(help=f"Where nodes run: {', '.join(SCHEDULERS)}.")]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        help="Worker processes (process scheduler; default 2), or Dask workers (dask "
        "scheduler: the local cluster's size, default 2; with --address, how many of the "
        "cluster's workers to use, default all)."
    ),
]
AddressOption = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler address of an existing cluster: tcp://HOST:PORT or "
        "tls://HOST:PORT (TLS certificates from Dask's configuration, e.g. "
        "DASK_DISTRIBUTED__COMM__TLS__CA_FILE). Without it, --scheduler dask starts a "
        "local cluster on 127.0.0.1 and closes it at the end.",
        show_default=False,
    ),
]
PROGRESS_MIN_NODES = 5_000  # smaller graphs start too fast for a bar to help


def check_scheduler(scheduler: str, workers: int | None, address: str | None) -> None:
    """Exit with code 2 unless ``scheduler`` is known and the worker options fit it (shared by
    ``run`` and ``live``)."""
    if scheduler not in SCHEDULERS:
        fail(f"unknown scheduler {scheduler!r}; expected one of {', '.join(SCHEDULERS)}", code=2)
    if address is not None and scheduler != "dask":
        fail(
            "--address applies to the dask scheduler",
            f"add --scheduler dask to run on the Dask cluster at {address}",
            code=2,
        )
    if address is not None and "://" not in address:
        fail(
            f"--address {address!r} names no protocol",
            f"write tcp://{address} (or tls://{address} for a TLS cluster)",
            code=2,
        )
    if workers is not None and scheduler == "serial":
        fail(
            "--workers applies to the process and dask schedulers",
            "drop it, or add --scheduler process (or dask)",
            code=2,
        )
    if workers is not None and workers < 1:
        fail(f"--workers must be at least 1, got {workers}", code=2)


def report_document(report: RunReport, node_keys: Sequence[str]) -> dict[str, Any]:
    """The ``--json`` document of a run (docs/reference/cli-and-spec.md; fields only added).

    ``values`` holds every node (``None`` when failed), ``sources`` every source.
    """
    failed = report.failed
    nodes = set(node_keys)
    return {
        "values": {k: None if k in failed else report.values[k] for k in node_keys},
        "sources": {k: v for k, v in report.values.items() if k not in nodes},
        "cycles": [
            {
                "index": c.index,
                "recomputed": c.recomputed,
                "seconds": c.seconds,
                "errors": [_error_document(e) for e in c.errors],
            }
            for c in report.cycles
        ],
        "stats": report.stats,
        "errors": [_error_document(e, key) for key, e in failed.items()],
    }


def _error_document(err: Any, key: str | None = None) -> dict[str, Any]:
    """One failure. ``key`` is the failed node, ``cause`` the node that raised: they
    differ for a node failed because an input failed (isolate policy)."""
    return {
        "key": key if key is not None else err.key,
        "cause": err.key,
        "type": err.exc_type,
        "message": err.exc_message,
        "worker": err.worker,
        "created_at": err.created_at,
    }


def run(
    ctx: typer.Context,
    spec: Annotated[
        Path, typer.Argument(help="Graph spec file (YAML or JSON).", show_default=False)
    ],
    *,
    scheduler: SchedulerOption = "serial",
    workers: WorkersOption = None,
    address: AddressOption = None,
    partitioner: Annotated[
        str | None,
        typer.Option(
            help="Node-to-worker assignment (process and dask schedulers): "
            f"{', '.join(partitioner_names())}. Default: auto."
        ),
    ] = None,
    costs: Annotated[
        Path | None,
        typer.Option(help="JSON {node key: seconds} (from `fluvius profile`) for partitioning."),
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option(
            help="Write a Chrome/Perfetto trace of the run here (process and dask schedulers)."
        ),
    ] = None,
    ticks: Annotated[
        Path | None, typer.Option(help="JSON Lines file: one {source: value} object per cycle.")
    ] = None,
    error_policy: Annotated[
        str,
        typer.Option(
            help=f"{' or '.join(ERROR_POLICIES)}: stop at the first failing node, or mark it "
            "and its dependents failed and go on."
        ),
    ] = "fail_fast",
    json_out: Annotated[
        bool, typer.Option("--json", help="Write one JSON document to stdout.")
    ] = False,
    watchdog: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="Log the nodes still running (key, where created, worker) when a cycle "
            "has run this long, and again every SECONDS.",
        ),
    ] = None,
    cycle_timeout: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="Stop a cycle (not start-up) that runs longer and fail, naming the running "
            "nodes. Process scheduler: the workers in the cycle are killed. Serial: a node "
            "blocked inside one C call (sleep, I/O, one numpy operation) is stopped only "
            "when the call returns.",
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="Show a start-up progress bar on a terminal (big graphs).")
    ] = True,
    compare: Annotated[
        Path | None,
        typer.Option(
            help="Compare the node values with those of another run's `--json` document "
            "(NaN equals NaN); report the first differing keys, exit 1 if any differ.",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks (also `fluvius -v run`).")
    ] = False,
) -> None:
    verbose = verbose or bool(ctx.obj and ctx.obj.get("verbose"))
    with user_errors(verbose):
        check_scheduler(scheduler, workers, address)
        process_only: dict[str, object] = {"--partitioner": partitioner}
        process_only |= {"--costs": costs, "--trace": trace}
        given = [name for name, value in process_only.items() if value is not None]
        if scheduler == "serial" and given:
            fail(
                f"{', '.join(given)} apply to the process and dask schedulers",
                "drop them, or choose --scheduler process (or dask)",
                code=2,
            )
        if partitioner is not None and partitioner not in partitioner_names():
            fail(
                f"unknown partitioner {partitioner!r}; expected one of "
                f"{', '.join(partitioner_names())}",
                code=2,
            )
        for name, seconds in (("--watchdog", watchdog), ("--cycle-timeout", cycle_timeout)):
            if seconds is not None and not seconds > 0:
                fail(f"{name} must be a number of seconds > 0, got {seconds}", code=2)
        try:
            policy = check_policy(error_policy)
        except ValueError as exc:
            fail(str(exc), code=2)
        other = _load_other(compare) if compare is not None else None
        t0 = time.perf_counter()
        graph = load_graph(spec)
        build_seconds = time.perf_counter() - t0
        batches = read_ticks(ticks, graph) if ticks is not None else []
        sched: Scheduler = SerialScheduler(
            error_policy=policy, watchdog_s=watchdog, cycle_timeout_s=cycle_timeout
        )
        if scheduler == "process":
            sched = ProcessScheduler(
                workers or 2,
                partitioner or "auto",
                load_costs(costs, graph) if costs is not None else None,
                error_policy=policy,
                trace=trace or False,
                watchdog_s=watchdog,
                cycle_timeout_s=cycle_timeout,
            )
        elif scheduler == "dask":
            sched = DaskScheduler(
                workers if workers is not None or address is not None else 2,
                partitioner or "auto",
                load_costs(costs, graph) if costs is not None else None,
                error_policy=policy,
                trace=trace or False,
                address=address,
                watchdog_s=watchdog,
                cycle_timeout_s=cycle_timeout,
            )
        with _startup_bar(len(graph), enabled=progress) as bar:
            report = run_graph(graph, batches, sched, progress=bar)
        report.stats["build_seconds"] = build_seconds
        document = report_document(report, graph.node_keys)
        comparison = None
        if other is not None and compare is not None:
            comparison = compare_values(jsonable(document["values"]), other)
            document["compare"] = _compare_document(compare, comparison)
        if json_out:
            print_json(document)
        else:
            _print_summary(report, graph.node_keys)
            if comparison is not None:
                out_console.print(f"compared with {compare}: {comparison}", soft_wrap=True)
        if comparison is not None and not comparison.same:
            raise SystemExit(1)


def _load_other(path: Path) -> dict[str, Any]:
    """The ``values`` of a ``fluvius run --json`` document (or a plain key -> value object)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg} "
            "(--compare reads the output of `fluvius run --json`)"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the file to compare with: {exc}") from exc
    if isinstance(document, dict) and isinstance(document.get("values"), dict):
        values: dict[str, Any] = document["values"]
        return values
    if isinstance(document, dict) and "values" not in document:
        return document
    raise SpecError(
        f"{path}: expected the JSON object of `fluvius run --json` (with 'values'), "
        f"got {type(document).__name__}"
    )


def _compare_document(path: Path, comparison: Comparison) -> dict[str, Any]:
    return {
        "other": str(path),
        "same": comparison.same,
        "compared": comparison.compared,
        "differing": comparison.differing,
        "first": [
            {"key": d.key, "value": d.left, "other": d.right, "in_run": d.in_left,
             "in_other": d.in_right}
            for d in comparison.first
        ],
    }  # fmt: skip


class _startup_bar:
    """A rich progress bar on stderr for the start-up of a big graph, on a terminal only."""

    def __init__(self, nodes: int, enabled: bool) -> None:
        self.active = enabled and nodes >= PROGRESS_MIN_NODES and err_console.is_terminal
        self.progress: Progress | None = None
        self.task: Any = None

    def __enter__(self) -> ProgressCallback | None:
        if not self.active:
            return None
        self.progress = Progress(
            TextColumn("start-up"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("nodes"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("start-up", total=None)

        def update(done: int, total: int) -> None:
            assert self.progress is not None
            self.progress.update(self.task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_summary(report: RunReport, node_keys: Sequence[str]) -> None:
    stats = report.stats
    out_console.print(
        f"{stats['nodes']:,} nodes, {stats['sources']:,} sources; built in "
        f"{stats['build_seconds'] * 1e3:.1f} ms; start-up {report.startup.seconds * 1e3:.1f} ms "
        f"({report.startup.recomputed:,} computed)"
    )
    if report.cycles:
        table = Table("cycle", "recomputed", "ms", "errors", title="cycles")
        for c in report.cycles[:20]:
            table.add_row(
                str(c.index), f"{c.recomputed:,}", f"{c.seconds * 1e3:.3f}", str(len(c.errors))
            )
        if len(report.cycles) > 20:
            table.add_row("…", f"({len(report.cycles) - 20} more)", "", "")
        out_console.print(table)
    workers = stats.get("workers", [])
    if len(workers) > 1 or stats.get("scheduler") in ("process", "dask"):
        table = Table(
            "worker",
            "pid",
            "nodes",
            "busy s",
            "idle s",
            "messages",
            "bytes",
            title=f"workers (partitioner {stats.get('partitioner', '?')}, "
            f"{stats.get('cross_edges', 0):,} cross edges)",
        )
        for w in workers:
            table.add_row(
                str(w["worker"]), str(w.get("pid", "")), f"{w['nodes']:,}",
                f"{w['busy_seconds']:.3f}", f"{w.get('idle_seconds', 0.0):.3f}",
                f"{w.get('messages_sent', 0):,}", f"{w.get('bytes_sent', 0):,}",
            )  # fmt: skip
        out_console.print(table)
    shown = list(node_keys)[-10:]
    values = Table("node", "value", title=f"last {len(shown)} of {len(node_keys):,} node values")
    for key in shown:
        value = "FAILED" if key in report.failed else repr(report.values.get(key))
        values.add_row(key, value)
    out_console.print(values)
    for key, err in report.failed.items():
        out_console.print(f"[red]failed[/] {key}: {err}", markup=True)
