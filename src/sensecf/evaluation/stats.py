"""95% intervals that respect how the data were drawn, and paired comparisons.

Two kinds of interval, both vectorised (no Python loop over resamples or groups):

- **Shares of independent yes/no outcomes** (each row its own unit, values 0 or 1): the Wilson
  score interval on the count (:func:`share_interval`). Unlike ``p ± z·se`` it never leaves
  [0, 1] and keeps close to its nominal coverage for small counts and shares near 0 or 1.
- **Everything else** (means, and shares whose rows are not independent): a percentile
  bootstrap of the mean that resamples **clusters** (people; a person's days are not
  independent, so resampling them one by one would understate the spread), every value its own
  cluster where no clusters are given (:func:`bootstrap_mean`). The point estimate is the plain
  mean of the values; each resample weighs a cluster's values by how often it was drawn. The
  percentiles are Hesterberg's *expanded* ones (The American Statistician 69(4), 2015): the
  tail level ``α/2`` becomes ``Φ(−√(n/(n−1))·t(1−α/2, n−1))`` for ``n`` clusters, which undoes
  the plain percentile interval's narrowness with few clusters and, being still percentiles of
  resampled means, never leaves the range of the values (a share's interval stays in [0, 1]).

Fewer than :data:`MIN_CLUSTERS` clusters give no interval (NaN bounds); the number of clusters
is always returned (``<col>_n`` in :func:`grouped_intervals`) so a table can say why.

Paired comparisons (:func:`paired_difference`): the paired cluster bootstrap of the mean
difference, a sign-flip permutation p-value, Cohen's d_z and the smallest difference the run
could detect; :func:`holm` adjusts several p-values, :func:`runs_needed` sizes a next run.
Arms measured on repeated K-fold splits of one table are compared with the corrected resampled
t-test instead (:func:`resampled_difference`, sized by :func:`repetitions_needed`): folds share
training rows, and treating them as independent units would overstate the evidence.

Randomness comes only from the ``seed`` argument; the bootstrap weights for ``n`` clusters are
drawn from ``numpy.random.default_rng([seed, n])``, so a group's interval does not depend on
which other groups are summarised beside it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from sensecf.errors import SensecfError

__all__ = [
    "MIN_CLUSTERS",
    "PairedDifference",
    "bootstrap_mean",
    "grouped_intervals",
    "holm",
    "paired_difference",
    "repetitions_needed",
    "resampled_difference",
    "resampled_interval",
    "runs_needed",
    "share_interval",
    "smallest_p_value",
]

# Below 5 clusters a bootstrap has too few distinct resamples to have tails (4 clusters give 35
# distinct resampled means; the expanded 95% interval of 4 would need a 1-in-6,000 tail), and a
# table should not print an interval it cannot stand behind. 5 is also the study's default
# number of seeds, so its default tables carry intervals.
MIN_CLUSTERS = 5
Kind = Literal["share", "mean"]
KINDS: tuple[str, ...] = ("share", "mean")
# Resampled means per block: bounds the memory of one weights matrix (resamples × clusters).
_BLOCK = 4_000_000
# Up to this many groups of one size, resampled totals are gathered rather than multiplied.
_GATHER_GROUPS = 2


# ---- shares -----------------------------------------------------------------------------------
def share_interval(
    successes: float | np.ndarray | Sequence[float],
    n: float | np.ndarray | Sequence[float],
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(low, high)`` of ``successes`` out of ``n`` (arrays broadcast).

    Always within [0, 1]; ``n = 0`` gives NaN bounds.

    >>> low, high = share_interval([0, 12, 40], [40, 40, 40])
    >>> low.round(3).tolist(), high.round(3).tolist()
    ([0.0, 0.181, 0.912], [0.088, 0.454, 1.0])
    >>> share_interval(0, 0)
    (array(nan), array(nan))
    """
    _check_confidence(confidence)
    k = np.asarray(successes, dtype=float)
    total = np.asarray(n, dtype=float)
    if np.any((k < 0) | (k > total)):
        raise SensecfError(
            f"share_interval expects 0 <= successes <= n; got successes={k.tolist()} and "
            f"n={total.tolist()}"
        )
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / total
        centre = (p + z * z / (2 * total)) / (1 + z * z / total)
        half = z / (1 + z * z / total) * np.sqrt(p * (1 - p) / total + z * z / (4 * total**2))
        # Clip only float rounding: the Wilson bounds lie in [0, 1] exactly.
        low = np.where(total > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        high = np.where(total > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return low, high


# ---- the cluster bootstrap ---------------------------------------------------------------------
def bootstrap_mean(
    values: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of the non-missing values and its cluster-bootstrap interval: ``(mean, low, high)``.

    ``clusters`` labels each value's cluster (a person); ``None`` makes every value its own.
    Fewer than :data:`MIN_CLUSTERS` clusters with a value give NaN bounds.

    >>> days = [1.0, 1.2, 3.0, 3.1, 2.0, 2.2, 5.0, 4.8, 0.5, 0.7, np.nan]
    >>> people = [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
    >>> [round(x, 2) for x in bootstrap_mean(days, people, seed=1)]
    [2.35, 0.7, 4.34]
    >>> bootstrap_mean([1.0, 2.0, 3.0])
    (2.0, nan, nan)
    """
    arr = np.asarray(values, dtype=float).ravel()
    codes = _codes(clusters, arr.size, "clusters")
    mean, low, high, _ = _cluster_bootstrap(
        arr, np.zeros(arr.size, dtype=np.int64), codes, 1, resamples, confidence, seed
    )
    return float(mean[0]), float(low[0]), float(high[0])


def grouped_intervals(
    frame: pd.DataFrame,
    columns: Sequence[str],
    by: Sequence[str] = (),
    clusters: str | None = None,
    kinds: Mapping[str, Kind] | None = None,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Per group of ``by`` (or over all rows): ``<col>``, ``<col>_ci_low``, ``<col>_ci_high``
    and ``<col>_n``, the number of clusters with a value (the interval is NaN below
    :data:`MIN_CLUSTERS`).

    ``clusters`` names the column of cluster ids (people); ``None`` makes each row its own.
    ``kinds`` maps a column to ``"share"`` (values in [0, 1]) or ``"mean"`` (the default). A
    share of 0/1 values whose rows are their own clusters gets the Wilson interval on its
    count; every other column the cluster bootstrap. NaN values are skipped. Groups come out
    sorted, a missing key as a group of its own.

    >>> df = pd.DataFrame({"g": [0] * 6 + [1] * 3, "ok": [1, 1, 0, 1, 1, 1, 0, 1, 1.0]})
    >>> table = grouped_intervals(df, ["ok"], by=["g"], kinds={"ok": "share"})
    >>> table.round(3).to_dict("list")
    {'g': [0, 1], 'ok': [0.833, 0.667], 'ok_ci_low': [0.436, nan], 'ok_ci_high': [0.97, nan], 'ok_n': [6, 3]}
    """
    columns, by = list(columns), list(by)
    kinds = dict(kinds or {})
    unknown = set(kinds) - set(columns)
    if unknown:
        raise SensecfError(
            f"kinds names columns that are not summarised: {sorted(unknown)}; the columns are "
            f"{columns}"
        )
    for column, kind in kinds.items():
        if kind not in KINDS:
            raise SensecfError(
                f"the kind of {column!r} must be one of {', '.join(KINDS)}; got {kind!r}"
            )
    missing = [c for c in [*columns, *by, *([clusters] if clusters else [])] if c not in frame]
    if missing:
        raise SensecfError(f"grouped_intervals: no column {missing} in {list(frame.columns)}")
    if by:
        group_codes, keys = _group_codes(frame, by)
    else:
        group_codes, keys = np.zeros(len(frame), dtype=np.int64), pd.DataFrame(index=[0])
    n_groups = len(keys)
    cluster_codes = _codes(
        None if clusters is None else frame[clusters].to_numpy(), len(frame), "clusters"
    )
    parts: dict[str, np.ndarray] = {}
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        kind = kinds.get(column, "mean")
        seen = values[~np.isnan(values)]
        if kind == "share" and np.any((seen < 0) | (seen > 1)):
            raise SensecfError(
                f"column {column!r} is a share, so its values must lie in [0, 1]; got values "
                f"from {seen.min()} to {seen.max()}"
            )
        if kind == "share" and clusters is None and np.all((seen == 0) | (seen == 1)):
            mean, low, high, n = _wilson(values, group_codes, n_groups, confidence)
        else:
            mean, low, high, n = _cluster_bootstrap(
                values, group_codes, cluster_codes, n_groups, resamples, confidence, seed
            )
        parts[column] = mean
        parts[f"{column}_ci_low"] = low
        parts[f"{column}_ci_high"] = high
        parts[f"{column}_n"] = n
    out = pd.DataFrame(parts, index=keys.index)
    return pd.concat([keys, out], axis=1).reset_index(drop=True) if by else out


# ---- paired comparisons ------------------------------------------------------------------------
@dataclass(frozen=True)
class PairedDifference:
    """The mean difference ``a − b`` over paired clusters, and how sure it is.

    ``low``/``high``: its 95% paired cluster-bootstrap interval (NaN below
    :data:`MIN_CLUSTERS`); ``p_value``: two-sided sign-flip permutation test; ``effect_size``:
    Cohen's d_z (mean difference / SD of the clusters' mean differences); ``n``: clusters;
    ``detectable``: the smallest difference this spread and ``n`` detect with 80% power.
    """

    mean_diff: float
    low: float
    high: float
    p_value: float
    effect_size: float
    n: int
    detectable: float


def paired_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None = None,
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    permutations: int = 10_000,
) -> PairedDifference:
    """Compare paired measurements ``a`` and ``b`` (the same row measured two ways).

    Rows where either is missing are dropped. The mean difference is the plain mean of
    ``a − b`` (so it equals the difference of the two tables' means on the same rows); its
    interval resamples clusters (``clusters``: one id per row; ``None``: each row its own, e.g.
    seeds). The p-value flips the sign of each cluster's total difference: exactly, over all
    ``2^n`` sign patterns, when that is at most ``permutations``, else over ``permutations``
    random ones drawn with ``seed`` (p = (1 + as extreme) / (1 + permutations)).

    >>> arm = [0.61, 0.64, 0.58, 0.66, 0.63, 0.60]
    >>> base = [0.58, 0.60, 0.57, 0.61, 0.60, 0.59]
    >>> d = paired_difference(arm, base)
    >>> round(d.mean_diff, 3), round(d.low, 3), round(d.high, 3), d.p_value, d.n
    (0.028, 0.013, 0.045, 0.03125, 6)
    >>> round(d.effect_size, 2), round(d.detectable, 3)
    (1.77, 0.018)
    """
    x, y = _pairs(a, b, "paired_difference", "row by row")
    if permutations < 1:
        raise SensecfError(f"permutations must be at least 1; got {permutations}")
    codes = _codes(clusters, x.size, "clusters")
    d = x - y
    keep = ~np.isnan(d)
    d, codes = d[keep], codes[keep]
    mean, low, high, n_arr = _cluster_bootstrap(
        d, np.zeros(d.size, dtype=np.int64), codes, 1, resamples, confidence, seed
    )
    n = int(n_arr[0])
    _, inverse = np.unique(codes, return_inverse=True)
    totals = np.bincount(inverse, weights=d, minlength=n)
    sizes = np.bincount(inverse, minlength=n)
    p_value = _sign_flip_p(totals, permutations, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        cluster_means = totals / sizes
    sd = float(np.std(cluster_means, ddof=1)) if n >= 2 else float("nan")
    if n < 2:
        effect = float("nan")
    elif sd > 0:
        effect = float(mean[0]) / sd
    else:
        effect = float("nan") if mean[0] == 0 else math.copysign(math.inf, float(mean[0]))
    detectable = _z_sum(0.8, confidence) * sd / math.sqrt(n) if n >= 2 else float("nan")
    return PairedDifference(
        mean_diff=float(mean[0]),
        low=float(low[0]),
        high=float(high[0]),
        p_value=p_value,
        effect_size=effect,
        n=n,
        detectable=float(detectable),
    )


def resampled_difference(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    test_train_ratio: float,
    *,
    confidence: float = 0.95,
) -> PairedDifference:
    """Compare ``a`` and ``b`` measured on the same repeated train/test splits (folds of
    repeated K-fold cross-validation), with the corrected resampled t-test.

    Splits of one dataset share training rows, so their differences are correlated and the
    plain paired t-test (or a sign-flip test treating each fold as a unit) is far too
    confident. Nadeau and Bengio (Machine Learning 52, 2003) inflate the variance of the mean
    difference from ``s²/n`` to ``(1/n + n_test/n_train)·s²`` (``n``: the splits, ``s``: the SD
    of their differences); Bouckaert and Frank (PAKDD 2004) showed this corrected test holds
    its level for repeated K-fold, where ``n_test/n_train = 1/(K − 1)``. The interval is
    ``mean ± t(n − 1)·se`` with that corrected ``se``; ``detectable`` uses the same variance, so
    more repetitions cannot shrink it below the correction's floor.

    >>> arm = [0.61, 0.64, 0.58, 0.66, 0.63, 0.60, 0.62, 0.65, 0.61, 0.63]
    >>> base = [0.58, 0.60, 0.57, 0.61, 0.60, 0.59, 0.60, 0.61, 0.58, 0.60]
    >>> d = resampled_difference(arm, base, test_train_ratio=1 / 4)
    >>> round(d.mean_diff, 3), round(d.low, 3), round(d.high, 3), round(d.p_value, 4), d.n
    (0.029, 0.012, 0.046, 0.0042, 10)
    """
    _check_confidence(confidence)
    if not (math.isfinite(test_train_ratio) and test_train_ratio > 0):
        raise SensecfError(
            f"test_train_ratio (test rows / training rows of a split) must be a positive number; "
            f"got {test_train_ratio}"
        )
    x, y = _pairs(a, b, "resampled_difference", "split by split")
    d = x - y
    d = d[~np.isnan(d)]
    n = int(d.size)
    nan = float("nan")
    if n < 2:
        mean = float(d.mean()) if n else nan
        return PairedDifference(mean, nan, nan, nan, nan, n, nan)
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    se = math.sqrt(1.0 / n + test_train_ratio) * sd
    if se > 0:
        t_crit = float(stats.t.ppf(0.5 + confidence / 2, n - 1))
        low, high = mean - t_crit * se, mean + t_crit * se
        p_value = float(2 * stats.t.sf(abs(mean) / se, n - 1))
        effect = mean / sd
    else:  # every split gave the same difference
        low = high = mean
        p_value = 1.0 if mean == 0 else 0.0
        effect = nan if mean == 0 else math.copysign(math.inf, mean)
    detectable = _z_sum(0.8, confidence) * se
    return PairedDifference(mean, low, high, p_value, effect, n, detectable)


def resampled_interval(
    values: Sequence[float] | np.ndarray,
    test_train_ratio: float,
    *,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = (0.0, 1.0),
) -> tuple[float, float, float, int]:
    """The mean of a score measured on repeated K-fold splits and its 95% interval, with the
    same corrected variance as :func:`resampled_difference` (``(1/n + n_test/n_train)·s²``):
    ``(mean, low, high, n)``, the interval cut to ``bounds`` (a score's range; ``None``: not
    cut). Fewer than 2 splits give no interval.

    >>> mean, low, high, n = resampled_interval([0.80, 0.84, 0.78, 0.86, 0.82], 1 / 4)
    >>> round(mean, 3), round(low, 3), round(high, 3), n
    (0.82, 0.761, 0.879, 5)
    """
    x = np.asarray(values, dtype=float).ravel()
    x = x[~np.isnan(x)]
    d = resampled_difference(x, np.zeros_like(x), test_train_ratio, confidence=confidence)
    low, high = d.low, d.high
    if bounds is not None and not np.isnan(low):
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return d.mean_diff, low, high, d.n


def repetitions_needed(
    sd: float,
    difference: float,
    folds: int,
    power: float = 0.8,
    confidence: float = 0.95,
) -> float:
    """Repetitions of ``folds``-fold cross-validation the corrected resampled test needs to
    detect ``difference`` with ``power``, given the SD of the per-split differences; ``inf``
    when no number of repetitions can (the correction's floor ``sd²/(K − 1)`` is already too
    wide: only a larger difference or less spread per split would).

    >>> repetitions_needed(sd=0.01, difference=0.015, folds=5)
    6
    >>> repetitions_needed(sd=0.05, difference=0.02, folds=5)
    inf
    """
    _check_confidence(confidence)
    if folds < 2:
        raise SensecfError(f"folds must be at least 2; got {folds}")
    if not (math.isfinite(sd) and sd >= 0):
        raise SensecfError(f"sd must be a finite number >= 0; got {sd}")
    if not math.isfinite(difference) or difference == 0:
        raise SensecfError(f"difference must be a finite non-zero number; got {difference}")
    room = (difference / (_z_sum(power, confidence) * sd)) ** 2 if sd > 0 else math.inf
    room -= 1.0 / (folds - 1)
    if room <= 0:
        return math.inf
    return max(1, math.ceil(1.0 / (folds * room) - 1e-9))


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of p-values for several comparisons (order kept).

    The i-th smallest of ``m`` p-values is multiplied by ``m − i + 1``; the results are made
    non-decreasing in that order and capped at 1. Missing p-values stay missing and do not
    count in ``m``.

    >>> holm([0.01, 0.04, 0.03, 0.005]).tolist()
    [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    if np.any((p[present] < 0) | (p[present] > 1)):
        raise SensecfError(f"holm expects p-values in [0, 1]; got {p.tolist()}")
    order = present[np.argsort(p[present], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


def runs_needed(sd: float, difference: float, power: float = 0.8, confidence: float = 0.95) -> int:
    """Paired runs (seeds, people) needed to detect a mean ``difference`` with ``power``, given
    the SD of the paired differences: ``⌈((z(1−α/2) + z(power))·sd / difference)²⌉``, at least 2.

    It is the inverse of :attr:`PairedDifference.detectable` (normal approximation).

    >>> runs_needed(sd=0.02, difference=0.01)
    32
    """
    _check_confidence(confidence)
    if not 0 < power < 1:
        raise SensecfError(f"power must be between 0 and 1; got {power}")
    if not (math.isfinite(sd) and sd >= 0):
        raise SensecfError(f"sd must be a finite number >= 0; got {sd}")
    if not math.isfinite(difference) or difference == 0:
        raise SensecfError(f"difference must be a finite non-zero number; got {difference}")
    needed = (_z_sum(power, confidence) * sd / abs(difference)) ** 2
    return max(2, math.ceil(needed - 1e-9))  # float noise must not add a run


def smallest_p_value(n: int, permutations: int = 10_000) -> float:
    """The smallest two-sided p-value :func:`paired_difference`'s sign-flip test can give with
    ``n`` clusters: ``2 / 2^n`` when it runs all sign patterns, else ``1 / (1 + permutations)``.

    Below the level tested, no comparison of ``n`` clusters can come out significant.

    >>> smallest_p_value(5), smallest_p_value(6), smallest_p_value(20)
    (0.0625, 0.03125, 9.999000099990002e-05)
    """
    if n < 1:
        return float("nan")
    if 2**n <= permutations:
        return 2.0 / 2**n
    return 1.0 / (1 + permutations)


# ---- internals ---------------------------------------------------------------------------------
def _pairs(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, who: str, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` as flat float arrays of one length, or an error naming ``who``."""
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise SensecfError(
            f"{who} pairs a and b {how}, so they need the same length; got {x.size} and {y.size}"
        )
    return x, y


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise SensecfError(f"confidence must be between 0 and 1; got {confidence}")


def _z_sum(power: float, confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2) + stats.norm.ppf(power))


def _codes(labels: Sequence[object] | np.ndarray | None, size: int, name: str) -> np.ndarray:
    """Integer codes of cluster labels (each row its own cluster when ``labels`` is None)."""
    if labels is None:
        return np.arange(size, dtype=np.int64)
    arr = np.asarray(labels, dtype=object).ravel()
    if arr.size != size:
        raise SensecfError(f"{name} needs one label per value ({size}); got {arr.size}")
    codes, _ = pd.factorize(pd.Series(arr), use_na_sentinel=False)
    return codes.astype(np.int64)


def _group_codes(frame: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's group number and the sorted groups' keys (a missing key a group of its own)."""
    grouper = frame.groupby(by, sort=True, dropna=False)
    codes = grouper.ngroup().to_numpy(dtype=np.int64)
    keys = grouper.size().index.to_frame(index=False)
    return codes, keys


def _wilson(
    values: np.ndarray, groups: np.ndarray, n_groups: int, confidence: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    keep = ~np.isnan(values)
    n = np.bincount(groups[keep], minlength=n_groups).astype(float)
    k = np.bincount(groups[keep], weights=values[keep], minlength=n_groups)
    low, high = share_interval(k, n, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, k / n, np.nan)
    few = n < MIN_CLUSTERS
    return mean, np.where(few, np.nan, low), np.where(few, np.nan, high), n.astype(int)


def _expanded_tail(n: int, confidence: float) -> float:
    """Hesterberg's expanded lower tail level for ``n`` clusters."""
    t = stats.t.ppf(0.5 + confidence / 2, n - 1)
    return float(stats.norm.cdf(-math.sqrt(n / (n - 1)) * t))


def _cluster_bootstrap(
    values: np.ndarray,
    groups: np.ndarray,
    clusters: np.ndarray,
    n_groups: int,
    resamples: int,
    confidence: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, expanded percentile bounds and cluster count per group, all groups at once.

    Per group the values are reduced to cluster totals and counts (``S``, ``C``: groups ×
    clusters, for the groups with the same number of clusters); a resample is a row of
    multinomial counts ``W`` over the clusters, and every group's resampled means are
    ``(S @ Wᵀ) / (C @ Wᵀ)`` in one product.
    """
    _check_confidence(confidence)
    if resamples < 1:
        raise SensecfError(f"resamples must be at least 1; got {resamples}")
    keep = ~np.isnan(values)
    v, g, c = values[keep], groups[keep], clusters[keep]
    width = int(c.max()) + 1 if c.size else 1
    cells, inverse = np.unique(g * width + c, return_inverse=True)
    sums = np.bincount(inverse, weights=v, minlength=cells.size)
    counts = np.bincount(inverse, minlength=cells.size).astype(float)
    cell_group = cells // width
    k = np.bincount(cell_group, minlength=n_groups)
    total = np.bincount(cell_group, weights=sums, minlength=n_groups)
    n_values = np.bincount(cell_group, weights=counts, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n_values > 0, total / n_values, np.nan)
    low = np.full(n_groups, np.nan)
    high = np.full(n_groups, np.nan)
    start = np.cumsum(k) - k
    position = np.arange(cells.size) - start[cell_group]  # cells are sorted by group
    for size in np.unique(k[k >= MIN_CLUSTERS]):
        members = np.flatnonzero(k == size)
        row = np.full(n_groups, -1)
        row[members] = np.arange(members.size)
        mine = row[cell_group] >= 0
        S = np.zeros((members.size, size))
        C = np.zeros((members.size, size))
        S[row[cell_group[mine]], position[mine]] = sums[mine]
        C[row[cell_group[mine]], position[mine]] = counts[mine]
        boot = _resampled_means(S, C, int(size), resamples, seed)
        tail = _expanded_tail(int(size), confidence)
        low[members], high[members] = np.quantile(boot, [tail, 1 - tail], axis=1)
    return mean, low, high, k


def _resampled_means(
    S: np.ndarray, C: np.ndarray, size: int, resamples: int, seed: int
) -> np.ndarray:
    """groups × resamples bootstrap means; weights drawn in blocks that bound the memory."""
    rng = np.random.default_rng([seed, size])
    out = np.empty((S.shape[0], resamples))
    single = bool(np.all(C == 1))  # one value per cluster: every resample holds `size` values
    block = max(1, _BLOCK // size)
    for first in range(0, resamples, block):
        b = min(block, resamples - first)
        # Drawn cluster indices: multinomial counts, as exact as rng.multinomial and faster.
        picks = rng.integers(0, size, size=(b, size), dtype=np.int32)
        with np.errstate(invalid="ignore", divide="ignore"):
            if S.shape[0] <= _GATHER_GROUPS:
                # Few groups: summing the drawn clusters' totals beats building the weights.
                drawn = C[:, picks].sum(axis=2) if not single else size
                out[:, first : first + b] = S[:, picks].sum(axis=2) / drawn
            else:
                flat = (picks + size * np.arange(b, dtype=np.int32)[:, None]).ravel()
                W = np.bincount(flat, minlength=b * size).reshape(b, size).astype(float)
                out[:, first : first + b] = (S @ W.T) / (C @ W.T)
    return out


def _sign_flip_p(totals: np.ndarray, permutations: int, seed: int) -> float:
    """Two-sided sign-flip p-value of the mean difference from the clusters' total differences."""
    n = totals.size
    if n == 0:
        return float("nan")
    observed = abs(totals.sum())
    # Sums equal in exact arithmetic may differ in the last bits; count them as extreme.
    tol = 1e-9 * max(1.0, float(np.abs(totals).sum()))
    if 2**n <= permutations:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        flipped = np.abs(signs @ totals)
        return float(np.mean(flipped >= observed - tol))
    rng = np.random.default_rng(seed)
    hits = 0
    block = max(1, _BLOCK // n)
    for first in range(0, permutations, block):
        b = min(block, permutations - first)
        # A flipped set of clusters moves the sum by twice their total: sum − 2·(flips @ totals).
        flips = rng.integers(0, 2, size=(b, n), dtype=np.int8)
        hits += int(np.sum(np.abs(totals.sum() - 2 * (flips @ totals)) >= observed - tol))
    return (1 + hits) / (1 + permutations)
