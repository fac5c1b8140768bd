"""The study's paired comparisons: each arm against SMOTE and the floor, paired over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sensecf.augmentation.comparisons import comparison_lines, study_comparisons
from sensecf.augmentation.measures import add_recovery
from sensecf.augmentation.tables import summary_markdown
from sensecf.evaluation.stats import holm

# Per arm, what it adds to the floor's F1 in every seed (the full set adds 0.2).
GAIN = {"full": 0.20, "scarce": 0.0, "smote": 0.05, "oracle": 0.10, "copy": 0.05}


def cells(seeds: int) -> pd.DataFrame:
    """Synthetic (scenario, seed, arm) cells: a seed-level swing every arm shares, small noise."""
    rng = np.random.default_rng(3)
    rows = []
    for seed in range(seeds):
        swing = rng.normal(0, 0.05)
        for arm, gain in GAIN.items():
            noise = rng.normal(0, 0.005) if arm != "copy" else 0.0
            rows.append(
                {
                    "scenario": "class1-50pct",
                    "share": 0.5,
                    "scarce_class": 1,
                    "seed": seed,
                    "arm": arm,
                    "macro_f1": 0.6 + swing + gain + noise,
                    "minority_f1": 0.5 + swing + gain + noise,
                }
            )
    frame = pd.DataFrame(rows)
    # "copy" is SMOTE to the last digit: the same cells, the same F1.
    smote = frame[frame["arm"] == "smote"].set_index("seed")
    copy = frame["arm"] == "copy"
    for metric in ("macro_f1", "minority_f1"):
        frame.loc[copy, metric] = smote.loc[frame.loc[copy, "seed"], metric].to_numpy()
    return add_recovery(frame)


def test_a_known_difference_over_six_seeds_is_sized_but_not_yet_held():
    table = study_comparisons(cells(6))
    pairs = set(zip(table["arm"], table["reference"], table["measure"], strict=True))
    assert ("oracle", "smote", "recovery_macro_f1") in pairs  # recovery against SMOTE
    assert ("oracle", "scarce", "recovery_macro_f1") not in pairs  # not against the floor
    assert ("smote", "scarce", "macro_f1") in pairs and ("smote", "smote", "macro_f1") not in pairs
    oracle = table.set_index(["arm", "reference", "measure"]).loc[("oracle", "smote", "macro_f1")]
    assert oracle["n"] == 6 and oracle["mean_diff"] == pytest.approx(0.05, abs=0.005)
    assert oracle["ci_low"] > 0  # the interval sees it ...
    # ... but 6 seeds give the sign-flip test p >= 1/32, and Holm over the study multiplies it.
    assert oracle["p_value"] == pytest.approx(1 / 32)
    assert oracle["verdict"] == "indistinguishable"
    assert 6 <= oracle["n_needed"] <= 12
    np.testing.assert_allclose(table["p_holm"], holm(table["p_value"]))
    assert "(6 seeds would detect it)" in " ".join(comparison_lines(table))


def test_enough_seeds_hold_the_difference_and_identical_arms_stay_indistinguishable():
    table = study_comparisons(cells(12)).set_index(["arm", "reference", "measure"])
    assert table.loc[("oracle", "smote", "macro_f1"), "verdict"] == "better"
    assert table.loc[("smote", "scarce", "minority_f1"), "verdict"] == "better"
    same = table.loc[("copy", "smote", "macro_f1")]
    assert same["mean_diff"] == 0 and same["verdict"] == "indistinguishable"


def test_the_summary_says_which_differences_hold(tmp_path):
    from types import SimpleNamespace

    from sensecf.augmentation.config import AugmentationConfig
    from sensecf.augmentation.study import ordered_summary
    from sensecf.data.spec import infer_spec

    results = cells(12)
    study = SimpleNamespace(
        config=AugmentationConfig(),
        summary=ordered_summary(results, ["smote", "oracle", "copy"]),
        results=results.assign(error=""),
        placement=pd.DataFrame(),
        comparisons=study_comparisons(results),
    )
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    spec = infer_spec(frame, "y")
    text = summary_markdown(study, spec)  # type: ignore[arg-type]
    assert "## Paired comparisons" in text and "Differences that hold" in text
    assert "50% · macro-F1 · oracle vs smote: +0.05" in text and "better" in text
