"""Fixtures of the config tests: the golden universe's inputs and its generated files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fluvius.config import generate_files

GOLDEN = Path(__file__).parent / "golden"
INPUTS = GOLDEN / "inputs"


@pytest.fixture(scope="session")
def golden_files() -> dict[str, str]:
    """The files the golden inputs generate (relative path -> text), with an empty env."""
    return generate_files(INPUTS / "config.yaml", environ={})


@pytest.fixture
def inputs_copy(tmp_path: Path) -> Path:
    """A writable copy of the golden inputs folder; returns its config.yaml."""
    target = tmp_path / "inputs"
    shutil.copytree(INPUTS, target)
    return target / "config.yaml"


@pytest.fixture
def case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Path]:
    """Write files (name -> text) under a temp folder, made the working directory (so
    messages show short relative names); returns that folder."""
    monkeypatch.chdir(tmp_path)

    def write(files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return tmp_path

    return write
