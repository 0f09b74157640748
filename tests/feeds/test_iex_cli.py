"""``fluvius iex decode`` and ``fluvius iex info`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from capture_builder import (
    DEEP,
    Feed,
    frame,
    parquet_events,
    pcap,
    price_level,
    quote,
    segment,
    short_sale,
    system_event,
    trade,
)
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.feeds.events import event_to_dict

runner = CliRunner()
T0 = 1_600_000_000_000_000_000


def _capture(tmp_path: Path) -> tuple[Path, Feed]:
    feed = Feed()
    feed.add([system_event("O", 1), short_sale("AAPL", 2, 1, " ")], T0)
    feed.add([quote("AAPL", 3, 100, 1_500_000, 1_500_100, 200)], T0 + 1000)
    feed.add([trade("AAPL", 4, 10, 1_500_050, 99), quote("MSFT", 5, 0, 0, 3_000_000, 5)], T0 + 2000)
    path = tmp_path / "tops.pcap"
    path.write_bytes(pcap([(ts, frame(p)) for ts, p in feed.datagrams]))
    return path, feed


def test_decode_jsonl_to_stdout_has_every_field_kind_first(tmp_path: Path) -> None:
    path, feed = _capture(tmp_path)
    result = runner.invoke(app, ["iex", "decode", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [event_to_dict(e) for e in feed.expected]
    assert all(line.startswith('{"kind": ') for line in lines)


def test_decode_filters_kinds_and_symbols(tmp_path: Path) -> None:
    path, feed = _capture(tmp_path)
    args = ["iex", "decode", str(path), "--kinds", "quote,trade", "--symbols", "AAPL"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    wanted = [e for e in feed.expected if e.kind in ("quote", "trade") and e.symbol == "AAPL"]
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        event_to_dict(e) for e in wanted
    ]
    out = tmp_path / "pq"
    result = runner.invoke(app, [*args, "-f", "parquet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert parquet_events(out) == {
        kind: [event_to_dict(e) for e in wanted if e.kind == kind] for kind in ("quote", "trade")
    }
    bad = runner.invoke(app, ["iex", "decode", str(path), "--kinds", "quotes"])
    assert bad.exit_code == 1
    assert "--kinds: unknown event kind(s) quotes" in bad.stderr


def test_decode_jsonl_to_a_file(tmp_path: Path) -> None:
    path, feed = _capture(tmp_path)
    out = tmp_path / "events.jsonl"
    result = runner.invoke(app, ["iex", "decode", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [event_to_dict(e) for e in feed.expected]
    assert "5 messages, 5 events" in result.stderr


@pytest.mark.slow
def test_decode_parquet_writes_a_dataset_partitioned_by_kind(tmp_path: Path) -> None:
    path, feed = _capture(tmp_path)
    out = tmp_path / "pq"
    result = runner.invoke(app, ["iex", "decode", str(path), "-f", "parquet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(str(p.relative_to(out)) for p in out.glob("*/*"))
    assert files == sorted(
        f"kind={k}/part-0.parquet" for k in {"system_event", "short_sale_status", "quote", "trade"}
    )
    for file in out.glob("*/*.parquet"):
        table = pq.read_table(file)
        assert table.column_names[:5] == ["venue", "symbol", "ts_ns", "recv_ns", "seq"]
        assert str(table.schema.field("ts_ns").type) == "timestamp[ns, tz=UTC]"
        assert table.schema.metadata[b"fluvius.price_scale"] == b"1000000000"
    expected: dict[str, list[dict[str, object]]] = {}
    for e in feed.expected:
        expected.setdefault(e.kind, []).append(event_to_dict(e))
    assert parquet_events(out) == expected


def test_info_json_reports_counts_and_range(tmp_path: Path) -> None:
    path, _ = _capture(tmp_path)
    result = runner.invoke(app, ["iex", "info", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["messages"] == 5
    assert doc["events"] == {"quote": 2, "short_sale_status": 1, "system_event": 1, "trade": 1}
    assert (doc["symbols"], doc["symbol_list"]) == (2, ["AAPL", "MSFT"])
    assert (doc["first_ts_ns"], doc["last_ts_ns"]) == (1, 5)
    assert doc["report"]["gap_count"] == 0
    assert doc["report"]["capture"]["container"] == "pcap"


def test_info_human_output_goes_to_stdout(tmp_path: Path) -> None:
    path, _ = _capture(tmp_path)
    result = runner.invoke(app, ["iex", "info", str(path)])
    assert result.exit_code == 0, result.output
    assert "quote" in result.stdout
    assert "gaps           0" in result.stdout


def test_strict_stops_with_the_byte_offset_lenient_reports(tmp_path: Path) -> None:
    seg = segment(DEEP, 1, 1, [price_level("B", "A", 1, 1, 1, True).raw[:20]], 0)
    path = tmp_path / "bad.pcap"
    path.write_bytes(pcap([(T0, frame(seg))]))
    strict = runner.invoke(app, ["iex", "decode", str(path), "--strict"])
    assert strict.exit_code == 1, strict.output
    offset = 24 + 16 + 42 + 40 + 2  # pcap header, record header, network, IEX-TP, length
    assert f"at byte offset {offset}: Price Level Update (buy side) message" in strict.stderr
    lenient = runner.invoke(app, ["iex", "info", str(path), "--json"])
    assert lenient.exit_code == 0, lenient.output
    assert json.loads(lenient.stdout)["report"]["corrupt"] == 1


def test_not_a_capture_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    result = runner.invoke(app, ["iex", "info", str(path)])
    assert result.exit_code == 1
    assert "not a pcap or pcapng capture" in result.stderr
    missing = runner.invoke(app, ["iex", "decode", str(tmp_path / "nope.pcap")])
    assert missing.exit_code == 1
    assert "No such file" in missing.stderr
