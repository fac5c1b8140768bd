"""Counterfactual generators: one interface (fit, generate), one result table."""

from sensecf.generators.base import (
    Candidates,
    CounterfactualGenerator,
    CounterfactualResult,
    NotFittedError,
    select_queries,
)

__all__ = [
    "Candidates",
    "CounterfactualGenerator",
    "CounterfactualResult",
    "NotFittedError",
    "select_queries",
]
