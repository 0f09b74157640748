"""Chrome/Perfetto trace export of a multi-process run.

The format is the Chrome "Trace Event Format" (JSON object with ``traceEvents``), which
https://ui.perfetto.dev and ``chrome://tracing`` open. One process track per worker
(``pid`` = the worker's OS pid, named ``worker-N``), one thread track in it; a complete
slice (``ph: "X"``) per node computation, named after the node key with the cycle in
``args``; a slice ``recv`` for each batch of values a worker received; and a flow arrow
(``ph: "s"`` at the producing slice, ``ph: "f"`` at the receiving one) for every value
that crossed from one worker to another.

Workers record raw spans only when tracing is on (``ProcessScheduler(trace=...)``); the
span tuples are:

``("node", rank, cycle, t0, t1)``
    one computation, ``time.perf_counter`` seconds (CLOCK_MONOTONIC: one clock for every
    process of the machine);
``("send", rank, dest, cycle, t)``
    the changed value of ``rank`` was sent to worker ``dest``;
``("recv", entries, cycle, t0, t1)``
    a settle batch ``[(rank, kind, value), ...]`` was applied (kind 1 = changed value).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = ["write_chrome_trace"]

_CHANGED = 1


def write_chrome_trace(
    path: Path | None,
    keys: Sequence[str],
    workers: Mapping[int, tuple[str, int]],
    spans: Mapping[int, Sequence[tuple[Any, ...]]],
) -> dict[str, Any]:
    """Build (and write to ``path`` when given) the trace document of one run.

    Parameters
    ----------
    path
        Where to write the JSON, or None.
    keys
        Node keys by rank.
    workers
        Worker id -> (name, pid).
    spans
        Worker id -> its raw spans (see the module docstring).

    Examples
    --------
    >>> doc = write_chrome_trace(
    ...     None, ["s", "a", "b"], {0: ("worker-0", 10), 1: ("worker-1", 11)},
    ...     {0: [("node", 1, 0, 1.0, 1.5), ("send", 1, 1, 0, 1.5)],
    ...      1: [("recv", [(1, 1, 2.0)], 0, 1.6, 1.61), ("node", 2, 0, 1.61, 2.0)]})
    >>> sorted({e["ph"] for e in doc["traceEvents"]})
    ['M', 'X', 'f', 's']
    >>> [e["name"] for e in doc["traceEvents"] if e["ph"] == "X"]
    ['a', 'recv', 'b']
    """
    events: list[dict[str, Any]] = []
    t_min = min(
        (s[3] if s[0] != "send" else s[4] for ss in spans.values() for s in ss), default=0.0
    )

    def us(t: float) -> float:
        return round((t - t_min) * 1e6, 3)

    sends: dict[tuple[int, int, int], tuple[int, float]] = {}
    for _, (name, pid) in sorted(workers.items()):
        events.append({"ph": "M", "name": "process_name", "pid": pid, "args": {"name": name}})
        events.append(
            {"ph": "M", "name": "thread_name", "pid": pid, "tid": pid, "args": {"name": name}}
        )
    for w, ss in sorted(spans.items()):
        pid = workers[w][1]
        last_end: dict[int, float] = {}
        for span in ss:
            if span[0] == "node":
                _, r, cycle, t0, t1 = span
                last_end[r] = t1
                events.append(
                    {
                        "ph": "X",
                        "name": keys[r],
                        "cat": "node",
                        "pid": pid,
                        "tid": pid,
                        "ts": us(t0),
                        "dur": round((t1 - t0) * 1e6, 3),
                        "args": {"cycle": cycle, "worker": w},
                    }
                )
            elif span[0] == "send":
                _, r, dest, cycle, t = span
                at = min(last_end.get(r, t), t)
                fid = len(sends) + 1
                sends[(cycle, r, dest)] = (fid, at)
                events.append(
                    {
                        "ph": "s",
                        "name": "value",
                        "cat": "flow",
                        "id": fid,
                        "pid": pid,
                        "tid": pid,
                        "ts": us(at) - 0.001,
                    }
                )
    for w, ss in sorted(spans.items()):
        pid = workers[w][1]
        for span in ss:
            if span[0] != "recv":
                continue
            _, entries, cycle, t0, t1 = span
            events.append(
                {
                    "ph": "X",
                    "name": "recv",
                    "cat": "transfer",
                    "pid": pid,
                    "tid": pid,
                    "ts": us(t0),
                    "dur": max(round((t1 - t0) * 1e6, 3), 0.001),
                    "args": {"cycle": cycle, "values": [keys[e[0]] for e in entries]},
                }
            )
            for r, kind, _ in entries:
                flow = sends.get((cycle, r, w))
                if kind == _CHANGED and flow is not None:
                    events.append(
                        {
                            "ph": "f",
                            "bp": "e",
                            "name": "value",
                            "cat": "flow",
                            "id": flow[0],
                            "pid": pid,
                            "tid": pid,
                            "ts": us(t0),
                        }
                    )
    events.sort(key=lambda e: (e["ph"] != "M", e.get("ts", 0.0)))
    doc = {"traceEvents": events, "displayTimeUnit": "ms"}
    if path is not None:
        path.write_text(json.dumps(doc), encoding="utf-8")
    return doc
