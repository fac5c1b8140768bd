"""Evaluation: one vectorised metric suite for every generator, with confidence intervals."""

from sensecf.evaluation.benchmark import (
    BenchmarkConfig,
    BenchmarkResult,
    run_benchmark,
    summary_table,
)
from sensecf.evaluation.metrics import (
    CF_COLUMNS,
    CF_METRICS,
    QUERY_COLUMNS,
    SUMMARY_COLUMNS,
    MetricSuite,
    evaluate,
    minimal_l0,
)
from sensecf.evaluation.stats import grouped_mean_ci, mean_ci

__all__ = [
    "BenchmarkConfig",
    "BenchmarkResult",
    "CF_COLUMNS",
    "CF_METRICS",
    "QUERY_COLUMNS",
    "SUMMARY_COLUMNS",
    "MetricSuite",
    "evaluate",
    "grouped_mean_ci",
    "mean_ci",
    "minimal_l0",
    "run_benchmark",
    "summary_table",
]
