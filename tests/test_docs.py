"""The docs keep their promises: links and file names resolve, Python examples run.

Checked in README.md, every page under docs/, the ``--help`` of every command, and (``.md``
names only) the files of src/, examples/ and benchmarks/:

- every Markdown link ``[text](target)`` to a file resolves (relative to the page), and
  its ``#anchor`` names a heading of the target page;
- every file name a user might look for resolves: a ``*.md`` name anywhere in the text
  (relative to the page, the repository root or docs/), and a path under one of the
  repository's folders (``docs/…``, ``examples/…``, ``src/…``, ``tests/…``,
  ``benchmarks/…``; under ``benchmarks/results/``, which programs write, the folder);
- every fenced ``python`` block runs as a program on its own (a subprocess of this
  venv's python, in an empty temporary directory, with a timeout). Blocks are complete
  programs: output and shell commands go in ``text`` or ``console`` blocks;
- a ``python`` block followed by a ``text`` block introduced by a line that mentions its
  output ("Its output:") must print exactly that text;
- the README's first screen holds a complete program and its output.

Failures say ``file:line`` and what is wrong, one line each.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import typer.main
from typer.testing import CliRunner

from fluvius.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
SOURCES = sorted(
    p
    for folder in ("src", "examples", "benchmarks")
    for p in (ROOT / folder).rglob("*.py")
    if "__pycache__" not in p.parts
)
OUTPUT_DIRS = ("benchmarks/results/",)  # written by programs (git-ignored), not shipped
FIRST_SCREEN_LINES = 60
BLOCK_TIMEOUT_S = 120

# a fence (CommonMark): 3+ backticks whose info string has no backtick, or 3+ tildes
_FENCE = re.compile(r"^(\s{0,3})(```+(?=[^`]*$)|~~~+)\s*([\w+-]*)[^\n]*$")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_NAME = re.compile(r"(?<![\w/.-])([\w./-]*[\w-]+\.md)\b")
_REPO_PATH = re.compile(
    r"(?<![\w/.:-])((?:docs|examples|src|tests|benchmarks)/[\w./-]*[\w/])(?![\w(-])"
)


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    before: str  # the prose between the previous block (or page start) and this one

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks(page: Path) -> list[Block]:
    blocks: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    prose_start = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, start = m.group(2), m.group(3).lower(), i
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        before = "\n".join(lines[prose_start:start])
        blocks.append(Block(page, start + 1, lang, "\n".join(body) + "\n", before))
        i += 1
        prose_start = i
    return blocks


def _prose_lines(page: Path) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside fenced blocks (file names in code blocks
    are often outputs the example writes, so only prose and inline code are checked)."""
    out = []
    inside: str | None = None
    for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        m = _FENCE.match(line)
        if m and inside is None:
            inside = m.group(2)
            continue
        if inside is not None:
            if line.strip().startswith(inside):
                inside = None
            continue
        out.append((n, line))
    return out


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for _, line in _prose_lines(page):
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = _slug(m.group(1))
            n = counts.get(slug, 0)
            counts[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def _resolves_md(name: str, here: Path) -> bool:
    return any((base / name).exists() for base in (here, ROOT, ROOT / "docs"))


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")


def _file_name_problems(where: str, text: str, here: Path) -> list[str]:
    problems = []
    text = _URL.sub("", text)
    problems += [
        f"{where}: file name {name!r} does not exist in the repository"
        for name in _MD_NAME.findall(text)
        if not _resolves_md(name, here)
    ]
    for path in _REPO_PATH.findall(text):
        if path.startswith(OUTPUT_DIRS) and (ROOT / path).parent.is_dir():
            continue  # a file the benchmarks write, not one that ships
        if not (ROOT / path.rstrip("/.")).exists():
            problems.append(f"{where}: path {path!r} does not exist in the repository")
    return problems


def _link_problems(page: Path) -> list[str]:
    problems = []
    rel = page.relative_to(ROOT)
    for n, line in _prose_lines(page):
        for target in _LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            file = (page.parent / path_part).resolve() if path_part else page
            if not file.exists():
                problems.append(f"{rel}:{n}: link {target!r} names a missing file")
                continue
            if anchor and file.suffix == ".md" and anchor not in _anchors(file):
                problems.append(
                    f"{rel}:{n}: link {target!r}: no heading with anchor #{anchor} in "
                    f"{file.relative_to(ROOT)}"
                )
        problems += _file_name_problems(f"{rel}:{n}", _LINK.sub("", line), page.parent)
    return problems


# -- links and file names ------------------------------------------------------------------
@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_links_and_file_names_resolve(page: Path) -> None:
    problems = _link_problems(page)
    assert not problems, "\n".join(problems)


def _commands() -> list[tuple[str, click.Command]]:
    root = typer.main.get_command(app)
    ctx = click.Context(root)
    found: list[tuple[str, click.Command]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        found.append((" ".join(path), cmd))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, [*path, name])

    walk(root, [])
    return found


def test_help_output_names_only_files_that_exist() -> None:
    runner = CliRunner()
    problems = []
    for path, _ in _commands():
        args = [*path.split(), "--help"] if path else ["--help"]
        result = runner.invoke(app, args, env={"COLUMNS": "200"}, terminal_width=200)
        assert result.exit_code == 0, f"fluvius {path} --help: {result.output}"
        for n, line in enumerate(result.stdout.splitlines(), start=1):
            problems += _file_name_problems(f"`fluvius {path} --help` line {n}", line, ROOT)
    assert not problems, "\n".join(problems)


def test_cli_reference_covers_every_command() -> None:
    reference = (ROOT / "docs" / "reference" / "cli-and-spec.md").read_text(encoding="utf-8")
    missing = [
        f"fluvius {path}"
        for path, cmd in _commands()
        if path and " " not in path and f"fluvius {path}" not in reference
    ]
    assert not missing, f"docs/reference/cli-and-spec.md does not describe: {missing}"


def test_source_files_name_only_docs_that_exist() -> None:
    """Docstrings and comments must not send readers to files the repository lacks."""
    problems = []
    for source in SOURCES:
        for n, line in enumerate(source.read_text(encoding="utf-8").splitlines(), start=1):
            for name in _MD_NAME.findall(_URL.sub("", line)):
                if name.startswith("."):
                    continue
                if not _resolves_md(name, source.parent):
                    problems.append(
                        f"{source.relative_to(ROOT)}:{n}: names {name!r}, which is not in the "
                        "repository"
                    )
    assert not problems, "\n".join(problems)


# -- Python examples -----------------------------------------------------------------------
PY_BLOCKS = [b for page in PAGES for b in _blocks(page) if b.lang in ("python", "py")]


def _expected_output(block: Block) -> str | None:
    """The text block that shows ``block``'s output, if the page says it does."""
    blocks = _blocks(block.page)
    i = blocks.index(block)
    if i + 1 >= len(blocks):
        return None
    nxt = blocks[i + 1]
    if nxt.lang != "text":
        return None
    intro = nxt.before.strip()
    if intro.count("\n") > 2 or not re.search(r"\boutput\b", intro, re.I):
        return None
    return nxt.code


def _run_block(block: Block, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "example.py"
    script.write_text(block.code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONWARNINGS"] = "error::DeprecationWarning"
    try:
        return subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.where}: the python example did not finish in {BLOCK_TIMEOUT_S} s")


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


@pytest.mark.slow
@pytest.mark.parametrize("block", PY_BLOCKS, ids=[b.where for b in PY_BLOCKS])
def test_python_example_runs(block: Block, tmp_path: Path) -> None:
    done = _run_block(block, tmp_path)
    assert done.returncode == 0, (
        f"{block.where}: the python example fails as a program (exit {done.returncode}); "
        "make it complete, or mark output and shell commands as ```text / ```console:\n"
        + _tail(done.stderr)
    )
    expected = _expected_output(block)
    if expected is not None:
        assert done.stdout.rstrip() == expected.rstrip(), (
            f"{block.where}: the output shown after the example differs from what it "
            f"prints:\n--- shown\n{expected.rstrip()}\n--- printed\n{done.stdout.rstrip()}"
        )


# -- the README ----------------------------------------------------------------------------
def test_readme_first_screen_is_a_complete_program_with_its_output() -> None:
    readme = ROOT / "README.md"
    first = [b for b in _blocks(readme) if b.line <= FIRST_SCREEN_LINES]
    programs = [b for b in first if b.lang == "python"]
    assert programs, f"README.md: no ```python block in the first {FIRST_SCREEN_LINES} lines"
    program = programs[0]
    assert "async with" not in "\n".join(
        line for line in program.code.splitlines() if not line.startswith((" ", "\t"))
    ), f"{program.where}: a top-level `async with` does not run; use asyncio.run(main())"
    output = _expected_output(program)
    assert output is not None, f"{program.where}: show its output in a ```text block after it"
    end = next(b for b in _blocks(readme) if b.line > program.line).line + output.count("\n") + 1
    assert end <= FIRST_SCREEN_LINES + 10, f"README.md: the output ends at line {end}"


def test_readme_first_screen_has_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    first_screen = "\n".join(text[:FIRST_SCREEN_LINES])
    assert "make demo" in first_screen
    assert "make test" in first_screen


def test_docs_index_repeats_the_readme_pitch() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    pitch = readme.split("\n\n")[1].strip()
    assert pitch in index


def test_docs_index_lists_every_page() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    missing = [
        str(p.relative_to(ROOT / "docs"))
        for p in DOCS
        if p.name != "index.md" and f"({p.relative_to(ROOT / 'docs')})" not in index
    ]
    assert not missing, f"docs/index.md does not link these pages: {missing}"


# -- the checker itself ----------------------------------------------------------------------
def test_the_checker_finds_what_it_must(tmp_path: Path) -> None:
    page = ROOT / "docs" / "_checker_probe.md"
    page.write_text(
        "# Title\n\nSee [a](index.md), [b](nope.md), [c](index.md#no-such-heading),\n"
        "[d](#title), ARCHITECTURE.md and `examples/none.py`; https://x.org/WORKLOADS.md.\n"
        "\n```python\nprint('hi')\n```\n\nIts output:\n\n```text\nho\n```\n"
        "\n```python\nfetch_rate(1)\n```\n",
        encoding="utf-8",
    )
    try:
        problems = _link_problems(page)
        assert problems == [
            "docs/_checker_probe.md:3: link 'nope.md' names a missing file",
            "docs/_checker_probe.md:3: link 'index.md#no-such-heading': no heading with "
            "anchor #no-such-heading in docs/index.md",
            "docs/_checker_probe.md:4: file name 'ARCHITECTURE.md' does not exist in the "
            "repository",
            "docs/_checker_probe.md:4: path 'examples/none.py' does not exist in the repository",
        ]
        first, second = (b for b in _blocks(page) if b.lang == "python")
        assert _expected_output(first) == "ho\n"
        assert _run_block(first, tmp_path).stdout == "hi\n"
        assert _expected_output(second) is None
        failed = _run_block(second, tmp_path)
        assert failed.returncode != 0
        assert "NameError: name 'fetch_rate' is not defined" in failed.stderr
    finally:
        page.unlink()
