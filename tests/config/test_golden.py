"""Golden files: the golden inputs generate exactly the reviewed files, for every type.

After a deliberate change of a template, review the diff and refresh the files with
``FLUVIUS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/config/test_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluvius.config import check_files, write_files

EXPECTED = Path(__file__).parent / "golden" / "expected"
INSTANCES = {"desk": "fluvius-deployment", "cluster": "dask-cluster", "aws": "aws-terraform"}


@pytest.mark.parametrize(
    "instance", sorted(INSTANCES), ids=[INSTANCES[i] for i in sorted(INSTANCES)]
)
def test_golden(golden_files: dict[str, str], instance: str) -> None:
    files = {rel: text for rel, text in golden_files.items() if rel.startswith(f"{instance}/")}
    assert files, f"the golden inputs generate nothing for {instance}"
    if os.environ.get("FLUVIUS_UPDATE_GOLDEN"):
        write_files(golden_files, EXPECTED)  # the folder holds one spec's output: all of it
    on_disk = sorted(
        p.relative_to(EXPECTED).as_posix() for p in (EXPECTED / instance).rglob("*") if p.is_file()
    )
    assert on_disk == sorted(files)
    report = check_files(golden_files, EXPECTED)
    mine = [rel for rel in (*report.changed, *report.missing) if rel.startswith(f"{instance}/")]
    assert not mine, report.diff
