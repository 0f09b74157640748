"""Child processes of the test process: what the process-scheduler fault tests check is
left behind after each test (one definition for test_process_faults, test_process_hardening
and test_hung_nodes)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import psutil
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator


def children() -> set[int]:
    """Child processes of this test process, except multiprocessing's resource tracker
    (a singleton that every ``spawn`` start launches once and that exits with its parent)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if "multiprocessing.resource_tracker" not in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.NoSuchProcess:
            continue
    return out


@pytest.fixture(autouse=True)
def no_leftover_process() -> Iterator[None]:
    """Every test of a module that imports this fixture must leave exactly the child
    processes it found."""
    before = children()
    yield
    deadline = time.monotonic() + 5.0  # reaped processes can linger as zombies briefly
    while (left := children() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes left behind: {left}"
