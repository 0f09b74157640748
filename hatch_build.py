"""Build hook: the IEX decoder's kernels compiled at install, so no command compiles them.

``pip install .`` builds a wheel; this hook (``[tool.hatch.build.targets.wheel.hooks.custom]``
in pyproject.toml) compiles the kernels of ``fluvius.feeds._kernel_src`` ahead of time
(``numba.pycc``, see ``fluvius.feeds._kernels``) and puts the extension module in the wheel next
to ``_kernels.py``; an editable install (``pip install -e .``) gets it in the source tree. Without
numba or a C compiler the install still succeeds: the first command then starts the same
build in the background (``fluvius.feeds._kernels.build_in_background``).
``FLUVIUS_AOT_BUILD=0`` skips it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class KernelsBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Compiles the decoder kernels into the wheel."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or os.environ.get("FLUVIUS_AOT_BUILD") == "0":
            return
        src = Path(self.root) / "src"
        sys.path.insert(0, str(src))
        out = Path(tempfile.mkdtemp(prefix="fluvius-kernels-"))
        try:
            from fluvius.feeds import _kernels

            built = _kernels.build(directory=out)
        except Exception as exc:  # no numba, no C compiler: the install goes on without
            self.app.display_warning(
                f"fluvius: decoder kernels not compiled at install ({exc!r}); the first "
                "command builds them in the background"
            )
            return
        finally:
            sys.path.remove(str(src))
        if version == "editable":  # next to the sources (.gitignore keeps it out of git)
            shutil.copy2(built, src / "fluvius" / "feeds" / built.name)
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        build_data["force_include"][str(built)] = f"fluvius/feeds/{built.name}"
