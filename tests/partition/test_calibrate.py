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
            # the latency chain alternates: every node-to-node link crosses workers
            assert all(
                part.owner[r] != part.owner[i]
                for r, ins in enumerate(graph.inputs)
                for i in ins
                if i not in graph.sources
            )
            name = part.partitioner
        calls.append((len(graph), workers, name))
        return 0.01 * workers  # 1 worker: 10 ms for the big chain; 2: 20 ms for the links

    cal = calibrate(repeats=20, run_startup=fake_run)
    assert {(n, w, p) for n, w, p in calls} == {(4000, 1, "none"), (200, 2, "alternate")}
    assert cal.worker_node_s == pytest.approx(0.01 / 4000)
    assert cal.latency_s == pytest.approx((0.02 - 200 * 0.01 / 4000) / 200)
    plain = calibrate(repeats=20)
    assert plain.node_s > 0
    assert plain.spin_iter_s > 0
    assert plain.spawn_s > 0
    assert plain.worker_node_s == plain.node_s
    assert json.loads(json.dumps(plain.to_dict())) == plain.to_dict()


@pytest.mark.slow
def test_measure_parallelism_is_a_positive_core_count() -> None:
    assert measure_parallelism(2, 0.01) > 0
