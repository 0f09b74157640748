"""Node-to-worker assignment: partitioners, the cost model, the simulator and the report."""

from __future__ import annotations

from fluvius.partition.base import Partition as Partition
from fluvius.partition.base import Partitioner as Partitioner
from fluvius.partition.base import round_robin as round_robin

__all__ = ["Partition", "Partitioner", "round_robin"]
