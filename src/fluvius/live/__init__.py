"""``fluvius live``: a graph on live or replayed market data, with a dashboard and metrics.

:class:`LiveRun` runs a graph on feeds named by URL (:mod:`fluvius.live.feeds`, with a
registry for new schemes), records chosen values (:class:`Recorder`) and writes a
:class:`LiveState`, where the runner and the HTTP server meet (see its module).
"""

from __future__ import annotations

from fluvius.live.feeds import (
    Feed,
    FeedContext,
    FeedError,
    FeedUpdate,
    FeedURL,
    feed_schemes,
    open_feed,
    register_feed,
)
from fluvius.live.record import Recorder
from fluvius.live.runner import LiveReport, LiveRun
from fluvius.live.state import Alert, FeedHealth, LiveState

__all__ = [
    "Alert",
    "Feed",
    "FeedContext",
    "FeedError",
    "FeedHealth",
    "FeedURL",
    "FeedUpdate",
    "LiveReport",
    "LiveRun",
    "LiveState",
    "Recorder",
    "feed_schemes",
    "open_feed",
    "register_feed",
]
