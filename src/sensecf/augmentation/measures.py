"""What each arm reaches on the untouched test split, and how much of the lost F1 it recovers.

F1 recovery = (F1_arm − F1_scarce) / (F1_full − F1_scarce): 0 is no better than the scarce set,
1 is all the way back to the full training set. It is undefined (NaN) when scarcity cost
nothing (|F1_full − F1_scarce| below :data:`MIN_LOSS`), since a tiny denominator would turn
noise into huge ratios. The absolute gain F1_arm − F1_scarce is reported beside it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sensecf.data.dataset import Dataset
from sensecf.evaluation.catalog import CATALOG
from sensecf.evaluation.stats import grouped_intervals
from sensecf.models import TrainedClassifier, evaluate_classifier

SCORES = ("macro_f1", "minority_f1", "auroc", "accuracy")
RECOVERED = ("macro_f1", "minority_f1")
MIN_LOSS = 0.02  # two points of F1: about one test row of the scarce class in a small test split
CELL_KEYS = ("scenario", "share", "scarce_class", "seed", "fold")


def score(model: TrainedClassifier, test: Dataset) -> dict[str, float]:
    """Macro-F1, F1 of the model's ``minority_class`` (the scarce class), AUROC and accuracy.

    >>> from sensecf.data.spec import infer_spec
    >>> from sensecf.augmentation.arms import fit_classifier
    >>> df = pd.DataFrame({"x": np.arange(40.0), "y": [0] * 30 + [1] * 10})
    >>> data = Dataset(df, infer_spec(df, "y"))
    >>> scores = score(fit_classifier(data, "logreg", scarce_class=1), data)
    >>> sorted(scores), scores["auroc"]
    (['accuracy', 'auroc', 'macro_f1', 'minority_f1'], 1.0)
    """
    scores = evaluate_classifier(model, test)
    return {k: float(scores[k]) for k in SCORES}


def recovery(arm: np.ndarray, scarce: np.ndarray | float, full: np.ndarray) -> np.ndarray:
    """(arm − scarce) / (full − scarce), NaN where scarcity lost less than :data:`MIN_LOSS`.

    >>> recovery(np.array([0.75, 0.5]), np.array([0.5, 0.5]), np.array([1.0, 0.5])).tolist()
    [0.5, nan]
    """
    arm, scarce, full = (np.asarray(v, dtype=float) for v in (arm, scarce, full))
    loss = full - scarce
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.abs(loss) < MIN_LOSS, np.nan, (arm - scarce) / loss)


def add_recovery(results: pd.DataFrame) -> pd.DataFrame:
    """Per (scenario, seed) row: ``gain_<f1>`` and ``recovery_<f1>`` against that cell's floor
    and ceiling, for macro-F1 and the scarce class's F1.

    ``results`` has one row per (scenario, seed, arm) with the arms ``full`` and ``scarce``
    among them (``full`` is the same for every scenario of a seed).

    >>> rows = pd.DataFrame({"scenario": "s", "share": 0.5, "scarce_class": 1, "seed": 0,
    ...     "arm": ["full", "scarce", "smote"], "macro_f1": [0.8, 0.6, 0.7],
    ...     "minority_f1": [0.7, 0.3, 0.4]})
    >>> add_recovery(rows)[["arm", "recovery_macro_f1", "gain_minority_f1"]].round(2).values.tolist()
    [['full', 1.0, 0.4], ['scarce', 0.0, 0.0], ['smote', 0.5, 0.1]]
    """
    out = results.copy()
    keys = [k for k in CELL_KEYS if k in out.columns]
    for metric in RECOVERED:
        if metric not in out.columns:
            continue
        floor = out[out["arm"] == "scarce"].set_index(keys)[metric]
        ceiling = out[out["arm"] == "full"].set_index(keys)[metric]
        index = pd.MultiIndex.from_frame(out[keys])
        low = floor.reindex(index).to_numpy(dtype=float)
        high = ceiling.reindex(index).to_numpy(dtype=float)
        value = out[metric].to_numpy(dtype=float)
        out[f"gain_{metric}"] = value - low
        out[f"recovery_{metric}"] = recovery(value, low, high)
    return out


def summarise(results: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Means over seeds with 95% confidence intervals, per scenario and arm.

    Each seed is a cluster of :func:`~sensecf.evaluation.stats.grouped_intervals` (its folds,
    with repeated K-fold, resampled together; bootstrap seeded with ``seed``; F1, AUROC and accuracy are shares, so their intervals stay
    in [0, 1]); ``<measure>_n`` counts the seeds with a value, and with fewer than
    :data:`~sensecf.evaluation.stats.MIN_CLUSTERS` there is no interval.

    Also ``pooled_recovery_<f1>``: the mean gain over the mean loss (steadier than the mean of
    per-seed ratios when a seed lost little), and the rows added and their cost per arm.

    >>> rows = pd.DataFrame({"scenario": "s", "share": 0.5, "scarce_class": 1,
    ...     "seed": [0, 0, 0, 1, 1, 1], "arm": ["full", "scarce", "smote"] * 2,
    ...     "macro_f1": [0.8, 0.6, 0.7, 0.9, 0.5, 0.6], "minority_f1": 0.5})
    >>> table = summarise(add_recovery(rows)).set_index("arm")
    >>> round(float(table.loc["smote", "recovery_macro_f1"]), 3)
    0.375
    """
    measures = [
        c
        for c in (
            *SCORES,
            *(f"gain_{m}" for m in RECOVERED),
            *(f"recovery_{m}" for m in RECOVERED),
            "rows_added",
            "seconds",
            "llm_calls",
            "tokens",
        )
        if c in results.columns
    ]
    by = ["scenario", "share", "scarce_class", "arm"]
    study = {m.name: m for m in CATALOG.at("study")}
    kinds = {c: study[c].interval_kind for c in measures if c in study}
    # A seed's folds share its training rows: the seed is the cluster, never the fold.
    table = grouped_intervals(results, measures, by=by, clusters="seed", kinds=kinds, seed=seed)
    table.insert(len(by), "n_seeds", results.groupby(by, sort=True)["seed"].nunique().to_numpy())
    for metric in RECOVERED:
        if f"gain_{metric}" not in results.columns:
            continue
        lost = results[results["arm"] == "full"].groupby("scenario")[f"gain_{metric}"].mean()
        loss = table["scenario"].map(lost).to_numpy(dtype=float)
        table[f"pooled_recovery_{metric}"] = recovery(table[f"gain_{metric}"], 0.0, loss)
    return table
