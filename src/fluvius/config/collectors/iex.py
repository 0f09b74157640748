"""The symbol list and security directory of an IEX capture, or a CSV symbol list.

Reading a capture needs the IEX feed handler, ``fluvius.feeds``, which is optional here: it
is imported when a ``capture`` is asked for, and its absence is a clear error that says to
use a CSV symbol list instead. The capture is read with ``fluvius.feeds.iex.iter_events``
(one unified event at a time, bounded memory; the unified events of docs/reference/iex.md):
every event with a symbol names one, and security directory events
(``kind == "security_directory"``) add their ``round_lot_size``, ``luld_tier`` and
``flags``.

The facts are a list of ``{symbol, ...}`` sorted by symbol, one per symbol seen.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fluvius.config._marks import Location, SourceMap
from fluvius.config.collectors.base import (
    CollectContext,
    Collected,
    check_args,
    resolve_path,
)
from fluvius.config.collectors.inventory import read_csv_rows
from fluvius.errors import ConfigError, FluviusError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["collect_iex_symbols"]

_DIRECTORY_FIELDS = ("round_lot_size", "luld_tier", "flags")


def _read_capture(path: Path, origin: str, ctx: CollectContext) -> Collected:
    try:
        feeds = importlib.import_module("fluvius.feeds.iex")
    except ImportError:
        raise ConfigError(
            f"{ctx.where}: collector 'iex-symbols': reading the capture {origin!r} needs the "
            "IEX feed handler (fluvius.feeds), which this installation lacks; list the "
            "symbols in a CSV file with a 'symbol' column and use 'csv:' instead"
        ) from None
    read_events = getattr(feeds, "iter_events", None)
    if read_events is None:
        raise ConfigError(
            f"{ctx.where}: collector 'iex-symbols': fluvius.feeds.iex has no "
            "iter_events(path); use 'csv:' with a symbol list instead"
        )
    found: dict[str, dict[str, Any]] = {}
    try:
        for event in read_events(path):  # one at a time: a day's capture does not fit in memory
            symbol = getattr(event, "symbol", "")
            if not symbol:
                continue
            entry = found.setdefault(symbol, {"symbol": symbol})
            if getattr(event, "kind", "") == "security_directory":
                for name in _DIRECTORY_FIELDS:
                    entry[name] = int(getattr(event, name))
    except FluviusError as exc:  # a DecodeError names the byte offset
        raise ConfigError(f"{ctx.where}: collector 'iex-symbols': {origin}: {exc}") from exc
    rows = [found[s] for s in sorted(found)]
    return Collected(rows, SourceMap(Location(origin)))


def collect_iex_symbols(args: Mapping[str, Any], ctx: CollectContext) -> Collected:
    """``{kind: iex-symbols, capture: FILE}`` or ``{kind: iex-symbols, csv: FILE}``."""
    check_args(args, ctx, "iex-symbols", optional=("capture", "csv"))
    if ("capture" in args) == ("csv" in args):
        raise ConfigError(f"{ctx.where}: collector 'iex-symbols': give exactly one of capture, csv")
    if "capture" in args:
        path = resolve_path(args["capture"], ctx, "iex-symbols")
        return _read_capture(path, str(args["capture"]), ctx)
    origin = str(args["csv"])
    collected = read_csv_rows(resolve_path(args["csv"], ctx, "iex-symbols"), origin)
    seen: dict[str, int] = {}
    for i, row in enumerate(collected.data):
        symbol = row.get("symbol")
        where = collected.marks.find((i,))
        if symbol is None:
            raise ConfigError(f"{where}: missing 'symbol' (a symbol list needs a 'symbol' column)")
        if symbol in seen:
            raise ConfigError(
                f"{where}: symbol {symbol!r} listed twice (first on row {seen[symbol]})"
            )
        seen[symbol] = i + 1
    return collected
