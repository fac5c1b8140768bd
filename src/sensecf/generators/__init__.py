"""Counterfactual generators: one interface (fit, generate), one result table.

``base`` holds the interface every method shares; ``dice``, ``cfnow`` and ``nice`` run the
baseline packages, ``oracle`` the project's own search, ``llm`` the language-model generator,
``sparsify`` the post-step any of them may use, and ``registry`` makes them by name. The result
they return is the contract of :mod:`sensecf.results` (re-exported here).
"""

from sensecf.generators.base import (
    Candidates,
    CounterfactualGenerator,
    NotFittedError,
    select_queries,
)
from sensecf.generators.cfnow import CFNOW
from sensecf.generators.dice import DiCE
from sensecf.generators.llm import LLMGenerator
from sensecf.generators.nice import NICE
from sensecf.generators.oracle import Oracle
from sensecf.generators.sparsify import sparsify, sparsify_result
from sensecf.results import PROVENANCE_COLUMNS, SOURCES, CounterfactualResult

__all__ = [
    "CFNOW",
    "NICE",
    "PROVENANCE_COLUMNS",
    "SOURCES",
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
