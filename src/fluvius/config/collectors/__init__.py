"""Collectors: gather facts (inventories, symbol lists, partition plans, environment).

A collector is declared in the config spec as a mapping with a ``kind`` and arguments; it
returns plain data and a source map (where each value was read). Collectors are Python
(they read formats); component types are data (schema and templates).
"""

from __future__ import annotations

from fluvius.config.collectors.base import CollectContext as CollectContext
from fluvius.config.collectors.base import Collected as Collected
from fluvius.config.collectors.base import Collector as Collector
from fluvius.config.collectors.environment import collect_env
from fluvius.config.collectors.iex import collect_iex_symbols
from fluvius.config.collectors.inventory import collect_csv, collect_yaml
from fluvius.config.collectors.partition import collect_partition

__all__ = ["COLLECTORS", "CollectContext", "Collected", "Collector"]

COLLECTORS: dict[str, Collector] = {
    "csv": collect_csv,
    "env": collect_env,
    "graph-partition": collect_partition,
    "iex-symbols": collect_iex_symbols,
    "yaml": collect_yaml,
}
"""Collector kinds by name."""
