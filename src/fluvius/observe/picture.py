"""Pictures of a graph: one box per scope, edge counts between them; DOT, Mermaid, SVG.

:func:`collapse` turns a :class:`~fluvius.graph.Graph` into plain data (boxes with node
and source counts, edges with edge counts) that any renderer can draw, one box per scope
(:func:`scope_function`: the underlying, whether keys start with it or with a kind, as in
``iv/U000/…``; the live dashboard draws the same scopes);
:func:`dot_text` and :func:`mermaid_text` format it, and :func:`render_svg` runs
Graphviz's ``dot`` on the DOT text. :meth:`Graph.to_dot <fluvius.graph.Graph.to_dot>`,
:meth:`Graph.to_mermaid <fluvius.graph.Graph.to_mermaid>` and ``fluvius graph`` are
built on the same functions.

>>> from fluvius.graph import GraphBuilder
>>> g = GraphBuilder()
>>> for und in ("AAPL", "MSFT"):
...     s = g.scope(und)
...     fwd = s.node("fwd", lambda x: x * 1.01, s.source("spot", 100.0))
>>> total = g.node("total", lambda a, b: a + b, "AAPL/fwd", "MSFT/fwd")
>>> print(mermaid_text(collapse(g.build())))
flowchart LR
  b0["AAPL<br/>1 node, 1 source"]
  b1["MSFT<br/>1 node, 1 source"]
  b2(["total"])
  b0 --> b2
  b1 --> b2
"""

from __future__ import annotations

import shutil
import subprocess

from fluvius.errors import FluviusError
from fluvius.graph._picture import FEED_KINDS as FEED_KINDS
from fluvius.graph._picture import Box as Box
from fluvius.graph._picture import Edge as Edge
from fluvius.graph._picture import Picture as Picture
from fluvius.graph._picture import collapse as collapse
from fluvius.graph._picture import dot_text as dot_text
from fluvius.graph._picture import mermaid_text as mermaid_text
from fluvius.graph._picture import scope_function as scope_function

__all__ = [
    "Box",
    "Edge",
    "FEED_KINDS",
    "Picture",
    "collapse",
    "dot_text",
    "mermaid_text",
    "render_svg",
    "scope_function",
]

DOT_TIMEOUT_S = 120.0


def render_svg(dot: str, *, dot_binary: str = "dot", timeout_s: float = DOT_TIMEOUT_S) -> str:
    """Draw DOT text as SVG with Graphviz's ``dot`` program (``dot -Tsvg``).

    Raises :class:`~fluvius.errors.FluviusError` when ``dot_binary`` is not on the PATH
    (naming what to install, and the text formats that need nothing), or when ``dot``
    fails or times out.
    """
    path = shutil.which(dot_binary)
    if path is None:
        raise FluviusError(
            f"SVG needs Graphviz's {dot_binary!r} program, which is not on the PATH; "
            "install Graphviz (e.g. `apt-get install graphviz` or `brew install graphviz`), "
            "or write DOT or Mermaid text instead (--format dot|mermaid)"
        )
    try:
        done = subprocess.run(
            [path, "-Tsvg"],
            input=dot,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise FluviusError(
            f"{path} did not finish drawing within {timeout_s:g} s; draw fewer boxes "
            "(collapse the graph, or pick a --scope)"
        ) from exc
    if done.returncode != 0:
        raise FluviusError(f"{path} -Tsvg failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout
