"""Intervals that cover what they claim, and paired comparisons checked by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sensecf.errors import SensecfError
from sensecf.evaluation.stats import (
    MIN_CLUSTERS,
    bootstrap_mean,
    grouped_intervals,
    holm,
    paired_difference,
    repetitions_needed,
    resampled_difference,
    runs_needed,
    share_interval,
)

RUNS = 2000  # simulated studies per coverage check: a coverage's standard error is about 0.5%


def covered(table: pd.DataFrame, column: str, truth: float) -> float:
    return float(
        ((table[f"{column}_ci_low"] <= truth) & (truth <= table[f"{column}_ci_high"])).mean()
    )


# ---- coverage by simulation ---------------------------------------------------------------------
def test_wilson_covers_a_known_share():
    rng = np.random.default_rng(1)
    n, p = 40, 0.3
    frame = pd.DataFrame(
        {"run": np.repeat(np.arange(RUNS), n), "ok": (rng.random(RUNS * n) < p).astype(float)}
    )
    table = grouped_intervals(frame, ["ok"], by=["run"], kinds={"ok": "share"})
    assert (table["ok_n"] == n).all()
    coverage = covered(table, "ok", p)
    assert 0.93 <= coverage <= 0.97, coverage  # exact coverage at n=40, p=0.3: 0.944
    print(f"coverage: Wilson {coverage:.3f}")
    assert table["ok_ci_low"].min() >= 0 and table["ok_ci_high"].max() <= 1


def clustered_runs(rng: np.random.Generator, people: int = 30, days: int = 5) -> pd.DataFrame:
    """RUNS studies of ``people`` people × ``days`` days; a person's days share their level
    (intra-person correlation 0.5), the population mean is 2."""
    level = np.repeat(rng.normal(2.0, 1.0, size=RUNS * people), days)
    return pd.DataFrame(
        {
            "run": np.repeat(np.arange(RUNS), people * days),
            "person": np.repeat(np.arange(RUNS * people), days),
            "x": level + rng.normal(0.0, 1.0, size=level.size),
        }
    )


def test_cluster_bootstrap_covers_a_known_mean_where_the_row_t_interval_does_not():
    frame = clustered_runs(np.random.default_rng(2))
    table = grouped_intervals(frame, ["x"], by=["run"], clusters="person", seed=3)
    assert (table["x_n"] == 30).all()
    coverage = covered(table, "x", 2.0)
    assert 0.93 <= coverage <= 0.97, coverage
    # The naive interval treats the 150 person-days as independent: too narrow by about √3.
    rows = frame.groupby("run")["x"]
    half = stats.t.ppf(0.975, rows.count() - 1) * rows.std(ddof=1) / np.sqrt(rows.count())
    naive = ((rows.mean() - half <= 2.0) & (rows.mean() + half >= 2.0)).mean()
    assert naive < 0.85, naive
    print(f"coverage: cluster bootstrap {coverage:.3f}, row-level t {naive:.3f}")


def test_bootstrap_of_a_rare_clustered_share_stays_in_its_range():
    rng = np.random.default_rng(4)
    frame = clustered_runs(rng, people=8, days=3).head(8 * 3 * 200)
    frame["ok"] = (rng.random(len(frame)) < 0.05).astype(float)
    table = grouped_intervals(frame, ["ok"], by=["run"], clusters="person", kinds={"ok": "share"})
    assert table["ok_ci_low"].notna().all()
    assert table["ok_ci_low"].min() >= 0 and table["ok_ci_high"].max() <= 1
    assert (table["ok_ci_low"] <= table["ok"]).all() and (table["ok"] <= table["ok_ci_high"]).all()


# ---- shares -------------------------------------------------------------------------------------
def test_share_interval_matches_the_wilson_formula_and_stays_in_0_1():
    low, high = share_interval(np.arange(11), 10)
    assert low.min() >= 0 and high.max() <= 1 and (low < high).all()
    z = stats.norm.ppf(0.975)
    k, n = 3, 10
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (float(low[3]), float(high[3])) == pytest.approx((centre - half, centre + half))
    nan_low, nan_high = share_interval([0, 2], [0, 4])
    assert math.isnan(nan_low[0]) and math.isnan(nan_high[0]) and nan_low[1] > 0
    with pytest.raises(SensecfError, match="successes <= n"):
        share_interval(5, 4)


def test_a_share_gets_wilson_only_from_independent_yes_no_rows():
    frame = pd.DataFrame({"ok": [1.0, 0, 1, 1, 0, 1, 1, 0], "person": [0, 0, 1, 1, 2, 2, 3, 4]})
    wilson = grouped_intervals(frame, ["ok"], kinds={"ok": "share"})
    low, high = share_interval(5, 8)
    assert wilson.iloc[0][["ok_ci_low", "ok_ci_high"]].tolist() == pytest.approx(
        [float(low), float(high)]
    )
    clustered = grouped_intervals(frame, ["ok"], clusters="person", kinds={"ok": "share"})
    assert clustered.loc[0, "ok_n"] == 5
    assert clustered.loc[0, "ok_ci_low"] != pytest.approx(float(low))
    with pytest.raises(SensecfError, match=r"must lie in \[0, 1\]"):
        grouped_intervals(frame.assign(ok=2.0), ["ok"], kinds={"ok": "share"})


# ---- few clusters, missing values, determinism --------------------------------------------------
def test_fewer_clusters_than_the_minimum_give_no_interval_but_their_count():
    values = np.arange(12.0)
    people = np.repeat(np.arange(MIN_CLUSTERS - 1), 3)
    mean, low, high = bootstrap_mean(values, people)
    assert mean == 5.5 and math.isnan(low) and math.isnan(high)
    frame = pd.DataFrame({"x": values, "ok": values % 2, "person": people})
    table = grouped_intervals(frame, ["x", "ok"], clusters="person", kinds={"ok": "share"})
    assert table.loc[0, "x_n"] == MIN_CLUSTERS - 1 and math.isnan(table.loc[0, "x_ci_low"])
    three = grouped_intervals(frame.head(3), ["ok"], kinds={"ok": "share"})
    assert three.loc[0, "ok_n"] == 3 and math.isnan(three.loc[0, "ok_ci_high"])
    _, low5, _ = bootstrap_mean(np.arange(MIN_CLUSTERS, dtype=float))
    assert not math.isnan(low5)


def test_missing_values_are_skipped_and_a_person_without_values_is_no_cluster():
    frame = pd.DataFrame(
        {
            "g": ["a"] * 7 + ["b"],
            "person": [0, 1, 2, 3, 4, 5, 5, 9],
            "x": [1.0, 2, 3, 4, 5, np.nan, np.nan, np.nan],
        }
    )
    table = grouped_intervals(frame, ["x"], by=["g"], clusters="person")
    assert table["x_n"].tolist() == [5, 0]
    assert table.loc[0, "x"] == 3.0 and math.isnan(table.loc[1, "x"])
    assert table.loc[0, "x_ci_low"] < 3.0 < table.loc[0, "x_ci_high"]


def test_a_groups_interval_depends_on_its_seed_not_on_its_neighbours():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"g": np.repeat([0, 1, 2], 20), "x": rng.normal(size=60)})
    together = grouped_intervals(frame, ["x"], by=["g"], seed=7)
    alone = grouped_intervals(frame[frame["g"] == 1], ["x"], seed=7)
    assert together.iloc[1][["x_ci_low", "x_ci_high"]].tolist() == pytest.approx(
        alone.iloc[0][["x_ci_low", "x_ci_high"]].tolist()
    )
    other = grouped_intervals(frame[frame["g"] == 1], ["x"], seed=8)
    assert other.loc[0, "x_ci_low"] != alone.loc[0, "x_ci_low"]
    _, low, high = bootstrap_mean(frame.loc[frame["g"] == 1, "x"], seed=7)
    assert (low, high) == pytest.approx(tuple(alone.iloc[0][["x_ci_low", "x_ci_high"]]))


def test_grouped_intervals_keeps_the_groups_shape_and_names_its_mistakes():
    frame = pd.DataFrame({"g": [1, 0, 1], "h": ["x", "y", "x"], "v": [1.0, 2.0, 3.0]})
    table = grouped_intervals(frame, ["v"], by=["g", "h"])
    assert table.columns.tolist() == ["g", "h", "v", "v_ci_low", "v_ci_high", "v_n"]
    assert table[["g", "h"]].values.tolist() == [[0, "y"], [1, "x"]]
    assert table["v"].tolist() == [2.0, 2.0] and table["v_n"].tolist() == [1, 2]
    with pytest.raises(SensecfError, match="must be one of share, mean; got 'ratio'"):
        grouped_intervals(frame, ["v"], kinds={"v": "ratio"})  # type: ignore[dict-item]
    with pytest.raises(SensecfError, match="not summarised"):
        grouped_intervals(frame, ["v"], kinds={"w": "mean"})
    with pytest.raises(SensecfError, match="no column"):
        grouped_intervals(frame, ["v"], clusters="person")


# ---- paired comparisons -------------------------------------------------------------------------
def test_sign_flip_p_value_matches_scipys_exact_permutation_test():
    rng = np.random.default_rng(6)
    a = rng.normal(0.3, 1.0, size=9)
    b = rng.normal(0.0, 1.0, size=9)
    exact = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
        alternative="two-sided",
    ).pvalue
    assert paired_difference(a, b).p_value == pytest.approx(exact)
    # 14 pairs: 16,384 sign patterns, more than 5,000, so Monte Carlo (seeded) near the truth.
    a, b = rng.normal(0.4, 1.0, size=14), rng.normal(0.0, 1.0, size=14)
    exact = stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        n_resamples=np.inf,
    ).pvalue
    sampled = paired_difference(a, b, permutations=5000, seed=1).p_value
    assert sampled == pytest.approx(exact, abs=0.02)
    assert sampled == paired_difference(a, b, permutations=5000, seed=1).p_value


def test_paired_difference_by_hand_over_clusters():
    a = np.array([3.0, 4.0, 2.0, 5.0, 1.0, 2.0, 6.0])
    b = np.array([1.0, 1.0, 2.0, 2.0, 1.0, 0.0, 3.0])
    people = ["p", "p", "q", "r", "r", "s", "s"]
    result = paired_difference(a, b, people)
    d = a - b
    totals = np.array([d[:2].sum(), d[2], d[3:5].sum(), d[5:].sum()])  # 5, 0, 3, 5
    flips = [abs(np.dot(s, totals)) for s in itertools.product((1, -1), repeat=4)]
    by_hand = np.mean(np.array(flips) >= abs(totals.sum()) - 1e-12)
    assert result.p_value == pytest.approx(by_hand)  # 4 of 16 patterns: 0.25
    assert result.mean_diff == pytest.approx(d.mean()) and result.n == 4
    means = np.array([2.5, 0.0, 1.5, 2.5])
    # d_z: the (row-weighted) mean difference over the SD of the clusters' mean differences.
    assert result.effect_size == pytest.approx(d.mean() / means.std(ddof=1))
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert result.detectable == pytest.approx(z * means.std(ddof=1) / 2)
    assert math.isnan(result.low) and math.isnan(result.high)  # 4 clusters: below the minimum


def test_paired_interval_and_power_agree_on_a_clear_difference():
    rng = np.random.default_rng(7)
    base = rng.normal(0.6, 0.05, size=20)
    arm = base + 0.03 + rng.normal(0.0, 0.01, size=20)
    result = paired_difference(arm, base, seed=2)
    assert result.low < result.mean_diff < result.high and result.low > 0
    assert result.p_value < 0.001 and result.effect_size > 2
    # runs_needed inverts detectable: the difference this run detects needs about its runs.
    sd = result.mean_diff / result.effect_size
    assert runs_needed(sd, result.detectable) == 20
    same = paired_difference(base, base)
    assert same.mean_diff == 0 and same.p_value == 1.0 and math.isnan(same.effect_size)
    with pytest.raises(SensecfError, match="same length"):
        paired_difference([1.0, 2.0], [1.0])


def test_holm_against_a_hand_computed_example():
    # Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → raised to 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    capped = holm([0.5, 0.6, np.nan])
    assert capped[:2].tolist() == [1.0, 1.0] and math.isnan(capped[2])
    assert holm([0.02]).tolist() == [0.02]
    with pytest.raises(SensecfError, match=r"p-values in \[0, 1\]"):
        holm([1.5])


def test_runs_needed():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert runs_needed(1.0, 0.5) == math.ceil((z / 0.5) ** 2)  # 32
    assert runs_needed(0.0, 0.1) == 2
    assert runs_needed(1.0, 0.5, power=0.9) > runs_needed(1.0, 0.5)
    with pytest.raises(SensecfError, match="non-zero"):
        runs_needed(1.0, 0.0)


# ---- repeated K-fold splits ---------------------------------------------------------------------
def _fold_differences(rng: np.random.Generator, rows: int, folds: int, repeats: int) -> np.ndarray:
    """Per fold of repeated K-fold on one simulated table: the squared error of two rules,
    half the training mean plus 0.1 and half of it minus 0.1 — equally good by symmetry, so
    every rejection is a false one; how they compare on one table depends on that table, which
    is what ties its folds together."""
    y = rng.normal(size=rows)
    out = []
    for _ in range(repeats):
        order = rng.permutation(rows)
        for test in np.array_split(order, folds):
            shrunk = 0.5 * y[np.setdiff1d(order, test)].mean()
            up, down = (
                np.mean((y[test] - shrunk - 0.1) ** 2),
                np.mean((y[test] - shrunk + 0.1) ** 2),
            )
            out.append(up - down)
    return np.asarray(out)


def test_the_corrected_resampled_test_holds_its_level_where_counting_folds_does_not():
    rng = np.random.default_rng(11)
    folds, repeats, runs = 5, 10, 400
    corrected = naive = 0
    for _ in range(runs):
        d = _fold_differences(rng, rows=60, folds=folds, repeats=repeats)
        corrected += resampled_difference(d, np.zeros_like(d), 1 / (folds - 1)).p_value < 0.05
        naive += stats.ttest_1samp(d, 0.0).pvalue < 0.05  # each fold an independent unit
    assert corrected / runs <= 0.08
    assert naive / runs >= 0.12  # the folds' shared training rows make it far too confident


def test_resampled_difference_by_hand_and_on_degenerate_input():
    d = np.array([0.02, 0.03, 0.01, 0.04, 0.02, 0.03])
    result = resampled_difference(d, np.zeros(6), test_train_ratio=0.25)
    se = math.sqrt(1 / 6 + 0.25) * d.std(ddof=1)
    t = stats.t.ppf(0.975, 5)
    assert result.mean_diff == pytest.approx(d.mean())
    assert (result.low, result.high) == pytest.approx((d.mean() - t * se, d.mean() + t * se))
    assert result.p_value == pytest.approx(2 * stats.t.sf(d.mean() / se, 5))
    assert result.n == 6
    same = resampled_difference([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 0.25)
    assert (same.mean_diff, same.p_value) == (0.0, 1.0)
    one = resampled_difference([0.6, np.nan], [0.5, 0.5], 0.25)
    assert one.n == 1 and math.isnan(one.p_value) and math.isnan(one.low)
    with pytest.raises(SensecfError, match="test_train_ratio"):
        resampled_difference(d, d, 0.0)
    with pytest.raises(SensecfError, match="same length"):
        resampled_difference(d, d[:3], 0.25)


def test_repetitions_needed_meets_the_detectable_difference_and_knows_its_floor():
    sd, folds = 0.02, 5
    reps = repetitions_needed(sd, 0.03, folds)
    d = np.full(folds * reps, 0.0)
    detectable = resampled_difference(
        np.random.default_rng(0).normal(0.03, sd, folds * reps), d, 1 / (folds - 1)
    ).detectable
    assert reps >= 1 and math.isfinite(detectable)
    # One repetition fewer could not detect the same difference at 80% power.
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert z * sd * math.sqrt(1 / (folds * reps) + 1 / (folds - 1)) <= 0.03
    if reps > 1:
        assert z * sd * math.sqrt(1 / (folds * (reps - 1)) + 1 / (folds - 1)) > 0.03
    assert repetitions_needed(0.1, 0.03, folds) == math.inf
    with pytest.raises(SensecfError, match="folds"):
        repetitions_needed(sd, 0.03, 1)
