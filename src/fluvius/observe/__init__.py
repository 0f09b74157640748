"""Observability: traces of runs (Chrome/Perfetto JSON)."""

from __future__ import annotations

from fluvius.observe.trace import write_chrome_trace as write_chrome_trace

__all__ = ["write_chrome_trace"]
