"""Configuration generation: component types (schema + templates) fed by collectors.

Layers: ``_marks`` (YAML/CSV with line numbers) <- ``schema`` (fields in data -> pydantic
models) <- ``component`` (type folders, discovery) and ``collectors`` (facts) <- ``spec``
(instances: collect, merge, validate) <- ``render`` (Jinja2, normalise, header) <-
``generate`` (write and check an output folder). ``fluvius config`` is the command line.
"""

from __future__ import annotations

from fluvius.config.collectors import COLLECTORS as COLLECTORS
from fluvius.config.component import ComponentType as ComponentType
from fluvius.config.component import Registry as Registry
from fluvius.config.component import discover_components as discover_components
from fluvius.config.generate import CheckReport as CheckReport
from fluvius.config.generate import WriteReport as WriteReport
from fluvius.config.generate import check_files as check_files
from fluvius.config.generate import generate_files as generate_files
from fluvius.config.generate import write_files as write_files
from fluvius.config.spec import ConfigValidationError as ConfigValidationError
from fluvius.config.spec import Instance as Instance
from fluvius.config.spec import load_config_spec as load_config_spec
from fluvius.config.spec import resolve_instances as resolve_instances

__all__ = [
    "COLLECTORS",
    "CheckReport",
    "ComponentType",
    "ConfigValidationError",
    "Instance",
    "Registry",
    "WriteReport",
    "check_files",
    "discover_components",
    "generate_files",
    "load_config_spec",
    "resolve_instances",
    "write_files",
]
