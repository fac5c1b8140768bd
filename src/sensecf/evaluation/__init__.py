"""Evaluation: one vectorised metric suite for every generator, with confidence intervals, and
the catalog that defines each measure once (:mod:`~sensecf.evaluation.catalog`)."""

from sensecf.evaluation.benchmark import (
    BenchmarkConfig,
    BenchmarkResult,
    run_benchmark,
    summary_table,
)
from sensecf.evaluation.catalog import CATALOG, Catalog, Measure, get_measure
from sensecf.evaluation.metrics import (
    CF_COLUMNS,
    CF_METRICS,
    QUERY_COLUMNS,
    SUMMARY_COLUMNS,
    MetricSuite,
    evaluate,
    minimal_l0,
)
from sensecf.evaluation.stats import (
    MIN_CLUSTERS,
    PairedDifference,
    bootstrap_mean,
    grouped_intervals,
    holm,
    paired_difference,
    runs_needed,
    share_interval,
)

__all__ = [
    "CATALOG",
    "BenchmarkConfig",
    "BenchmarkResult",
    "CF_COLUMNS",
    "CF_METRICS",
    "MIN_CLUSTERS",
    "QUERY_COLUMNS",
    "SUMMARY_COLUMNS",
    "Catalog",
    "Measure",
    "MetricSuite",
    "PairedDifference",
    "bootstrap_mean",
    "evaluate",
    "get_measure",
    "grouped_intervals",
    "holm",
    "minimal_l0",
    "paired_difference",
    "runs_needed",
    "share_interval",
    "run_benchmark",
    "summary_table",
]
