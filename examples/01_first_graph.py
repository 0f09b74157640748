"""A first graph: sources, plain, async and stateful nodes, a tick, the cutoff at work.

Run: ``python examples/01_first_graph.py`` (its output is shown in the README).
"""

from __future__ import annotations

import asyncio

from fluvius import GraphBuilder, SerialScheduler


class Count:
    """A stateful node: counts its computations."""

    def __init__(self) -> None:
        self.n = 0

    def update(self, _value: float) -> None:
        self.n += 1

    def get(self) -> int:
        return self.n


async def fetch_rate(currency: str) -> float:
    """An async node (think: a request to a rates service)."""
    await asyncio.sleep(0)
    return {"USD": 0.045, "EUR": 0.03}[currency]


def build() -> GraphBuilder:
    g = GraphBuilder()
    for und, spot in [("AAPL", 190.0), ("MSFT", 410.0)]:
        s = g.scope(und)
        px = s.source("spot", spot)
        ccy = s.source("ccy", "USD")
        rate = s.node("rate", fetch_rate, ccy)
        s.node("fwd", lambda p, r: round(p * (1 + r), 2), px, rate)
        s.node("ticks", Count(), px)
        bucket = s.node("bucket", lambda p: int(p // 10) * 10, px)  # changes rarely
        s.node("label", lambda b: f"{b}-{b + 10}", bucket)  # runs only when bucket changes
    return g


async def run() -> list[str]:
    graph = build().build()
    lines = [
        f"{len(graph)} nodes, depth {graph.depth()}; "
        f"a tick of AAPL/spot reaches {list(graph.descendants('AAPL/spot'))}"
    ]
    async with SerialScheduler().session(graph) as session:
        start = await session.start()
        lines.append(f"start-up computed {start.recomputed} nodes")
        for price in (191.0, 191.0, 201.0):
            result = await session.cycle({"AAPL/spot": price})
            v = session.values()
            lines.append(
                f"AAPL/spot={price}: recomputed {result.recomputed}, "
                f"fwd={v['AAPL/fwd']}, label={v['AAPL/label']}, ticks={v['AAPL/ticks']}"
            )
    return lines


def main() -> None:
    for line in asyncio.run(run()):
        print(line)


if __name__ == "__main__":
    main()
