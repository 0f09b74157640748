"""Results on stdout, progress/logs/errors on stderr: the ``fluvius`` script in a pipe.

Each command runs as a subprocess with stdout and stderr as pipes (as in
``fluvius run spec.yaml | less``), so what a user's pipe receives is what is checked.
Also: ``--help`` paragraphs are never broken mid-sentence, and ``run --compare``.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer.main
from typer.testing import CliRunner

from fluvius.cli.app import app

SCRIPT = str(Path(sys.executable).with_name("fluvius"))
SAMPLE = Path("/work/shared/data/iex/TOPS16_20170710_sample.pcap.gz")
SPEC = "sources: {x: 2.0}\nnodes:\n  y: {op: neg, inputs: [x]}\n  z: {op: add, inputs: [y, x]}\n"


def _fluvius(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPT, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
        env={"PATH": str(Path(sys.executable).parent), "COLUMNS": "80"},
    )


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    (tmp_path / "ticks.jsonl").write_text('{"x": 3.0}\n')
    return path


@pytest.mark.slow
def test_results_go_to_stdout_progress_and_logs_to_stderr(spec: Path, tmp_path: Path) -> None:
    run = _fluvius("run", spec, "--ticks", "ticks.jsonl", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "2 nodes, 1 sources" in run.stdout
    assert "-3.0" in run.stdout
    assert run.stderr == ""
    as_json = _fluvius("run", spec, "--ticks", "ticks.jsonl", "--json", cwd=tmp_path)
    assert json.loads(as_json.stdout)["values"] == {"y": -3.0, "z": 0.0}
    listed = _fluvius("workload", "list", cwd=tmp_path)
    assert "overhead" in listed.stdout
    assert listed.stderr == ""
    exported = _fluvius("workload", "export", "fanout", "--out", "f.json", cwd=tmp_path)
    assert exported.stdout == ""  # a log of what was written, not a result
    assert "wrote f.json" in exported.stderr
    drawn = _fluvius("graph", spec, "--format", "mermaid", cwd=tmp_path)
    assert drawn.stdout.startswith("flowchart LR")
    types = _fluvius("config", "list", cwd=tmp_path)
    assert "fluvius-deployment" in types.stdout
    bad = _fluvius("run", tmp_path / "missing.yaml", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert "missing.yaml" in bad.stderr


@pytest.mark.slow
def test_iex_info_goes_to_stdout(tmp_path: Path) -> None:
    info = _fluvius("iex", "info", SAMPLE, cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "quote" in info.stdout
    assert "time range" in info.stdout
    assert info.stderr == ""


def _commands() -> list[tuple[str, click.Command]]:
    root = typer.main.get_command(app)
    ctx = click.Context(root)
    found: list[tuple[str, click.Command]] = []

    def walk(cmd: click.Command, path: str) -> None:
        found.append((path, cmd))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, f"{path} {name}")

    walk(root, "fluvius")
    return found


def test_help_paragraphs_are_not_broken_mid_sentence() -> None:
    """typer keeps a single line break inside a help paragraph (after the first) and in
    an epilog, so a paragraph must be one line of source text (end lines with ``\\``)."""
    broken = []
    for path, cmd in _commands():
        for what, text in (("help", cmd.help), ("epilog", cmd.epilog)):
            paragraphs = inspect.cleandoc(text or "").split("\n\n")
            start = 1 if what == "help" else 0  # typer joins the lines of the first one
            broken += [
                f"{path} {what}: {p[:60]!r}"
                for p in paragraphs[start:]
                if "\n" in p.strip("\n") and not p.startswith("\b")
            ]
        for param in cmd.params:
            help_text = getattr(param, "help", None) or ""
            if "\n" in help_text:
                broken.append(f"{path} {param.name}: {help_text[:60]!r}")
    assert not broken, "\n".join(broken)


def test_help_wraps_whole_paragraphs_at_narrow_widths() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "60"}, terminal_width=60)
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    # with hard line breaks kept, a paragraph line ends after 1-3 words ("and `nodes` (key ->
    # op," then "inputs, params)."); rewrapped, every line but a paragraph's last is long
    start = next(i for i, line in enumerate(lines) if line.startswith("SPEC is"))
    paragraph = lines[start : lines.index("", start)]
    assert all(len(line) > 40 for line in paragraph[:-1]), paragraph


# -- run --compare ---------------------------------------------------------------------------
def test_run_compare_same_and_different(spec: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["run", str(spec), "--json"])
    assert first.exit_code == 0, first.output
    (tmp_path / "a.json").write_text(first.stdout)
    same = runner.invoke(app, ["run", str(spec), "--compare", str(tmp_path / "a.json")])
    assert same.exit_code == 0, same.output
    assert "all 2 keys equal" in same.stdout
    other = json.loads(first.stdout)
    other["values"]["z"] = 1.5
    (tmp_path / "b.json").write_text(json.dumps(other))
    differ = runner.invoke(app, ["run", str(spec), "--compare", str(tmp_path / "b.json"), "--json"])
    assert differ.exit_code == 1, differ.output
    document = json.loads(differ.stdout)
    assert document["compare"]["same"] is False
    assert document["compare"]["differing"] == 1
    assert document["compare"]["first"] == [
        {"key": "z", "value": 0.0, "other": 1.5, "in_run": True, "in_other": True}
    ]


def test_run_compare_treats_nan_as_equal(tmp_path: Path) -> None:
    """NaN is written as null; a NaN node equals the null of the other run's document."""
    spec = tmp_path / "nan.yaml"
    spec.write_text("sources: {x: .nan}\nnodes:\n  q: {op: neg, inputs: [x]}\n")
    runner = CliRunner()
    first = runner.invoke(app, ["run", str(spec), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["values"] == {"q": None}
    (tmp_path / "a.json").write_text(first.stdout)
    again = runner.invoke(app, ["run", str(spec), "--compare", str(tmp_path / "a.json")])
    assert again.exit_code == 0, again.output
    assert "all 1 keys equal" in again.stdout


def test_run_compare_bad_file(spec: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[1, 2]")
    result = CliRunner().invoke(app, ["run", str(spec), "--compare", str(tmp_path / "bad.json")])
    assert result.exit_code == 1
    assert "bad.json: expected the JSON object of `fluvius run --json`" in result.stderr
