"""Node-to-worker assignment: partitioners, the cost model, the simulator and the report."""

from __future__ import annotations

from fluvius.partition.base import Partition as Partition
from fluvius.partition.base import Partitioner as Partitioner
from fluvius.partition.base import round_robin as round_robin
from fluvius.partition.calibrate import Calibration as Calibration
from fluvius.partition.calibrate import calibrate as calibrate
from fluvius.partition.calibrate import default_calibration as default_calibration
from fluvius.partition.cost import dump_costs as dump_costs
from fluvius.partition.cost import estimate_costs as estimate_costs
from fluvius.partition.cost import load_costs as load_costs
from fluvius.partition.network import Network as Network
from fluvius.partition.network import parse_network as parse_network
from fluvius.partition.registry import partition_graph as partition_graph
from fluvius.partition.registry import partitioner_names as partitioner_names

__all__ = [
    "Calibration",
    "Network",
    "Partition",
    "Partitioner",
    "calibrate",
    "default_calibration",
    "dump_costs",
    "estimate_costs",
    "load_costs",
    "parse_network",
    "partition_graph",
    "partitioner_names",
    "round_robin",
]
