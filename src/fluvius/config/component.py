"""Component types: folders with a schema file and templates, discovered at run time.

A component type is a folder ``<name>/`` holding ``component.yaml`` and the Jinja2
templates its outputs name::

    name: dask-cluster                  # optional; must equal the folder name
    description: one line for `fluvius config list`
    fields: {...}                       # see fluvius.config.schema
    outputs:
      - path: dask.yaml                 # relative to the instance's output folder
        template: dask.yaml.j2
      - path: "specs/{{ u.name }}.yaml" # a path template, rendered per item
        template: graph.yaml.j2
        each: universe                  # a Jinja expression over the values: one file per item
        as: u                           # the item's name in both templates (default 'item')
    checks:                             # optional cross-field rules (fluvius.config.checks)
      - {that: "workers >= 1", field: workers, message: "need a worker"}

Discovery (:func:`discover_components`) reads the built-in folder shipped with fluvius, then
the folders named in the config spec (``components:``), then those of the environment
variable ``FLUVIUS_COMPONENTS`` (``os.pathsep``-separated), then ``--components`` options:
a later source overrides a type of the same name (CLI > environment > spec file >
built-in). A folder given may be one type folder or a folder of type folders. Each type
remembers where it came from, and which definitions it shadowed, for ``--verbose``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluvius.config._marks import load_yaml_file
from fluvius.config.checks import Check, parse_checks
from fluvius.config.schema import build_model
from fluvius.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pydantic

__all__ = [
    "BUILTIN_DIR",
    "ENV_VAR",
    "ComponentType",
    "OutputDecl",
    "Registry",
    "discover_components",
    "load_component",
]

BUILTIN_DIR = Path(__file__).parent / "components"
ENV_VAR = "FLUVIUS_COMPONENTS"
SCHEMA_FILE = "component.yaml"
_TOP_KEYS = frozenset({"name", "description", "fields", "outputs", "checks"})
_OUTPUT_KEYS = frozenset({"path", "template", "each", "as"})


@dataclass(frozen=True, slots=True)
class OutputDecl:
    """One output file (or one file per item of ``each``) of a component type."""

    path: str
    template: str
    each: str | None = None
    as_name: str = "item"


@dataclass(frozen=True, slots=True)
class ComponentType:
    """A loaded component type: its schema as a pydantic model, templates and origin."""

    name: str
    description: str
    folder: Path
    fields: dict[str, Any]
    model: type[pydantic.BaseModel]
    outputs: tuple[OutputDecl, ...]
    digest: str
    checks: tuple[Check, ...] = ()
    source: str = "built-in"
    shadows: tuple[str, ...] = field(default=())


def _folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(
        p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _outputs(raw: Any, folder: Path, where: str) -> tuple[OutputDecl, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: 'outputs' must be a non-empty list of {{path, template}}")
    outs = []
    for i, item in enumerate(raw):
        here = f"{where}: outputs[{i}]"
        if not isinstance(item, dict) or "path" not in item or "template" not in item:
            raise ConfigError(f"{here}: expected a mapping with 'path' and 'template'")
        stray = sorted(set(item) - _OUTPUT_KEYS)
        if stray:
            raise ConfigError(f"{here}: unknown key {stray[0]!r}; allowed: {sorted(_OUTPUT_KEYS)}")
        template = str(item["template"])
        if not (folder / template).is_file():
            raise ConfigError(f"{here}: template {template!r} not found in {folder}")
        outs.append(
            OutputDecl(
                path=str(item["path"]),
                template=template,
                each=None if item.get("each") is None else str(item["each"]),
                as_name=str(item.get("as", "item")),
            )
        )
    return tuple(outs)


def load_component(folder: Path, source: str = "built-in") -> ComponentType:
    """Load the component type in ``folder`` (its ``component.yaml`` and templates)."""
    schema_path = folder / SCHEMA_FILE
    where = str(schema_path)
    raw, _ = load_yaml_file(where)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with 'fields' and 'outputs'")
    stray = sorted(set(raw) - _TOP_KEYS)
    if stray:
        raise ConfigError(f"{where}: unknown key {stray[0]!r}; allowed: {sorted(_TOP_KEYS)}")
    name = str(raw.get("name", folder.name))
    if name != folder.name:
        raise ConfigError(f"{where}: name {name!r} differs from its folder name {folder.name!r}")
    fields = raw.get("fields") or {}
    return ComponentType(
        name=name,
        description=" ".join(str(raw.get("description", "")).split()),
        folder=folder,
        fields=fields,
        model=build_model(name, fields, where=where),
        outputs=_outputs(raw.get("outputs"), folder, where),
        digest=_folder_digest(folder),
        checks=parse_checks(raw.get("checks"), fields, where),
        source=source,
    )


def _type_folders(root: Path, source: str) -> list[Path]:
    if not root.is_dir():
        raise ConfigError(f"component folder {str(root)!r} (from {source}) is not a directory")
    if (root / SCHEMA_FILE).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if (p / SCHEMA_FILE).is_file())


@dataclass(slots=True)
class Registry:
    """The component types found, by name, and the folders searched (with their source)."""

    types: dict[str, ComponentType]
    searched: list[tuple[str, Path]]

    def get(self, name: str) -> ComponentType:
        """The type called ``name``, or a ConfigError listing the known ones."""
        try:
            return self.types[name]
        except KeyError:
            known = ", ".join(sorted(self.types)) or "none"
            raise ConfigError(f"unknown component type {name!r}; known: {known}") from None


def discover_components(
    *,
    cli: Sequence[str | os.PathLike[str]] = (),
    env: str | None = None,
    spec: Sequence[str | os.PathLike[str]] = (),
    builtin: bool = True,
) -> Registry:
    """Find every component type; later sources override earlier ones by name.

    ``env`` is the value of ``FLUVIUS_COMPONENTS`` (``None``: read the environment).
    """
    env_value = os.environ.get(ENV_VAR, "") if env is None else env
    roots: list[tuple[str, Path]] = [("built-in", BUILTIN_DIR)] if builtin else []
    roots += [("spec file", Path(p)) for p in spec]
    roots += [(f"${ENV_VAR}", Path(p)) for p in env_value.split(os.pathsep) if p]
    roots += [("--components", Path(p)) for p in cli]
    types: dict[str, ComponentType] = {}
    for source, root in roots:
        for folder in _type_folders(root, source):
            comp = load_component(folder, f"{source} ({folder})")
            old = types.get(comp.name)
            if old is not None:
                shadows = (*old.shadows, old.source)
                comp = dataclasses.replace(comp, shadows=shadows)
            types[comp.name] = comp
    return Registry(types=dict(sorted(types.items())), searched=roots)
