"""A command imports what it uses: ``fluvius iex decode`` stays clear of the graph engine,
the schedulers, the live runner, numba, pandas and the heavy parts of pyarrow.

Each command runs in a fresh interpreter (``python -c``), which then lists its modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fluvius.feeds.iex.synthetic import synthetic_tops

_RUN = """
import json, sys
from fluvius.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit as done:
    assert not done.code, done.code
print(json.dumps(sorted(sys.modules)))
"""

# modules no `fluvius iex` command needs (a prefix covers its submodules)
HEAVY = (
    "fluvius.graph",
    "fluvius.engine",
    "fluvius.scheduling",
    "fluvius.partition",
    "fluvius.config",
    "fluvius.live",
    "fluvius.nodes",
    "fluvius.observe",
    "fluvius.workloads",
    "fluvius.testing",
    "fluvius.feeds.iex.live",
    "fluvius.feeds.iex.datagram",
    "fluvius.feeds.adapter",
    "fluvius.cli.run",
    "fluvius.cli.live",
    "fluvius.cli.workload",
    "fluvius.cli.config",
    "fluvius.cli.profile",
    "fluvius.cli.partition",
    "fluvius.cli.graph",
    "numba",
    "llvmlite",
    "dask",
    "distributed",
    "pandas",
    "polars",
    "duckdb",
    "yaml",
    "jinja2",
    "rich.traceback",
    "pyarrow.parquet",
    "pyarrow.compute",
    "pyarrow.dataset",
    "pyarrow.fs",
)


def _modules(*args: str) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-c", _RUN, *args], capture_output=True, text=True, check=True
    )
    modules: list[str] = json.loads(run.stdout.strip().splitlines()[-1])
    return modules


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("startup") / "tops.pcap"
    synthetic_tops(500, seed=3).write(path)
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["iex", "decode", "{file}", "--format", "parquet", "--out", "{tmp}/pq"],
        ["iex", "decode", "{file}", "--out", "{tmp}/events.jsonl"],
        ["iex", "info", "{file}", "--json"],
    ],
    ids=["decode-parquet", "decode-jsonl", "info"],
)
def test_iex_commands_import_only_what_they_use(
    args: list[str], capture: Path, tmp_path: Path
) -> None:
    argv = [a.format(file=capture, tmp=tmp_path) for a in args]
    modules = _modules(*argv)
    assert "fluvius.feeds.iex.export" in modules  # the command did run
    assert _heavy(modules) == []


def test_the_check_sees_a_heavy_import() -> None:
    """The same check on a command that does use the engine finds it."""
    modules = _modules("graph", "--help")
    assert _heavy(modules), "fluvius graph --help should load fluvius.cli.graph"
