"""Counterfactual generators: one interface (fit, generate), one result table."""

from sensecf.generators.base import (
    Candidates,
    CounterfactualGenerator,
    CounterfactualResult,
    NotFittedError,
    select_queries,
)
from sensecf.generators.cfnow import CFNOW
from sensecf.generators.dice import DiCE
from sensecf.generators.llm import LLMGenerator
from sensecf.generators.nice import NICE
from sensecf.generators.oracle import Oracle
from sensecf.generators.sparsify import sparsify, sparsify_result

__all__ = [
    "CFNOW",
    "NICE",
    "Candidates",
    "CounterfactualGenerator",
    "CounterfactualResult",
    "DiCE",
    "LLMGenerator",
    "NotFittedError",
    "Oracle",
    "select_queries",
    "sparsify",
    "sparsify_result",
]
