"""Generate, write and check a configuration: the library behind ``fluvius config``.

:func:`generate_files` turns a config spec into ``{relative path: text}``, sorted by path.
:func:`write_files` writes them under an output folder, touching only files whose bytes
change, and removes files that an earlier run generated (they carry the header marker) but
that the spec no longer produces; files without the marker are never touched.
:func:`check_files` compares without writing: changed, missing and stale files, and a
unified diff of each, for the CI of a configuration repository.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fluvius.config.render import MARKER, render_instance
from fluvius.config.spec import load_config_spec, resolve_instances

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from fluvius.config.spec import ConfigSpec

__all__ = [
    "CheckReport",
    "WriteReport",
    "check_files",
    "generate_files",
    "render_spec",
    "write_files",
]


def render_spec(
    spec: ConfigSpec,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, str]:
    """Render every instance of a loaded spec: ``{relative path: text}`` sorted by path.

    ``progress(instance, done, total)`` is called after each instance is rendered.
    """
    files: dict[str, str] = {}
    instances = resolve_instances(spec, environ=environ)
    for done, instance in enumerate(instances, 1):
        render_instance(instance, files)
        if progress is not None:
            progress(instance.name, done, len(instances))
    return dict(sorted(files.items()))


def generate_files(
    spec_path: str | os.PathLike[str],
    *,
    components: Sequence[str | os.PathLike[str]] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Load ``spec_path``, collect, validate and render: ``{relative path: text}``."""
    env_components = None if environ is None else environ.get("FLUVIUS_COMPONENTS", "")
    spec = load_config_spec(spec_path, components=components, env_components=env_components)
    return render_spec(spec, environ=environ)


def _generated_on_disk(out: Path) -> list[str]:
    """Files under ``out`` that carry the generator's marker in their first lines."""
    found: list[str] = []
    if not out.is_dir():
        return found
    for path in sorted(out.rglob("*")):
        if not path.is_file() or ".git" in path.parts:
            continue
        try:
            with path.open(encoding="utf-8") as fh:
                head = "".join(fh.readline() for _ in range(3))
        except (OSError, UnicodeDecodeError):
            continue
        if MARKER in head:
            found.append(path.relative_to(out).as_posix())
    return found


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What :func:`write_files` did, by relative path."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def write_files(files: Mapping[str, str], out: str | os.PathLike[str]) -> WriteReport:
    """Write ``files`` under ``out`` (atomically each), removing stale generated files."""
    root = Path(out)
    report = WriteReport()
    for rel, text in files.items():
        target = root / rel
        data = text.encode("utf-8")
        if target.is_file() and target.read_bytes() == data:
            report.unchanged.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        report.written.append(rel)
    for rel in _generated_on_disk(root):
        if rel not in files:
            (root / rel).unlink()
            report.removed.append(rel)
    return report


@dataclass(frozen=True, slots=True)
class CheckReport:
    """How an output folder differs from what the spec generates."""

    changed: list[str]
    missing: list[str]
    stale: list[str]
    diff: str

    @property
    def ok(self) -> bool:
        """True when the folder holds exactly the generated files, byte for byte."""
        return not (self.changed or self.missing or self.stale)


def check_files(files: Mapping[str, str], out: str | os.PathLike[str]) -> CheckReport:
    """Compare ``files`` with the folder ``out`` without writing anything."""
    root = Path(out)
    changed, missing, chunks = [], [], []
    for rel, text in files.items():
        target = root / rel
        if not target.is_file():
            missing.append(rel)
            chunks.append(_diff("", text, rel))
            continue
        try:
            current = target.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            current = "<not UTF-8 text>\n"
        if current != text:
            changed.append(rel)
            chunks.append(_diff(current, text, rel))
    stale = [rel for rel in _generated_on_disk(root) if rel not in files]
    chunks += [_diff((root / rel).read_text(encoding="utf-8"), "", rel) for rel in stale]
    return CheckReport(changed, missing, stale, "".join(chunks))


def _diff(old: str, new: str, rel: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{rel}" if old else "/dev/null",
        tofile=f"b/{rel}" if new else "/dev/null",
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
