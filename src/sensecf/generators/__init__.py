"""Counterfactual generators: one interface (fit, generate), one result table."""

from sensecf.generators.base import (
    Candidates,
    CounterfactualGenerator,
    CounterfactualResult,
    NotFittedError,
    select_queries,
)
from sensecf.generators.oracle import Oracle
from sensecf.generators.sparsify import sparsify, sparsify_result

__all__ = [
    "Candidates",
    "CounterfactualGenerator",
    "CounterfactualResult",
    "NotFittedError",
    "Oracle",
    "select_queries",
    "sparsify",
    "sparsify_result",
]
