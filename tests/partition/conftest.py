"""Graphs shared by the partition tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fluvius import GraphBuilder
from fluvius.graph import Graph

Chains = Callable[..., Graph]


def _chains(count: int, length: int, *, total: bool = True) -> Graph:
    """``count`` independent chains ``c<i>/<j>`` off their own sources, joined by ``total``."""
    b = GraphBuilder()
    ends = []
    for i in range(count):
        prev = b.source(f"c{i}/src", float(i))
        for j in range(length):
            prev = b.node(f"c{i}/{j}", lambda v: v + 1.0, prev)
        ends.append(prev)
    if total:
        b.node("total", lambda *v: sum(v), *ends)
    return b.build()


@pytest.fixture
def chains() -> Chains:
    """The :func:`_chains` graph maker."""
    return _chains
