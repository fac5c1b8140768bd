"""Recovery arithmetic, gains and the summary over seeds."""

import numpy as np
import pandas as pd
import pytest

from sensecf.augmentation.measures import MIN_LOSS, add_recovery, recovery, summarise
from sensecf.evaluation.catalog import get_measure


def test_recovery_arithmetic():
    out = recovery(np.array([0.7, 0.5, 0.9, 0.55]), np.array([0.5] * 4), np.array([0.9] * 4))
    assert out == pytest.approx([0.5, 0.0, 1.0, 0.125])


def test_recovery_is_negative_below_the_floor_and_nan_without_a_loss():
    assert recovery(0.4, 0.5, 0.9) == pytest.approx(-0.25)
    assert np.isnan(recovery(0.7, 0.6, 0.6 + MIN_LOSS / 2))


def cells(seeds):
    rows = []
    for seed, (full, scarce, arm) in enumerate(seeds):
        for name, value in (("full", full), ("scarce", scarce), ("oracle", arm)):
            rows.append(
                {
                    "scenario": "class1-50pct",
                    "share": 0.5,
                    "scarce_class": 1,
                    "seed": seed,
                    "arm": name,
                    "macro_f1": value,
                    "minority_f1": value - 0.1,
                    "rows_added": 0 if name in ("full", "scarce") else 10,
                }
            )
    return pd.DataFrame(rows)


def test_add_recovery_uses_each_seeds_floor_and_ceiling():
    results = add_recovery(cells([(0.9, 0.5, 0.7), (0.8, 0.6, 0.65)]))
    oracle = results[results["arm"] == "oracle"].set_index("seed")
    assert oracle["recovery_macro_f1"].tolist() == pytest.approx([0.5, 0.25])
    assert oracle["gain_macro_f1"].tolist() == pytest.approx([0.2, 0.05])
    assert oracle["recovery_minority_f1"].tolist() == pytest.approx([0.5, 0.25])
    full = results[results["arm"] == "full"]
    assert full["recovery_macro_f1"].tolist() == pytest.approx([1.0, 1.0])


def test_summary_means_intervals_and_pooled_recovery():
    results = add_recovery(cells([(0.9, 0.5, 0.7), (0.8, 0.6, 0.65), (0.85, 0.55, 0.7)]))
    summary = summarise(results).set_index("arm")
    oracle = summary.loc["oracle"]
    assert oracle["n_seeds"] == 3
    per_seed = [0.5, 0.25, 0.5]
    assert oracle["recovery_macro_f1"] == pytest.approx(np.mean(per_seed))
    # Three seeds are too few clusters for an interval; the table says so instead.
    assert oracle["recovery_macro_f1_n"] == 3 and np.isnan(oracle["recovery_macro_f1_ci_low"])
    cell = get_measure("recovery_macro_f1", level="study").cell(oracle)
    assert cell == "0.42 (n = 3: no interval)"
    # pooled: mean gain / mean loss = mean(0.2, 0.05, 0.15) / mean(0.4, 0.2, 0.3)
    assert oracle["pooled_recovery_macro_f1"] == pytest.approx(0.4 / 0.9)
    assert oracle["rows_added"] == 10


def test_summary_intervals_over_seeds_stay_within_an_f1s_range():
    seeds = [(0.9, 0.5, 0.7), (0.8, 0.6, 0.65), (0.85, 0.55, 0.7), (0.99, 0.6, 0.98)]
    seeds += [(0.95, 0.7, 0.99), (0.9, 0.65, 0.7)]
    results = add_recovery(cells(seeds))
    oracle = summarise(results).set_index("arm").loc["oracle"]
    assert oracle["macro_f1_n"] == 6
    assert 0.65 <= oracle["macro_f1_ci_low"] < oracle["macro_f1"] < oracle["macro_f1_ci_high"]
    assert oracle["macro_f1_ci_high"] <= 0.99  # a percentile of seed means: never above the best
    again = summarise(results, seed=0).set_index("arm").loc["oracle"]
    assert again["macro_f1_ci_low"] == oracle["macro_f1_ci_low"]
