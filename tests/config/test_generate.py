"""Generation is deterministic; writing touches only what changed; checking finds any byte."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fluvius import __version__
from fluvius.config import check_files, generate_files, write_files
from fluvius.config.render import MARKER

INPUTS = Path(__file__).parent / "golden" / "inputs"

_DIGEST_SCRIPT = """
import hashlib, json, sys
from fluvius.config import generate_files
files = generate_files(sys.argv[1], environ={})
print(json.dumps({k: hashlib.sha256(v.encode()).hexdigest() for k, v in files.items()}))
"""


def test_generating_twice_gives_identical_bytes(golden_files: dict[str, str]) -> None:
    again = generate_files(INPUTS / "config.yaml", environ={})
    assert again == golden_files
    assert list(again) == sorted(again)


@pytest.mark.slow
def test_identical_across_processes_and_hash_seeds(golden_files: dict[str, str]) -> None:
    import hashlib

    digests = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _DIGEST_SCRIPT, str(INPUTS / "config.yaml")],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        )
        digests.append(json.loads(out.stdout))
    assert digests[0] == digests[1]
    assert digests[0] == {
        k: hashlib.sha256(v.encode()).hexdigest() for k, v in golden_files.items()
    }


def test_every_file_has_the_header_and_normalised_text(golden_files: dict[str, str]) -> None:
    for rel, text in golden_files.items():
        head = text.splitlines()[:3]
        assert MARKER in head[0], rel
        assert __version__ in head[0], rel
        assert re.fullmatch(r"# inputs sha256: [0-9a-f]{64}", head[2]), rel
        assert text.endswith("\n"), rel
        assert not text.endswith("\n\n"), rel
        assert all(line == line.rstrip() for line in text.splitlines()), rel
        assert "\n\n\n" not in text, rel
        assert "\r" not in text, rel


def test_the_hash_follows_the_inputs(inputs_copy: Path, golden_files: dict[str, str]) -> None:
    csv = inputs_copy.parent / "universe.csv"
    csv.write_text(csv.read_text().replace("42.15", "42.16"), encoding="utf-8")
    changed = generate_files(inputs_copy, environ={})
    hashes = {rel: text.splitlines()[2] for rel, text in changed.items()}
    before = {rel: text.splitlines()[2] for rel, text in golden_files.items()}
    differ = sorted(rel for rel in hashes if hashes[rel] != before[rel])
    assert differ == sorted(rel for rel in hashes if rel.startswith("desk/"))


def test_write_then_check(tmp_path: Path, golden_files: dict[str, str]) -> None:
    out = tmp_path / "out"
    first = write_files(golden_files, out)
    assert first.written == list(golden_files)
    second = write_files(golden_files, out)
    assert second.written == []
    assert second.unchanged == list(golden_files)
    assert check_files(golden_files, out).ok
    for rel, text in golden_files.items():
        assert (out / rel).read_bytes() == text.encode()


@pytest.mark.parametrize("rel", ["desk/specs/AAPL.yaml", "aws/network.tf", "cluster/dask.yaml"])
def test_check_catches_a_one_character_change(
    tmp_path: Path, golden_files: dict[str, str], rel: str
) -> None:
    write_files(golden_files, tmp_path)
    target = tmp_path / rel
    text = target.read_text(encoding="utf-8")
    middle = len(text) // 2
    flipped = "1" if text[middle] != "1" else "2"
    target.write_text(text[:middle] + flipped + text[middle + 1 :], encoding="utf-8")
    report = check_files(golden_files, tmp_path)
    assert not report.ok
    assert (report.changed, report.missing, report.stale) == ([rel], [], [])
    assert f"--- a/{rel}\n+++ b/{rel}\n" in report.diff
    removed = [
        ln for ln in report.diff.splitlines() if ln.startswith("-") and not ln.startswith("---")
    ]
    added = [
        ln for ln in report.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")
    ]
    assert len(removed) == len(added) == 1


def test_missing_and_stale_files(tmp_path: Path, golden_files: dict[str, str]) -> None:
    write_files(golden_files, tmp_path)
    (tmp_path / "desk/specs/SPY.yaml").unlink()
    stale = tmp_path / "desk/specs/OLD.yaml"
    stale.write_text(golden_files["desk/specs/MSFT.yaml"], encoding="utf-8")
    mine = tmp_path / "desk/README.md"
    mine.write_text("hand-written, no marker\n", encoding="utf-8")
    report = check_files(golden_files, tmp_path)
    assert (report.missing, report.stale) == (["desk/specs/SPY.yaml"], ["desk/specs/OLD.yaml"])
    done = write_files(golden_files, tmp_path)
    assert done.written == ["desk/specs/SPY.yaml"]
    assert done.removed == ["desk/specs/OLD.yaml"]
    assert mine.read_text() == "hand-written, no marker\n"
    assert check_files(golden_files, tmp_path).ok


def test_progress_is_reported_per_instance() -> None:
    from fluvius.config import load_config_spec
    from fluvius.config.generate import render_spec

    seen: list[tuple[str, int, int]] = []
    spec = load_config_spec(INPUTS / "config.yaml", env_components="")
    files = render_spec(spec, environ={}, progress=lambda *a: seen.append(a))
    assert seen == [("desk", 1, 3), ("cluster", 2, 3), ("aws", 3, 3)]
    assert files == generate_files(INPUTS / "config.yaml", environ={})


def test_libyaml_and_pure_python_emitters_give_the_same_bytes(
    golden_files: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`to_yaml` uses libyaml's emitter when PyYAML has it; the bytes must not depend on it."""
    import yaml

    from fluvius.config import render

    monkeypatch.setattr(render, "_SafeDumper", yaml.SafeDumper)
    assert generate_files(INPUTS / "config.yaml", environ={}) == golden_files
