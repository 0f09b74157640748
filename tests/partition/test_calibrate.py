"""Calibration figures: stored, found again, validated; measured by really spawning."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from fluvius.errors import SpecError
from fluvius.partition import Calibration, Partition, calibrate, default_calibration
from fluvius.partition.calibrate import measure_parallelism

if TYPE_CHECKING:
    from pathlib import Path

    from fluvius.graph import Graph
    from fluvius.partition import Partitioner


def test_save_then_default_finds_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUVIUS_CALIBRATION", str(tmp_path / "cal.json"))
    assert default_calibration() == Calibration()  # nothing stored yet: the defaults
    mine = Calibration(node_s=1e-6, latency_s=5e-5)
    assert mine.save() == tmp_path / "cal.json"
    assert default_calibration() == mine


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"node_s": 1e-6, "speed": 3}', "unknown calibration field 'speed'"),
        ('{"node_s": -1}', "node_s must be seconds >= 0"),
        ("[1]", "expected a JSON object"),
        ("{", "cannot read"),
    ],
)
def test_bad_files(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "cal.json"
    path.write_text(content)
    with pytest.raises(SpecError, match=needle):
        Calibration.load(path)


@pytest.mark.slow
def test_calibrate_measures_every_figure_and_uses_the_scheduler_hook() -> None:
    calls: list[tuple[int, int, str]] = []

    def fake_run(graph: Graph, workers: int, partitioner: Partitioner | None) -> float:
        name = "none"
        if partitioner is not None:
            part: Partition = partitioner(graph, workers, None)
            name = part.partitioner
            crossing = [
                (i, r)
                for r, ins in enumerate(graph.inputs)
                for i in ins
                if i not in graph.sources and part.owner[i] != part.owner[r]
            ]
            if name == "alternate":  # every node-to-node link crosses workers
                assert len(crossing) == len(graph) - 1
                return 0.2 * 10 + 0.01  # 200 links of 10 ms, plus a little node work
            if name == "pair":  # a source and a node on each of two workers: start_s
                assert workers == 2
                assert crossing == []
                assert sorted(part.owner) == [0, 0, 1, 1]
                return 5e-3 + 2 * 0.01  # on two workers the fixed start is 5 ms, not 2
            assert name == "hanging"  # a chain on worker 0 hanging from h on worker 1
            assert crossing == [(graph.index["h"], graph.index["a0"])]
            assert part.owner[graph.index["a1999"]] == 0
            return 5e-3 + 2000 * 1e-5 + 3 * 0.01  # start, 2,000 nodes of 10 us, 3 messages
        calls.append((len(graph), workers, name))
        if len(graph) == 1:  # one node: the fixed start plus two messages
            return 2e-3 + 2 * 0.01
        return 2e-3 + 2 * 0.01 + 3999 * 2e-6

    def fake_tick(graph: Graph, workers: int, partitioner: object) -> float:
        assert workers == 1
        return 3e-4 + (len(graph) - 1) * 2e-6  # a round trip, 2 us per further node

    cal = calibrate(repeats=20, run_startup=fake_run, run_tick=fake_tick, tcp=False)
    assert cal.cycle_s == pytest.approx(3e-4)
    assert cal.cycle_node_s == pytest.approx(2e-6 * 1999 / 2000)
    assert set(calls) == {(4000, 1, "none"), (1, 1, "none")}
    assert cal.worker_node_s == pytest.approx(2e-6)
    # solving t_pair = start + 2 latency, t_alt = start + 201 latency + 200 event and
    # t_hanging = start + 3 latency + 2000 event, all on two workers
    assert cal.start_s + 2 * cal.latency_s == pytest.approx(0.025)
    assert cal.start_s + cal.latency_s * 201 + 200 * cal.event_node_s == pytest.approx(2.01)
    assert cal.start_s + cal.latency_s * 3 + 2000 * cal.event_node_s == pytest.approx(0.055)
    assert cal.start_s == pytest.approx(5e-3, rel=0.05)  # the two-worker figure
    assert (cal.tcp_latency_s, cal.tcp_byte_s) == (Calibration().tcp_latency_s, 1e-9)
    plain = calibrate(repeats=20)
    assert plain.node_s > 0
    assert plain.driver_node_s > 0
    assert 0 < plain.pipe_latency_s == plain.latency_s  # no scheduler: the raw pipe
    assert plain.tcp_latency_s > 0  # measured: distributed is installed for the tests
    assert plain.tcp_byte_s != Calibration().tcp_byte_s
    assert plain.spin_iter_s > 0
    assert plain.spawn_s > 0
    assert plain.worker_node_s == plain.node_s
    assert json.loads(json.dumps(plain.to_dict())) == plain.to_dict()


@pytest.mark.slow
def test_measure_parallelism_is_a_positive_core_count() -> None:
    assert measure_parallelism(2, 0.01) > 0
