"""Which Dask worker holds which partition: the order of :meth:`DaskPool._place`.

A cluster made by ``fluvius config`` (the ``dask-cluster`` and ``aws-terraform`` component
types) starts worker ``i`` with the Dask resource ``fluvius-partition-<i>=1``, sized for
the partition ``i`` of its plan. Placement honours those pins: partition ``i`` goes to the
worker pinned ``i``. Workers are ordered pinned first, by pin, then the unpinned ones by
address (a cluster without pins: address order), and the first ``workers`` of that order
hold partitions 0, 1, ... . A pin claimed by two workers is an error naming both.

>>> placement_order({
...     "tcp://10.0.0.9:1": {"resources": {"fluvius-partition-0": 1.0}},
...     "tcp://10.0.0.1:1": {"resources": {"fluvius-partition-1": 1.0, "MEM": 8e9}},
...     "tcp://10.0.0.5:1": {"resources": {}},
... })
['tcp://10.0.0.9:1', 'tcp://10.0.0.1:1', 'tcp://10.0.0.5:1']
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fluvius.errors import FluviusError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["PIN", "placement_order"]

PIN = re.compile(r"fluvius-partition-(\d+)")
"""The Dask resource that pins a worker to a partition (``fluvius-partition-<i>``)."""


def placement_order(workers: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Worker addresses in placement order, from the scheduler's ``scheduler_info()
    ["workers"]`` (address -> info with ``resources``); see the module docstring."""
    pinned: dict[int, str] = {}
    free: list[str] = []
    for address in sorted(workers):
        pins = [
            int(m.group(1))
            for name in (workers[address].get("resources") or {})
            if (m := PIN.fullmatch(str(name)))
        ]
        if not pins:
            free.append(address)
            continue
        for pin in pins:
            if pin in pinned:
                raise FluviusError(
                    f"Dask workers {pinned[pin]} and {address} both carry the resource "
                    f"fluvius-partition-{pin}; give each partition's pin to one worker"
                )
            pinned[pin] = address
    chosen = [pinned[pin] for pin in sorted(pinned)]
    return list(dict.fromkeys(chosen)) + free
