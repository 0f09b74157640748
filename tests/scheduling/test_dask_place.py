"""Placement on a Dask cluster honours the fluvius-partition-<i> pins of `fluvius config`."""

from __future__ import annotations

import pytest

from fluvius.errors import FluviusError
from fluvius.scheduling._dask_place import placement_order


def test_pinned_workers_hold_their_partitions_whatever_their_addresses() -> None:
    workers = {
        f"tcp://10.0.0.{9 - i}:8788": {"resources": {f"fluvius-partition-{i}": 1.0, "MEM": 1e9}}
        for i in range(4)
    }
    assert placement_order(workers) == [f"tcp://10.0.0.{9 - i}:8788" for i in range(4)]


def test_without_pins_the_order_is_by_address() -> None:
    workers = {a: {"resources": {}} for a in ("tcp://b:1", "tcp://a:1", "tcp://c:1")}
    assert placement_order(workers) == ["tcp://a:1", "tcp://b:1", "tcp://c:1"]


def test_unpinned_workers_come_after_the_pinned_ones() -> None:
    workers = {
        "tcp://a:1": {"resources": {"GPU": 1.0}},
        "tcp://z:1": {"resources": {"fluvius-partition-0": 1.0}},
        "tcp://m:1": {},
    }
    assert placement_order(workers) == ["tcp://z:1", "tcp://a:1", "tcp://m:1"]


def test_a_pin_on_two_workers_is_an_error_naming_both() -> None:
    workers = {a: {"resources": {"fluvius-partition-1": 1.0}} for a in ("tcp://a:1", "tcp://b:1")}
    with pytest.raises(FluviusError, match=r"tcp://a:1 and tcp://b:1 both carry .*partition-1"):
        placement_order(workers)
