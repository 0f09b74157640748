"""The network model: specs, links, the simulator over hosts, the report, the TCP probe."""

from __future__ import annotations

import math

import pytest

from fluvius import GraphBuilder
from fluvius.graph.dag import Graph
from fluvius.partition import Calibration, Partition
from fluvius.partition.network import (
    ROW_BYTES,
    Link,
    Network,
    measure_tcp,
    parse_network,
    shipping_bytes,
)
from fluvius.partition.report import partition_report
from fluvius.partition.simulate import simulate

CAL = Calibration(
    start_s=0.0,
    node_s=0.0,
    worker_node_s=0.0,
    event_node_s=0.0,
    driver_node_s=0.0,
    latency_s=0.2,
    pipe_latency_s=0.05,
    byte_s=0.0,
    tcp_latency_s=0.1,
    tcp_byte_s=0.0,
    cycle_s=0.4,
    cycle_node_s=0.0,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local", Network("local")),
        ("Loopback", Network("loopback", "tcp")),
        ("10gbit:50us", Network("10gbit:50us", "tcp", 50e-6, 10e9, 1)),
        ("1gbit:0.2ms:4", Network("1gbit:0.2ms:4", "tcp", 0.2e-3, 1e9, 4)),
        ("100mbit/s:1.5s:2", Network("100mbit/s:1.5s:2", "tcp", 1.5, 100e6, 2)),
        ("25kbit:800ns", Network("25kbit:800ns", "tcp", 800e-9, 25e3, 1)),
    ],
)
def test_network_specs(spec: str, expected: Network) -> None:
    assert parse_network(spec) == expected
    assert parse_network(expected) is expected


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("wifi", "expected local, loopback or BANDWIDTH:LATENCY"),
        ("10gbps:50us", "bandwidth '10gbps' is not a positive number of gbit"),
        ("0gbit:50us", "bandwidth '0gbit'"),
        ("10gbit:fast", "latency 'fast' is not a number of ns, us, ms or s"),
        ("10gbit:50us:0", "workers per host '0' is not an integer >= 1"),
        ("10gbit:50us:2:1", "expected local, loopback"),
    ],
)
def test_bad_network_specs_say_which_part_is_wrong(spec: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        parse_network(spec)


def test_bad_network_fields() -> None:
    with pytest.raises(ValueError, match="transport must be 'pipe' or 'tcp'"):
        Network("x", "udp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bandwidth_bps must be bits per second > 0"):
        Network("x", "tcp", 0.0, 0.0)
    with pytest.raises(ValueError, match="workers_per_host must be an int >= 1"):
        Network("x", "tcp", 0.0, 1e9, 0)


def test_hosts_and_links() -> None:
    net = Network("n", "tcp", 1e-3, 8e6, 2)  # 1 MB/s on the wire
    assert [net.host_of(w) for w in range(5)] == [0, 0, 1, 1, 2]
    assert (net.hosts(1), net.hosts(4), net.hosts(5)) == (1, 2, 3)
    # TCP: the raw figure plus the runtime's own work (fitted pipe - raw pipe)
    same = net.link(CAL, 1, 1)
    assert same == Link(0.1 + 0.15, 0.0)
    far = net.link(CAL, 0, 1)
    assert far == Link(0.25, 0.0, 1e-3, 1e-6)
    assert far.cpu_s(1000) == pytest.approx(0.125)
    assert far.flight_s(1000) == pytest.approx(0.125 + 1e-3 + 1e-3)
    assert Network("local").link(CAL, 0, 0) == Link(0.2, 0.0)
    assert Network("local").hosts(64) == 1


def _pair() -> tuple[Graph, Partition]:
    b = GraphBuilder()
    x = b.source("x", 1.0)
    a = b.node("a", lambda v: v, x)
    b.node("b", lambda v: v, a)
    g = b.build()
    return g, Partition(2, (0, 0, 1), "hand")


def test_a_message_between_hosts_pays_the_wire() -> None:
    g, part = _pair()
    costs = [0.0, 1.0, 1.0]
    local = simulate(g, costs, part, CAL)
    # start 0.2; a [0.2, 1.2]; send 0.1 -> 1.3, arrives 1.4; b [1.4, 2.4]; parent 2.6
    assert local.makespan_s == pytest.approx(2.6)
    net = Network("n", "tcp", 0.5, math.inf, 1)
    ship = (0, 0.0)  # nothing to ship: only latencies
    far = simulate(g, costs, part, CAL, network=net, ship_bytes=ship)
    # TCP transport 0.25 one way; worker 1 is remote (+0.5 each way and per message):
    # worker 0 starts at 0.25, a [0.25, 1.25], send 0.125 -> 1.375, arrives 1.375 + 0.125
    # + 0.5 = 2.0; b [2.0, 3.0]; the parent hears 0.25 + 0.5 later
    assert far.makespan_s == pytest.approx(3.75)


def test_start_up_waits_for_the_shipped_bytes_over_the_wire() -> None:
    g, part = _pair()
    costs = [0.0, 1.0, 1.0]
    net = Network("n", "tcp", 0.0, 8.0, 1)  # one byte a second on the wire
    sizes = [0, 0, 0]  # values of no bytes: only the shipping is slow
    a = simulate(g, costs, part, CAL, network=net, ship_bytes=(0, 0.0), sizes=sizes)
    # a [0.25, 1.25], its value arrives at 1.5, b [1.5, 2.5], the parent hears at 2.75
    assert a.makespan_s == pytest.approx(2.75)
    b = simulate(g, costs, part, CAL, network=net, ship_bytes=(1, 1.0), sizes=sizes)
    # worker 1 (remote) first waits for 1 byte of structure and its node's byte: it starts
    # at 0.25 + 2, b [2.25, 3.25]
    assert b.makespan_s == pytest.approx(3.5)
    structure, per_node = shipping_bytes(g)
    assert structure > 0
    assert per_node == ROW_BYTES  # lambdas do not pickle: the documented stand-in


def test_ticks_pay_the_wire_to_remote_workers_only() -> None:
    g, part = _pair()
    costs = [0.0, 1.0, 1.0]
    x = [g.index["x"]]
    one_host = Network("h", "tcp", 0.5, math.inf, 2)
    two_hosts = Network("h", "tcp", 0.5, math.inf, 1)
    base = simulate(g, costs, part, CAL, changed=x, network=one_host).makespan_s
    spread = simulate(g, costs, part, CAL, changed=x, network=two_hosts).makespan_s
    # the cycle's round trip (0.4, TCP: + 2 x 0.05 more), a, the message, b
    assert base == pytest.approx(0.5 + 1.0 + 0.25 + 1.0)
    # worker 1 is remote: its message from worker 0 and its reply to the parent cross
    assert spread == pytest.approx(base + 0.5 + 0.5)


def test_the_report_predicts_over_hosts() -> None:
    b = GraphBuilder()
    ends = [b.node(f"u{i}/c", lambda v: v, b.source(f"u{i}/spot", 1.0)) for i in range(8)]
    b.node("total", lambda *v: sum(v), *ends)
    g = b.build()
    costs = [0.0 if r in g.sources else 1e-3 for r in range(len(g.items))]
    cal = Calibration(latency_s=1e-4, pipe_latency_s=1e-5, tcp_latency_s=1e-4)
    here = partition_report(g, 4, "components", costs, calibration=cal)
    far = partition_report(g, 4, "components", costs, calibration=cal, network="1gbit:1ms")
    assert (here.network, here.hosts, far.network, far.hosts) == ("local", 1, "1gbit:1ms", 4)
    assert far.verdict is not None
    assert here.verdict is not None
    assert far.verdict.network == "1gbit:1ms"
    assert [r.workers for r in far.verdict.rows] == [1, 2, 4, 8, 16, 64]
    # serial does not move; with a core per worker, every worker count pays at least two
    # wire latencies more (there, each host has this machine's cores: fewer share them)
    assert far.verdict.rows[0] == here.verdict.rows[0]
    for n in (2, 4, 8, 16, 64):
        assert far.predictions["components"][n] > here.predictions["components"][n] + 2e-3
    assert "network 1gbit:1ms" in str(far)
    assert far.to_dict()["network"] == "1gbit:1ms"


@pytest.mark.slow
def test_measure_tcp_on_loopback() -> None:
    latency, per_byte = measure_tcp(30)
    assert 0 < latency < 0.5
    assert 0 <= per_byte < 1e-6
