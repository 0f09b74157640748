"""Line counts of the IEX decoder's modules (issue 14: "one core", 3.2k → 1.3k lines).

Usage::

    python benchmarks/iex_lines.py [--rev REV]

Per module: raw lines (``wc -l``), code lines (not blank, not a ``#`` comment line;
docstrings count as code) and logic lines (code lines outside docstrings). ``--rev``
counts a git revision's files instead of the work tree (a module missing there counts 0).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = (
    "feeds/iex/reference.py",
    "feeds/iex/datagram.py",
    "feeds/iex/batch.py",
    "feeds/iex/_survey.py",
    "feeds/iex/_layout.py",
    "feeds/_kernel_src.py",
    "feeds/_kernels.py",
    "feeds/_aot.py",
)
CONTAINERS = ("feeds/_capture.py", "feeds/net.py")


def text(module: str, rev: str | None) -> str | None:
    """The module's source in the work tree or at ``rev`` (None: no such file)."""
    path = f"src/fluvius/{module}"
    if rev is None:
        p = ROOT / path
        return p.read_text() if p.exists() else None
    done = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout if done.returncode == 0 else None


def counts(source: str | None) -> tuple[int, int, int]:
    """(raw lines, code lines, logic lines) of a source text."""
    if source is None:
        return 0, 0, 0
    lines = source.splitlines()
    doc: set[int] = set()  # the line numbers of module, class and function docstrings
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            first = body[0]
            if isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                doc.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    code = [i for i, s in enumerate((line.strip() for line in lines), 1) if s and s[0] != "#"]
    return len(lines), len(code), len([i for i in code if i not in doc])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", help="a git revision (default: the work tree)")
    args = parser.parse_args()
    total = [0, 0, 0]
    print(f"{'module':32} {'wc -l':>6} {'code':>6} {'logic':>6}")
    for group, modules in (("core", CORE), ("with containers", CONTAINERS)):
        for module in modules:
            found = counts(text(module, args.rev))
            total = [t + f for t, f in zip(total, found, strict=True)]
            print(f"{module:32} {found[0]:6d} {found[1]:6d} {found[2]:6d}")
        print(f"{'= ' + group:32} {total[0]:6d} {total[1]:6d} {total[2]:6d}")


if __name__ == "__main__":
    main()
