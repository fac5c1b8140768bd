"""The toy task with gaps as real downloads have them: a stream missing for some people all
study long, and a group of features missing together on some days."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensecf.data.dataset import Dataset
from sensecf.models import TrainedClassifier, train

# The query rows' gaps, by position: no sleep; no steps and hr; none; no sleep, steps nor hr.
QUERY_GAPS = (("sleep",), ("steps", "hr"), (), ("sleep", "steps", "hr"))


@dataclass
class Gapped:
    """A model trained on gapped rows, its training rows, and flagged queries with gaps."""

    model: TrainedClassifier
    train: Dataset
    queries: pd.DataFrame

    @property
    def X(self) -> np.ndarray:
        return self.queries[self.model.spec.feature_names].to_numpy(dtype=float)


def with_gaps(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """A copy with sleep missing for every fifth person and steps and hr on one day in six."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    people = out["pid"].unique()
    no_sleep = rng.choice(people, len(people) // 5, replace=False)
    out.loc[out["pid"].isin(no_sleep), "sleep"] = np.nan
    out.loc[rng.random(len(out)) < 1 / 6, ["steps", "hr"]] = np.nan
    return out


def gapped_task(toy) -> Gapped:
    """The toy data with gaps, a logistic model on it (its imputer fills what is missing), and
    four test rows with the gaps of :data:`QUERY_GAPS` that the model flags with their gaps."""
    data = Dataset(with_gaps(toy.data.frame), toy.data.spec)
    model = train(data, "logreg", seed=0, importance_repeats=1)
    train_rows, test_rows = model.split_data(data)
    names = list(data.spec.feature_names)
    complete = test_rows.frame.dropna(subset=names).reset_index(drop=True)
    rows, used = [], set()
    for gap in QUERY_GAPS:  # the first row not yet taken that the model flags with this gap
        candidates = complete.drop(index=list(used)).copy()
        candidates.loc[:, list(gap)] = np.nan
        flagged = model.predict(candidates[names]) != data.spec.desired_class
        first = candidates.index[np.flatnonzero(flagged)[0]]
        used.add(first)
        rows.append(candidates.loc[[first]])
    return Gapped(model, train_rows, pd.concat(rows, ignore_index=True))
