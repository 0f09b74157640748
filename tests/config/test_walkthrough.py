"""The how-to's walk-through (a component type added by adding files only) runs and holds."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
import yaml

from fluvius.config import check_files, generate_files

HOWTO = Path(__file__).resolve().parents[2] / "docs" / "how-to" / "config.md"


def test_walkthrough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLUVIUS_COMPONENTS", "")
    blocks = re.findall(r"```python\n(.*?)```", HOWTO.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1  # one complete program: steps 2 to 4
    namespace: dict[str, object] = {"__name__": "__walkthrough__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], str(HOWTO), "exec"), namespace)
    # the new type is files only: a schema and a template, no Python
    added = sorted(
        p.relative_to(tmp_path).as_posix()
        for p in (tmp_path / "components").rglob("*")
        if p.is_file()
    )
    assert added == [
        "components/price-alerts/alerts.yaml.j2",
        "components/price-alerts/component.yaml",
    ]
    generated = (tmp_path / "out" / "alerts" / "alerts.yaml").read_text()
    body = yaml.safe_load(generated)
    assert body["channel"] == "#desk-alerts"
    assert [a["symbol"] for a in body["alerts"]] == ["AAPL", "BRK.A", "MSFT"]
    assert [a["min_size"] for a in body["alerts"]] == [100, 1, 100]
    assert {a["band_pct"] for a in body["alerts"]} == {3.5}
    # what the page says it prints is what it prints (up to the elided lines)
    page = HOWTO.read_text(encoding="utf-8")
    shown = re.search(r"\(step 3\) is\n\n```text\n(.*?)```", page, re.S)
    assert shown is not None
    for line in shown.group(1).splitlines():
        if "…" not in line:
            assert line in out.getvalue().splitlines(), line
    # step 4 made symbols.csv invalid: the problem names the file, line and field
    assert (
        "symbols.csv:3 (column 'symbol'): instance 'alerts' (price-alerts): field "
        "'symbols[1].symbol'" in out.getvalue()
    )
    Path("symbols.csv").write_text("symbol,round_lot_size\nMSFT,100\nAAPL,100\nBRK.A,1\n")
    assert check_files(generate_files("config.yaml"), "out").ok
