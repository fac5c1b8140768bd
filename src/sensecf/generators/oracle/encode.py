"""The exact encoding of a fitted classifier: which reader applies, and the check that it is exact.

The readers (:func:`~sensecf.generators.oracle.trees.read_trees`,
:func:`~sensecf.generators.oracle.linear.read_linear`) each return an :class:`Encoding` for the
estimators they know, or ``None``; :func:`encode_model` tries them in turn and verifies the
result against ``predict_proba`` on the reference rows.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from sensecf.data.spec import DatasetSpec
from sensecf.generators.oracle.encoding import (
    Link,
    UnsupportedModel,
    read_preprocessing,
    split_pipeline,
)
from sensecf.generators.oracle.linear import read_linear
from sensecf.generators.oracle.milp import ProgramBuilder
from sensecf.generators.oracle.relations import RelationProgram
from sensecf.generators.oracle.trees import read_trees
from sensecf.models.classifier import TrainedClassifier

__all__ = ["VERIFY_ATOL", "Encoding", "encode_model", "verify"]

# Probabilities of the encoding and of the model must agree this closely on reference rows.
VERIFY_ATOL = 1e-7


class Encoding(Protocol):
    """What the oracle needs of an exact encoding: its score, the link from score to
    probability, and one query's mixed-integer program."""

    @property
    def link(self) -> Link: ...

    def score(self, X: np.ndarray) -> np.ndarray: ...

    def program(
        self,
        spec: DatasetSpec,
        query: np.ndarray,
        low: np.ndarray,
        high: np.ndarray,
        scale: np.ndarray,
        bound: tuple[str, float],
        relations: RelationProgram | None = ...,
        ratio_pick: str = ...,
        ratio_levels: int = ...,
    ) -> ProgramBuilder: ...


def encode_model(model: TrainedClassifier, reference: np.ndarray) -> Encoding:
    """The exact encoding of ``model`` (a tree ensemble or a linear model), verified.

    Raises :class:`UnsupportedModel` with the reason when there is none.

    >>> import pandas as pd
    >>> from sensecf.data.dataset import Dataset
    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.models import train
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 20 + [1] * 20})
    >>> clf = train(Dataset(df, infer_spec(df, "y")), "logreg", importance_repeats=1)
    >>> type(encode_model(clf, df[["x"]].to_numpy())).__name__
    'LinearEncoding'
    """
    preprocessing = read_preprocessing(model, reference)
    _, estimator = split_pipeline(model)
    encoding: Encoding | None = read_trees(estimator, model, preprocessing)
    if encoding is None:
        encoding = read_linear(estimator, model, preprocessing)
    if encoding is None:
        raise UnsupportedModel(f"{type(estimator).__name__} has no exact encoding")
    verify(encoding, model, reference)
    return encoding


def verify(encoding: Encoding, model: TrainedClassifier, reference: np.ndarray) -> None:
    """Check that the encoding reproduces the model's probabilities on complete reference rows."""
    rows = reference[np.isfinite(reference).all(axis=1)][:2000]
    if not len(rows):
        return
    mine = encoding.link.proba(encoding.score(rows))
    theirs = model.proba_of(rows, model.positive_class)
    worst = float(np.max(np.abs(mine - theirs)))
    if worst > VERIFY_ATOL:
        raise UnsupportedModel(
            f"the encoding of {type(split_pipeline(model)[1]).__name__} differs from its "
            f"predict_proba by up to {worst:.2g} on the reference rows"
        )
