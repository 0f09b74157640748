"""``fluvius config``: generate, --check, validate, list, and where component types come from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fluvius.cli.app import app
from fluvius.config.component import BUILTIN_DIR

runner = CliRunner()


def _invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, args, env={"FLUVIUS_COMPONENTS": "", **(env or {})})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.slow
def test_generate_then_check_then_one_character_change(inputs_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = _invoke(["config", "generate", str(inputs_copy), "--out", str(out)])
    assert code == 0, err
    assert "wrote 12 file(s)" in err
    code, stdout, err = _invoke(
        ["config", "generate", str(inputs_copy), "--out", str(out), "--check"]
    )
    assert code == 0, err
    assert "up to date" in stdout
    target = out / "aws" / "workers.tf"
    target.write_text(
        target.read_text().replace(
            "max_size                  = 1", "max_size                  = 4", 1
        )
    )
    code, stdout, err = _invoke(
        ["config", "generate", str(inputs_copy), "--out", str(out), "--check"]
    )
    assert code == 1, err
    assert "--- a/aws/workers.tf\n+++ b/aws/workers.tf\n" in stdout  # the diff is the result
    assert "-  max_size                  = 4\n+  max_size                  = 1\n" in stdout
    assert "1 changed, 0 missing, 0 stale" in err
    code, stdout, _ = _invoke(
        ["config", "generate", str(inputs_copy), "--out", str(out), "--check", "--json"]
    )
    document = json.loads(stdout)
    assert code == 1
    assert (document["ok"], document["changed"]) == (False, ["aws/workers.tf"])


def test_validate_reports_file_line_and_field(inputs_copy: Path) -> None:
    csv = inputs_copy.parent / "universe.csv"
    lines = csv.read_text().splitlines()
    lines[3] = lines[3].replace(",C,", ",Call,")  # line 4 of the file
    csv.write_text("\n".join(lines) + "\n")
    code, _, err = _invoke(["config", "validate", str(inputs_copy)])
    assert code == 1
    assert (
        "universe.csv:4 (column 'right'): instance 'desk' (fluvius-deployment): "
        "field 'instruments[2].right': Input should be 'C' or 'P', got 'Call'"
    ) in err
    code, stdout, _ = _invoke(["config", "validate", str(inputs_copy), "--json"])
    assert code == 1
    assert len(json.loads(stdout)["problems"]) == 1


def test_validate_ok_json(inputs_copy: Path) -> None:
    code, stdout, err = _invoke(["config", "validate", str(inputs_copy), "--json"])
    assert code == 0, err
    assert json.loads(stdout)["instances"] == {
        "desk": "fluvius-deployment",
        "cluster": "dask-cluster",
        "aws": "aws-terraform",
    }


def test_bad_spec_is_one_line_exit_1(tmp_path: Path) -> None:
    spec = tmp_path / "c.yaml"
    spec.write_text("instances:\n  a: {type: nope}\n")
    code, _, err = _invoke(["config", "validate", str(spec)])
    assert code == 1
    assert "c.yaml:2:" in err
    assert "unknown component type 'nope'" in err
    assert "Traceback" not in err


def test_list_json_shows_types_and_what_they_need() -> None:
    code, stdout, err = _invoke(["config", "list", "--json"])
    assert code == 0, err
    types = json.loads(stdout)
    assert sorted(types) == ["aws-terraform", "dask-cluster", "fluvius-deployment"]
    required = [f["name"] for f in types["aws-terraform"]["fields"] if f["required"]]
    assert required == ["ami_id"]
    assert types["dask-cluster"]["outputs"] == ["dask.yaml", "cluster.yaml"]
    code, stdout, err = _invoke(["config", "list"])
    assert code == 0, err
    assert "list[object]" in stdout
    assert "scheduler_instance_type" in stdout  # long names wrap, never cut at 80 columns
    assert "…" not in stdout


def _user_type(folder: Path, description: str) -> Path:
    """A copy of dask-cluster with another description (to see which one wins)."""
    target = folder / "dask-cluster"
    shutil.copytree(BUILTIN_DIR / "dask-cluster", target)
    schema = target / "component.yaml"
    text = schema.read_text()
    start = text.index("description:")
    end = text.index("fields:")
    schema.write_text(text[:start] + f"description: {description}\n" + text[end:])
    return folder


@pytest.mark.slow
def test_precedence_cli_over_env_over_spec_over_builtin(tmp_path: Path) -> None:
    spec_dir = _user_type(tmp_path / "from-spec", "from the spec")
    env_dir = _user_type(tmp_path / "from-env", "from the environment")
    cli_dir = _user_type(tmp_path / "from-cli", "from the command line")
    spec = tmp_path / "c.yaml"
    spec.write_text(f"components: [{spec_dir}]\ninstances:\n  k: {{type: dask-cluster}}\n")
    env = {"FLUVIUS_COMPONENTS": str(env_dir)}

    def winner(args: list[str], environ: dict[str, str]) -> str:
        code, _, err = _invoke(["--verbose", "config", "validate", str(spec), *args], environ)
        assert code == 0, err
        line = next(ln for ln in err.splitlines() if ln.startswith("component type dask-cluster"))
        return line

    assert "spec file" in winner([], {})
    assert "$FLUVIUS_COMPONENTS" in winner([], env)
    top = winner(["--components", str(cli_dir)], env)
    assert top.startswith("component type dask-cluster: --components")
    for shadowed in ("overrides built-in", "spec file", "$FLUVIUS_COMPONENTS"):
        assert shadowed in top
    _, stdout, _ = _invoke(["config", "list", "--json", "--components", str(cli_dir)], env)
    assert json.loads(stdout)["dask-cluster"]["description"] == "from the command line"


def test_verbose_after_the_command(inputs_copy: Path) -> None:
    code, _, err = _invoke(["config", "validate", str(inputs_copy), "--verbose"])
    assert code == 0, err
    assert f"component folder {BUILTIN_DIR} (from built-in)" in err
    assert "component type aws-terraform: built-in" in err


def test_cli_names_the_components_variable_config_reads() -> None:
    from fluvius.cli import config as config_cli
    from fluvius.config.component import ENV_VAR

    assert config_cli.ENV_VAR == ENV_VAR


def test_the_cli_starts_without_the_config_package() -> None:
    import subprocess
    import sys

    code = "import sys, fluvius.cli.app; print('fluvius.config' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
