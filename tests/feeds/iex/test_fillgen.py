"""The generated straight-line region of ``fill`` matches the layouts it was made from."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fluvius.feeds.iex._fillgen import BEGIN, HOT, generate, kernel_path, region, rewrite

if TYPE_CHECKING:
    from pathlib import Path


def test_region_is_up_to_date() -> None:
    # a stale region would write rows with another layout's offsets: regenerate with
    # `python -m fluvius.feeds.iex._fillgen` after changing a layout
    assert region(kernel_path().read_text()) == generate()


def test_every_hot_type_has_a_branch() -> None:
    text = generate()
    for fam, type_byte in HOT:
        assert f"code == {fam << 8 | type_byte:#05x}" in text


def test_rewrite_replaces_a_stale_region(tmp_path: Path) -> None:
    source = kernel_path().read_text()
    stale = source.replace(region(source), "            hot = False\n", 1)
    path = tmp_path / "k.py"
    path.write_text(stale)
    assert rewrite(path)
    assert path.read_text() == source
    assert not rewrite(path)


def test_missing_markers_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "k.py"
    path.write_text(kernel_path().read_text().replace(BEGIN, ""))
    with pytest.raises(ValueError, match="markers"):
        rewrite(path)
