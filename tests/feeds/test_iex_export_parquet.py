"""``write_parquet``: one file per kind, equal to the reference decoder, at any chunking."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from capture_builder import parquet_events

from fluvius.errors import DecodeError
from fluvius.feeds.events import event_to_dict
from fluvius.feeds.iex.export import parquet_options, write_parquet
from fluvius.feeds.iex.reference import iter_events
from fluvius.feeds.iex.synthetic import synthetic_deep, synthetic_tops


def _reference(path: Path) -> dict[str, list[dict[str, object]]]:
    by_kind: dict[str, list[dict[str, object]]] = {}
    for event in iter_events(path):
        by_kind.setdefault(event.kind, []).append(event_to_dict(event))
    return by_kind


@pytest.mark.slow
@pytest.mark.parametrize("make", [synthetic_tops, synthetic_deep])
@pytest.mark.parametrize(
    ("chunk_bytes", "row_group_bytes"), [(1 << 20, 4 << 20), (4096, 2048), (65536, 1)]
)
def test_files_equal_the_reference_decoder_at_any_chunking(
    tmp_path: Path, make: object, chunk_bytes: int, row_group_bytes: int
) -> None:
    capture = make(3000, seed=7).write(tmp_path / "cap.pcap")  # type: ignore[operator]
    expected = _reference(capture)
    report, files = write_parquet(
        capture, tmp_path / "out", chunk_bytes=chunk_bytes, row_group_bytes=row_group_bytes
    )
    assert report.total_events == sum(len(v) for v in expected.values())
    assert sorted(f.parent.name for f in files) == sorted(f"kind={k}" for k in expected)
    assert parquet_events(tmp_path / "out") == expected
    quote_groups = pq.ParquetFile(files[0]).metadata.num_row_groups
    if row_group_bytes <= 2048:  # small groups: many row groups, still in file order
        assert quote_groups > 1


def test_the_writer_options_are_in_the_files(tmp_path: Path) -> None:
    capture = synthetic_tops(500, seed=1).write(tmp_path / "cap.pcap")
    _, files = write_parquet(capture, tmp_path / "out", compression="zstd")
    quote = next(f for f in files if f.parent.name == "kind=quote")
    column = pq.ParquetFile(quote).metadata.row_group(0).column
    names = pq.ParquetFile(quote).schema_arrow.names
    encodings = {names[i]: column(i).encodings for i in range(len(names))}
    assert "DELTA_BINARY_PACKED" in encodings["ts_ns"]
    assert "RLE_DICTIONARY" in encodings["symbol"]
    assert "BYTE_STREAM_SPLIT" in encodings["bid_px"]
    assert "BYTE_STREAM_SPLIT" in encodings["ask_sz"]
    assert column(names.index("bid_px")).compression == "ZSTD"
    assert parquet_options("quote")["use_dictionary"] == ["venue", "symbol"]


def test_a_strict_decode_error_stops_the_threads_and_propagates(tmp_path: Path) -> None:
    capture = synthetic_tops(2000, seed=3).write(tmp_path / "cap.pcap")
    data = bytearray(capture.read_bytes())
    data[len(data) // 2 :] = b"\xff" * (len(data) - len(data) // 2)  # garbage records
    capture.write_bytes(bytes(data))
    with pytest.raises(DecodeError):
        write_parquet(capture, tmp_path / "out", strict=True, chunk_bytes=4096)


@pytest.mark.slow
def test_the_fluvius_script_ends_fast_with_its_files_complete(tmp_path: Path) -> None:
    """The console script skips finalisation after ``iex decode``: nothing may be lost."""
    import subprocess
    import sys

    capture = synthetic_tops(4000, seed=5).write(tmp_path / "cap.pcap")
    script = Path(sys.executable).with_name("fluvius")
    out = tmp_path / "out"
    run = subprocess.run(
        [str(script), "iex", "decode", str(capture), "-f", "parquet", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip().endswith(f"Parquet files in {out}/")
    expected = _reference(capture)
    assert parquet_events(out) == expected
    jsonl = subprocess.run(
        [str(script), "iex", "decode", str(capture)], capture_output=True, text=True, check=False
    )
    assert jsonl.returncode == 0
    assert len(jsonl.stdout.splitlines()) == sum(len(v) for v in expected.values())
    missing = subprocess.run(
        [str(script), "iex", "decode", str(tmp_path / "absent.pcap")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1
    assert "No such file" in missing.stderr


def test_the_direct_writer_makes_the_files_pyarrow_parquet_would(tmp_path: Path) -> None:
    """``_parquet_writer`` skips ``pyarrow.parquet``; its files must not differ in substance."""
    import numpy as np
    import pyarrow as pa

    from fluvius.feeds.events import arrow_schema, dtype_of, to_arrow
    from fluvius.feeds.iex.export import _parquet_writer

    rows = np.zeros(1000, dtype_of("quote"))
    rows["symbol"] = np.array([b"AAPL", b"MSFT"], "S8")[np.arange(1000) % 2]
    rows["ts_ns"] = np.arange(1000) * 1_000
    table = pa.Table.from_batches([to_arrow("quote", rows)])
    options = parquet_options("quote", "zstd")
    ours = _parquet_writer(tmp_path / "ours.parquet", arrow_schema("quote"), options)
    ours.write_table(table)
    ours.close()
    with pq.ParquetWriter(tmp_path / "public.parquet", arrow_schema("quote"), **options) as w:
        w.write_table(table)
    a, b = pq.ParquetFile(tmp_path / "ours.parquet"), pq.ParquetFile(tmp_path / "public.parquet")
    assert a.schema_arrow == b.schema_arrow
    assert a.metadata.format_version == b.metadata.format_version
    ga, gb = a.metadata.row_group(0), b.metadata.row_group(0)
    for i in range(ga.num_columns):
        ca, cb = ga.column(i), gb.column(i)
        assert (ca.encodings, ca.compression) == (cb.encodings, cb.compression)
    assert a.read().equals(b.read())


def test_kinds_and_symbols_filters(tmp_path: Path) -> None:
    capture = synthetic_tops(3000, n_symbols=50, seed=4).write(tmp_path / "cap.pcap")
    expected = _reference(capture)
    symbols = sorted({e["symbol"] for e in expected["trade"]})[:3]
    write_parquet(
        capture, tmp_path / "out", kinds=["trade", "quote"], symbols=symbols, chunk_bytes=8192
    )
    got = parquet_events(tmp_path / "out")
    assert sorted(got) == ["quote", "trade"]
    for kind in got:
        assert got[kind] == [e for e in expected[kind] if e["symbol"] in symbols]
    assert got["trade"]
    with pytest.raises(ValueError, match=r"unknown event kind.*quotes"):
        write_parquet(capture, tmp_path / "bad", kinds=["quotes"])


def test_the_dataset_reads_in_pyarrow_and_duckdb(tmp_path: Path) -> None:
    import duckdb  # a dev dependency
    import pyarrow as pa
    import pyarrow.dataset as ds

    capture = synthetic_deep(2000, n_symbols=30, seed=2).write(tmp_path / "cap.pcap")
    expected = _reference(capture)
    out = tmp_path / "out"
    write_parquet(capture, out)
    # pyarrow: the whole dataset, kind from the partition, filtered on it
    plu = ds.dataset(out / "kind=book_level_update", format="parquet")
    schema = plu.schema
    assert schema.field("ts_ns").type == pa.timestamp("ns", tz="UTC")
    assert schema.metadata[b"fluvius.price_fields"] == b"px"
    whole = ds.dataset(out, format="parquet", partitioning="hive", schema=schema.append(
        pa.field("kind", pa.string())))  # fmt: skip
    table = whole.to_table(filter=ds.field("kind") == "book_level_update")
    assert table.num_rows == len(expected["book_level_update"])
    # DuckDB: every kind at once (union by name), the kind from the hive partition
    con = duckdb.connect()
    counts = dict(
        con.execute(
            f"select kind, count(*) from read_parquet('{out}/*/*.parquet', "
            "hive_partitioning=true, union_by_name=true) group by kind"
        ).fetchall()
    )
    assert counts == {kind: len(rows) for kind, rows in expected.items()}
    first = expected["book_level_update"][0]
    row = con.execute(
        f"select epoch_ns(ts_ns), px, typeof(ts_ns) from read_parquet("
        f"'{out}/kind=book_level_update/*.parquet') order by seq limit 1"
    ).fetchone()
    assert row == (first["ts_ns"], first["px"], "TIMESTAMPTZ_NS")  # exact ns
    # every price and size (BYTE_STREAM_SPLIT columns) as written, in file order
    columns = con.execute(
        f"select px, sz from read_parquet('{out}/kind=book_level_update/*.parquet') order by seq"
    ).fetchall()
    assert columns == [(e["px"], e["sz"]) for e in expected["book_level_update"]]
