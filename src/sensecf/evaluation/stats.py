"""Means with 95% confidence intervals, NaN-safe, for one sample or many groups at once.

The interval is Student's t on the sample mean: ``mean ± t(1 - α/2, n - 1) · s / √n`` with
``s`` the sample standard deviation (``ddof=1``) and ``n`` the number of non-missing values.
Fewer than two values give no interval (NaN bounds); no values give a NaN mean too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["grouped_mean_ci", "mean_ci"]


def mean_ci(
    values: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean and t-interval of the non-missing values: ``(mean, low, high)``.

    >>> mean, low, high = mean_ci([1.0, 2.0, 3.0, np.nan])
    >>> round(mean, 3), round(low, 3), round(high, 3)
    (2.0, -0.484, 4.484)
    >>> mean_ci([5.0])
    (5.0, nan, nan)
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    n = arr.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(arr.mean())
    if n < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * arr.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half


def grouped_mean_ci(
    frame: pd.DataFrame,
    columns: Sequence[str],
    by: Sequence[str] = (),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per group of ``by`` (or over all rows), ``<col>``, ``<col>_ci_low``, ``<col>_ci_high``.

    Vectorised over columns and groups (one groupby, one ``t.ppf`` call), with the same rules
    as :func:`mean_ci`: NaN values are skipped, fewer than two values give NaN bounds.

    >>> df = pd.DataFrame({"g": [0, 0, 1], "x": [1.0, 3.0, 5.0]})
    >>> grouped_mean_ci(df, ["x"], by=["g"]).round(3).to_dict("list")
    {'g': [0, 1], 'x': [2.0, 5.0], 'x_ci_low': [-10.706, nan], 'x_ci_high': [14.706, nan]}
    """
    columns, by = list(columns), list(by)
    values = frame[columns].astype(float)
    if by:
        grouped = values.groupby([frame[b] for b in by], sort=True, dropna=False)
        mean, std, count = grouped.mean(), grouped.std(ddof=1), grouped.count()
    else:
        mean = values.mean().to_frame().T
        std = values.std(ddof=1).to_frame().T
        count = values.count().to_frame().T
    n = count.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf(0.5 + confidence / 2, np.where(n >= 2, n - 1, np.nan))
        half = t * std.to_numpy(dtype=float) / np.sqrt(n)
    half[n < 2] = np.nan
    m = mean.to_numpy(dtype=float)
    parts: dict[str, np.ndarray] = {}
    for j, col in enumerate(columns):
        parts[col] = m[:, j]
        parts[f"{col}_ci_low"] = m[:, j] - half[:, j]
        parts[f"{col}_ci_high"] = m[:, j] + half[:, j]
    out = pd.DataFrame(parts, index=mean.index)
    if by:
        return out.reset_index()
    return out.reset_index(drop=True)
