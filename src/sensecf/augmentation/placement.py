"""Where a study's added rows sit: which features they changed, and which real rows they sit among."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sensecf.data.constraints import changed, count_changes
from sensecf.data.dataset import Dataset
from sensecf.generators.llm.candidates import near_current

__all__ = ["PLACEMENT_NEIGHBOURS", "feature_changes", "row_placement"]


def feature_changes(rows: pd.DataFrame, data: Dataset) -> pd.DataFrame:
    """Per generator and feature: the share of its rows that changed the feature."""
    names = data.spec.feature_names
    if rows.empty or "source_row" not in rows or rows["source_row"].isna().all():
        return pd.DataFrame(columns=["arm", "feature", "changed_share", "n_rows"])
    generated = rows[rows["source_row"].notna()]
    sources = data.X.to_numpy(dtype=float)[generated["source_row"].to_numpy(dtype=int)]
    moved = changed(sources, generated[names].to_numpy(dtype=float))
    frame = pd.DataFrame(moved, columns=names).assign(arm=generated["arm"].to_numpy())
    shares = frame.groupby("arm", sort=False)[names].mean()
    table = shares.stack().rename("changed_share").reset_index()
    table.columns = ["arm", "feature", "changed_share"]
    return table.assign(n_rows=table["arm"].map(frame.groupby("arm").size()))


PLACEMENT_NEIGHBOURS = 5


def row_placement(
    rows: pd.DataFrame, data: Dataset, scarce_class: int, neighbours: int = PLACEMENT_NEIGHBOURS
) -> pd.DataFrame:
    """Per arm: how far its rows moved from their source rows, and which real rows they sit among.

    ``features_changed``: the mean number of features a row changed from its source row,
    derived features left out (arms with source rows only); ``scarce_neighbours``: the scarce
    class's share among each row's ``neighbours`` nearest real rows of ``data`` (standardised
    features; a row's own source row left out), averaged over the arm's rows.
    ``data_scarce_share`` is what rows placed at random would score: a minimal counterfactual
    sits just across the boundary among rows of its source's class and scores low, a SMOTE row
    among real scarce-class rows scores high.
    ``copies_real``: the share of rows whose mutable features all equal (within half a step)
    those of a real row other than their source row — a few-shot prompt's examples are real
    rows, so this is how often a language model handed back an example whole.

    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": np.arange(20.0), "y": [0] * 10 + [1] * 10})
    >>> data = Dataset(df, infer_spec(df, "y"))
    >>> added = pd.DataFrame({"x": [9.4, 18.0], "y": 1, "arm": "cf", "source_row": [9, 3]})
    >>> placed = row_placement(added, data, 1, neighbours=2)
    >>> placed[["features_changed", "copies_real", "scarce_neighbours"]].iloc[0].tolist()
    [1.0, 0.5, 0.75]
    """
    from sklearn.neighbors import NearestNeighbors

    columns = [
        "arm",
        "n_rows",
        "features_changed",
        "copies_real",
        "scarce_neighbours",
        "data_scarce_share",
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    names = data.spec.feature_names
    real = data.X.to_numpy(dtype=float)
    median = np.nanmedian(real, axis=0)
    std = np.nanstd(real, axis=0)
    scale = np.where(std > 0, std, 1.0)

    def standardised(X: np.ndarray) -> np.ndarray:
        return (np.where(np.isnan(X), median, X) - median) / scale

    k = min(neighbours, len(real) - 1)
    index = NearestNeighbors(n_neighbors=k + 1).fit(standardised(real))
    is_scarce = data.y.to_numpy() == scarce_class
    steps = np.array([float(f.step) for f in data.spec.features])
    mutable = np.array([f.is_mutable for f in data.spec.features])
    records = []
    for arm, part in rows.groupby("arm", sort=False):
        X = part[names].to_numpy(dtype=float)
        _, found = index.kneighbors(standardised(X))
        source = (
            part["source_row"].to_numpy(dtype=float)
            if "source_row" in part
            else np.full(len(part), np.nan)
        )
        shares, copies = [], []
        for row, near, own in zip(X, found, source, strict=True):
            kept = near[near != own][:k]  # without its source row, else the k nearest
            shares.append(is_scarce[kept].mean())
            same = near_current(real[:, mutable], row[mutable], steps[mutable])
            same |= np.isnan(real[:, mutable]) & np.isnan(row[mutable])
            copy = np.asarray(same.all(axis=1))
            if not np.isnan(own):
                copy[int(own)] = False
            copies.append(bool(copy.any()))
        has_source = ~np.isnan(source)
        moved = (
            count_changes(data.spec, real[source[has_source].astype(int)], X[has_source]).mean()
            if has_source.any()
            else np.nan
        )
        records.append(
            {
                "arm": arm,
                "n_rows": len(part),
                "features_changed": float(moved),
                "copies_real": float(np.mean(copies)),
                "scarce_neighbours": float(np.mean(shares)),
                "data_scarce_share": float(is_scarce.mean()),
            }
        )
    return pd.DataFrame.from_records(records, columns=columns)
