"""A classifier's held-out scores over repeated K-fold splits, summarised with intervals that
allow for the training rows a seed's folds share.

>>> scores = pd.DataFrame({"seed": 0, "fold": range(5), "n_train": 80, "n_test": 20,
...     "macro_f1": [0.80, 0.84, 0.78, 0.86, 0.82]})
>>> cv_summary(scores)[["score", "mean", "n"]].values.tolist()
[['macro_f1', 0.82, 5]]
"""

from __future__ import annotations

import pandas as pd

from sensecf.errors import SensecfError
from sensecf.evaluation.stats import resampled_interval

__all__ = ["CV_SCORES", "cv_summary"]

# The scores :func:`sensecf.models.cross_validate` writes, in the order a table shows them.
CV_SCORES = ("auroc", "accuracy", "macro_f1", "minority_f1")


def cv_summary(scores: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per score: the mean over all (seed, fold) splits, its interval by the corrected
    resampled t (Nadeau and Bengio's variance, with the splits' own test/train ratio; cut to
    [0, 1]), and ``n`` (splits).

    ``scores`` holds one row per split, as :func:`sensecf.models.cross_validate` returns it.
    """
    missing = [c for c in ("n_train", "n_test") if c not in scores.columns]
    if missing:
        raise SensecfError(f"cv_summary needs the columns {missing}; got {list(scores.columns)}")
    ratio = float(scores["n_test"].sum() / scores["n_train"].sum())
    rows = []
    for score in (c for c in CV_SCORES if c in scores.columns):
        mean, low, high, n = resampled_interval(
            scores[score].to_numpy(dtype=float), ratio, confidence=confidence
        )
        rows.append(
            {"score": score, "mean": round(mean, 12), "ci_low": low, "ci_high": high, "n": n}
        )
    return pd.DataFrame(rows, columns=["score", "mean", "ci_low", "ci_high", "n"])
