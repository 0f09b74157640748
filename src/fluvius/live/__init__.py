"""``fluvius live``: a graph on live or replayed market data, with a dashboard and metrics.

:class:`LiveState` is where the runner and the HTTP server meet (see its module).
"""

from __future__ import annotations

from fluvius.live.state import Alert, FeedHealth, LiveState

__all__ = ["Alert", "FeedHealth", "LiveState"]
