"""Chrome/Perfetto trace export from raw worker spans."""

from __future__ import annotations

import json
from pathlib import Path

from fluvius.observe import write_chrome_trace

KEYS = ["s", "a", "b", "c"]
WORKERS = {0: ("worker-0", 100), 1: ("worker-1", 101)}


def test_tracks_slices_and_flows(tmp_path: Path) -> None:
    spans = {
        0: [
            ("node", 1, 0, 10.0, 10.5),
            ("send", 1, 1, 0, 10.5),
            ("node", 1, 1, 12.0, 12.25),  # cycle 1: unchanged, nothing sent
        ],
        1: [
            ("recv", [(1, 1, None)], 0, 10.6, 10.61),
            ("node", 2, 0, 10.61, 11.0),
            ("recv", [(1, 0, None)], 1, 12.3, 12.31),
        ],
    }
    path = tmp_path / "t.json"
    doc = write_chrome_trace(path, KEYS, WORKERS, spans)
    assert json.loads(path.read_text(encoding="utf-8")) == doc
    events = doc["traceEvents"]
    names = {(e["pid"], e["args"]["name"]) for e in events if e["name"] == "process_name"}
    assert names == {(100, "worker-0"), (101, "worker-1")}
    nodes = [e for e in events if e.get("cat") == "node"]
    assert [(e["name"], e["pid"], e["args"]["cycle"]) for e in nodes] == [
        ("a", 100, 0),
        ("b", 101, 0),
        ("a", 100, 1),
    ]
    assert nodes[0]["ts"] == 0.0
    assert nodes[0]["dur"] == 500000.0  # microseconds
    (start,) = [e for e in events if e["ph"] == "s"]
    (end,) = [e for e in events if e["ph"] == "f"]
    assert start["id"] == end["id"]
    assert (start["pid"], end["pid"]) == (100, 101)
    assert start["ts"] < nodes[0]["ts"] + nodes[0]["dur"]  # bound inside the producing slice
    recvs = [e for e in events if e["name"] == "recv"]
    assert end["ts"] == recvs[0]["ts"]


def test_no_spans_gives_only_track_names() -> None:
    doc = write_chrome_trace(None, KEYS, WORKERS, {0: [], 1: []})
    assert {e["ph"] for e in doc["traceEvents"]} == {"M"}
