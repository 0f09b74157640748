"""Observability: traces of runs (Chrome/Perfetto JSON) and pictures of graphs."""

from __future__ import annotations

from fluvius.observe import picture as picture
from fluvius.observe.trace import write_chrome_trace as write_chrome_trace

__all__ = ["picture", "write_chrome_trace"]
