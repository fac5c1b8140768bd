"""The nearest-example generator: the few-shot prompt's examples, returned as they are, no LLM.

Few-shot prompts show the nearest desired-class people, moved onto what this person may change,
verified by the classifier and cut down to the changes it needs
(:class:`~sensecf.generators.llm.examples.ExampleBank`), so a copy of one is valid by
construction. This generator returns exactly those examples, nearest first:
the control that tells what the language model itself adds. Every LLM result is reported beside
it, with the share of its answers copied from the examples.

>>> NearestExample().name
'nearest-example'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from sensecf.generators.base import Candidates, CounterfactualGenerator, check_change_cap
from sensecf.generators.llm.examples import ExampleBank
from sensecf.generators.provenance import examples_json


class NearestExample(CounterfactualGenerator):
    """The verified, projected desired-class people a few-shot prompt would show, nearest first.

    Its examples are chosen as the LLM generator chooses them: with ``max_changes`` (the LLM
    generator's default, 3) the examples that change at most that many features come first,
    as a few-shot prompt shows them. Rows carry
    ``source="search"``; the queries table records the rows returned (``examples_shown``), so
    the metric suite's copy shares read 1 for it.
    """

    name = "nearest-example"
    searches_margin = False  # its examples were verified once, at fit, by the decision rule
    query_info_columns: ClassVar[tuple[str, ...]] = ("examples_shown",)

    def __init__(self, max_changes: int | None = 3) -> None:
        self.max_changes = max_changes

    def _validate_params(self) -> None:
        check_change_cap(self.max_changes)

    def _fit(self) -> None:
        self.examples_ = ExampleBank.from_reference(self.model_, self.reference_)

    def _propose_batch(
        self,
        X: np.ndarray,
        n_cfs: int,
        desired: int,
        rng: np.random.Generator,
        progress: bool = False,
    ) -> Sequence[Candidates]:
        if len(X) == 0:
            return []
        found = self.examples_.nearest(X, desired, n_cfs, max_changes=self.max_changes)
        return [
            Candidates(rows, query_info={"examples_shown": examples_json(rows)}) for rows in found
        ]
