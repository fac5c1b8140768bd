"""The study's paired comparisons: each arm against SMOTE and the floor, paired over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sensecf.augmentation.comparisons import (
    blank_unmeasured,
    comparison_lines,
    comparisons_table,
    loss_lines,
    power_note,
    scarcity_losses,
    study_comparisons,
)
from sensecf.augmentation.measures import add_recovery, summarise
from sensecf.augmentation.tables import summary_markdown
from sensecf.evaluation.stats import holm

# Per arm, what it adds to the floor's F1 in every seed (the full set adds 0.2).
GAIN = {"full": 0.20, "scarce": 0.0, "smote": 0.05, "oracle": 0.10, "copy": 0.05}


def cells(seeds: int, folds: int = 1, gain: dict[str, float] | None = None) -> pd.DataFrame:
    """Synthetic (scenario, seed, fold, arm) cells: a split-level swing every arm shares, small
    noise."""
    rng = np.random.default_rng(3)
    rows = []
    for seed in range(seeds):
        for fold in range(folds):
            swing = rng.normal(0, 0.05)
            for arm, added in (gain or GAIN).items():
                noise = rng.normal(0, 0.005) if arm != "copy" else 0.0
                rows.append(
                    {
                        "scenario": "class1-50pct",
                        "share": 0.5,
                        "scarce_class": 1,
                        "seed": seed,
                        "fold": fold,
                        "folds": folds,
                        "arm": arm,
                        "macro_f1": 0.6 + swing + added + noise,
                        "minority_f1": 0.5 + swing + added + noise,
                    }
                )
    frame = pd.DataFrame(rows)
    # "copy" is SMOTE to the last digit: the same cells, the same F1.
    smote = frame[frame["arm"] == "smote"].set_index(["seed", "fold"])
    copy = frame["arm"] == "copy"
    where = pd.MultiIndex.from_frame(frame.loc[copy, ["seed", "fold"]])
    for metric in ("macro_f1", "minority_f1"):
        frame.loc[copy, metric] = smote.loc[where, metric].to_numpy()
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
    # Sized to hold after Holm over the study's 14 comparisons (at 0.05 / 14): the sign-flip
    # test needs 10 seeds to go below that level at all (2 / 2**10 < 0.0036 < 2 / 2**9).
    assert len(table) == 14 and oracle["n_needed"] == 10
    np.testing.assert_allclose(table["p_holm"], holm(table["p_value"]))
    assert "(10 seeds would detect it)" in " ".join(comparison_lines(table))


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
        losses=scarcity_losses(results),
    )
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    spec = infer_spec(frame, "y")
    text = summary_markdown(study, spec)  # type: ignore[arg-type]
    assert "## Paired comparisons" in text and "Differences that hold" in text
    assert "macro-F1 lost +0.19" in text and "recovery defined" in text
    assert "50% · macro-F1 · oracle vs smote: +0.05" in text and "better" in text


def test_repeated_folds_are_compared_with_the_corrected_test_and_sized_in_seeds():
    table = study_comparisons(cells(4, folds=5)).set_index(["arm", "reference", "measure"])
    oracle = table.loc[("oracle", "smote", "macro_f1")]
    assert oracle["test"] == "corrected resampled t" and oracle["n"] == 20
    assert oracle["mean_diff"] == pytest.approx(0.05, abs=0.005)
    # 20 splits would reach p < 1e-5 counted as independent; the correction keeps it honest
    # but a 0.05 lead over noise of 0.007 still holds.
    assert oracle["verdict"] == "better"
    assert (table["test"] == "corrected resampled t").all()
    text = comparisons_table(table.reset_index())
    assert "splits" in text.columns and "seeds" not in text.columns
    assert "corrected resampled t-test" in power_note(table.reset_index())
    one_split = study_comparisons(cells(6))
    assert (one_split["test"] == "sign-flip").all()


def test_no_measurable_loss_leaves_recovery_undefined():
    # Scarcity costs nothing: the full set adds no more than noise to the floor.
    flat = {"full": 0.0, "scarce": 0.0, "smote": 0.05, "oracle": 0.10}
    results = cells(8, gain=flat)
    losses = scarcity_losses(results).set_index("measure")
    assert losses.loc["macro_f1", "measurable"] is False
    assert losses.loc["macro_f1", "ci_low"] <= 0 <= losses.loc["macro_f1", "ci_high"]
    table = study_comparisons(results)
    assert not table["measure"].str.startswith("recovery").any()  # nothing to divide by
    assert (table["measure"] == "macro_f1").any()  # the F1 comparisons stay
    summary = blank_unmeasured(summarise(results), scarcity_losses(results))
    assert summary["recovery_macro_f1"].isna().all()
    assert summary["pooled_recovery_macro_f1"].isna().all()
    lines = loss_lines(scarcity_losses(results))
    assert all("recovery undefined: no measurable loss" in line for line in lines)
    # A real loss is measurable and keeps its recovery comparisons.
    kept = scarcity_losses(cells(8)).set_index("measure")
    assert kept.loc["macro_f1", "measurable"] is True
    assert study_comparisons(cells(8))["measure"].str.startswith("recovery").any()


def test_too_few_seeds_leave_the_loss_untested_not_undefined():
    losses = scarcity_losses(cells(3))
    assert losses["measurable"].isna().all()
    assert all("untested" in line for line in loss_lines(losses))
    assert study_comparisons(cells(3))["measure"].str.startswith("recovery").any()
