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

__all__ = ["VERIFY_ATOL", "Encoding", "encode_model", "verify", "with_gaps"]

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
    """Check that the encoding reproduces the model's probabilities on the reference rows.

    The rows: complete reference rows, reference rows with gaps, and complete rows with values
    taken out (one feature at a time, and every third feature), so that the way a missing
    value goes is checked for every feature, also one that was never missing in training.
    Rows with gaps are left out only for a model that refuses them altogether.
    """
    reference = np.asarray(reference, dtype=float)
    complete = np.isfinite(reference).all(axis=1)
    _check(encoding, model, reference[complete][:2000], "the reference rows")
    gappy = np.vstack([reference[~complete][:1000], with_gaps(reference[complete][:300])])
    if len(gappy):
        try:
            theirs = model.proba_of(gappy, model.positive_class)
        except ValueError:  # the model takes no missing value at all: nothing to encode
            return
        _check(encoding, model, gappy, "reference rows with missing values", theirs)


def with_gaps(rows: np.ndarray) -> np.ndarray:
    """Each row twice: once without feature ``i mod d``, once without every third feature
    (starting at ``i mod 3``).

    >>> with_gaps(np.arange(6.0).reshape(2, 3)).tolist()
    [[nan, 1.0, 2.0], [3.0, nan, 5.0], [nan, 1.0, 2.0], [3.0, nan, 5.0]]
    """
    n, d = rows.shape
    if not n or not d:
        return rows.reshape(0, d)
    i = np.arange(n)[:, None]
    j = np.arange(d)[None, :]
    one = np.where(j == i % d, np.nan, rows)
    thirds = np.where((j - i) % 3 == 0, np.nan, rows)
    return np.vstack([one, thirds])


def _check(
    encoding: Encoding,
    model: TrainedClassifier,
    rows: np.ndarray,
    what: str,
    theirs: np.ndarray | None = None,
) -> None:
    if not len(rows):
        return
    mine = encoding.link.proba(encoding.score(rows))
    if theirs is None:
        theirs = model.proba_of(rows, model.positive_class)
    worst = float(np.max(np.abs(mine - theirs)))
    if not worst <= VERIFY_ATOL:  # NaN fails too
        raise UnsupportedModel(
            f"the encoding of {type(split_pipeline(model)[1]).__name__} differs from its "
            f"predict_proba by up to {worst:.2g} on {what}"
        )
