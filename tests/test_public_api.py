"""Snapshot of every public ``__all__``: changing the public surface is a deliberate diff."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import fluvius

EXPECTED = {
    "fluvius": [
        "CycleResult",
        "FluviusError",
        "Graph",
        "GraphBuilder",
        "GraphError",
        "NodeError",
        "NodeRef",
        "ProcessScheduler",
        "ReferenceEvaluator",
        "RunReport",
        "SerialScheduler",
        "__version__",
        "compare_values",
        "make_key",
        "run_graph",
        "run_live",
    ],
    "fluvius.graph": [
        "Graph",
        "GraphBuilder",
        "NodeRef",
        "NodeSpec",
        "Scope",
        "SourceSpec",
        "Stateful",
        "make_key",
    ],
    "fluvius.config": [
        "COLLECTORS",
        "CheckReport",
        "ComponentType",
        "ConfigValidationError",
        "Instance",
        "Registry",
        "WriteReport",
        "check_files",
        "discover_components",
        "generate_files",
        "load_config_spec",
        "resolve_instances",
        "write_files",
    ],
    "fluvius.config.collectors": ["COLLECTORS", "CollectContext", "Collected", "Collector"],
    "fluvius.engine": [
        "Comparison",
        "CycleResult",
        "ErrorPolicy",
        "Plan",
        "ReferenceEvaluator",
        "RunState",
        "ValueDiff",
        "compare_values",
    ],
    "fluvius.feeds": [
        "AuctionInformation",
        "BookLevelUpdate",
        "EVENT_TYPES",
        "Event",
        "EventBatch",
        "IEX_PRICE_FACTOR",
        "KINDS",
        "OfficialPrice",
        "OperationalHalt",
        "PRICE_SCALE",
        "Price",
        "Quote",
        "RetailLiquidityIndicator",
        "SecurityDirectory",
        "SecurityEvent",
        "ShortSaleStatus",
        "SystemEvent",
        "TimestampNs",
        "Trade",
        "TradeBreak",
        "TradingStatus",
        "arrow_schema",
        "dtype_of",
        "event_to_dict",
        "event_to_json",
        "events_from_array",
        "events_to_array",
        "to_arrow",
    ],
    "fluvius.live": ["Alert", "FeedHealth", "LiveState"],
    "fluvius.feeds.iex": [
        "ColumnarSegmentDecoder",
        "DatagramBatch",
        "DecodeReport",
        "DecodedCapture",
        "SegmentDecoder",
        "SegmentHeader",
        "SequenceTracker",
        "decode_capture",
        "iter_capture_batches",
        "iter_events",
    ],
    "fluvius.observe": ["picture", "write_chrome_trace"],
    "fluvius.observe.picture": [
        "Box",
        "Edge",
        "Picture",
        "collapse",
        "dot_text",
        "mermaid_text",
        "render_svg",
    ],
    "fluvius.partition": [
        "Calibration",
        "Partition",
        "Partitioner",
        "calibrate",
        "default_calibration",
        "dump_costs",
        "estimate_costs",
        "load_costs",
        "partition_graph",
        "partitioner_names",
        "round_robin",
    ],
    "fluvius.scheduling": [
        "LiveReport",
        "ProcessScheduler",
        "RunReport",
        "Scheduler",
        "SerialScheduler",
        "Session",
        "WorkerPool",
        "run_graph",
        "run_graph_async",
        "run_live",
    ],
    "fluvius.testing": ["GraphBench", "SchedulerSuite", "compare_values", "strategies"],
    "fluvius.workloads": [
        "HEAVY_OPTIONS",
        "WORKLOADS",
        "Workload",
        "WorkloadParam",
        "calibrate_spin",
        "export_workload",
        "fanout_spec",
        "options_spec",
        "overhead_spec",
        "tick_stream",
    ],
    "fluvius.nodes": ["Adapted", "add_stateful"],
    "fluvius.nodes.anomaly": [
        "Alert",
        "Detector",
        "EWZScore",
        "RobustZScore",
        "RollingZScore",
    ],
    "fluvius.nodes.stats": [
        "Beta",
        "Bivariate",
        "Corr",
        "Cov",
        "EWMean",
        "EWVar",
        "Max",
        "Mean",
        "Min",
        "RealizedVol",
        "RollingMax",
        "RollingMean",
        "RollingMin",
        "RollingQuantile",
        "RollingStd",
        "RollingSum",
        "RollingVar",
        "Statistic",
        "Std",
        "Sum",
        "Univariate",
        "VWAP",
        "Var",
    ],
    "fluvius.nodes.models": [
        "ConstantRate",
        "ExponentialDecayRate",
        "FitReport",
        "GDLinearRegression",
        "InverseScalingRate",
        "LeastSquares",
        "LogisticRegression",
        "Prequential",
        "PrequentialGD",
        "PrequentialLeastSquares",
        "PrequentialLogistic",
        "PrequentialRLS",
        "RecursiveLeastSquares",
        "SoftmaxRegression",
    ],
    "fluvius.nodes.monitoring": [
        "DecayAlert",
        "FallbackSwitch",
        "KSDrift",
        "KSResult",
        "PSIDrift",
        "RollingError",
        "RollingMAE",
        "RollingRMSE",
        "Served",
        "ks_2samp",
        "population_stability_index",
    ],
    "fluvius.nodes.options": [
        "IVReason",
        "IVResult",
        "SmileFit",
        "bs_delta",
        "bs_gamma",
        "bs_price",
        "bs_rho",
        "bs_theta",
        "bs_vega",
        "fit_smile",
        "fit_smiles",
        "implied_vol",
        "smile_vol",
        "solve_implied_vol",
    ],
}


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_all_is_the_snapshot(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__all__ == EXPECTED[module]


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_all_is_sorted_and_importable(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__all__ == sorted(mod.__all__)
    for name in mod.__all__:
        assert hasattr(mod, name), name


def test_every_public_package_is_in_the_snapshot() -> None:
    public = {
        info.name
        for info in pkgutil.walk_packages(fluvius.__path__, "fluvius.")
        if info.ispkg and not any(part.startswith("_") for part in info.name.split("."))
    }
    public.discard("fluvius.cli")  # the command line is its own interface (docs/reference)
    assert public - {"fluvius"} <= set(EXPECTED), sorted(public - set(EXPECTED))
