"""F1 recovery of counterfactual augmentation against oversampling, with 95% intervals.

Runs the augmentation study (scarcity scenarios × seeds × arms) on a synthetic cohort
(``high_stress``) or on a UCI-heart-like file read with the packaged heart spec, and prints per
scenario each arm's rows added, macro-F1, scarce-class F1, recovery and cost, then the average
recovery over scenarios, and the paired comparisons over seeds (every arm against SMOTE and
against the scarce floor, Holm-adjusted across the study): which differences hold.

No download is possible here, so the heart table is drawn from class-conditional distributions
shaped like the Cleveland file's (303 rows, 164 without and 139 with disease; per-class means
and shares of its 13 features as published), written in the ``processed.cleveland.data`` form.

    python benchmarks/bench_augment.py --data synthetic --out runs/augment-synthetic
    python benchmarks/bench_augment.py --data heart --out runs/augment-heart
    python benchmarks/bench_augment.py --data heart --generators few-shot --seeds 3 \\
        --scenarios 0.5 --max-generated 20 --out runs/augment-heart-llm

A rerun with the same --out reuses every finished cell (and every cached LLM call).
``--saved-only`` prints the tables of the cells finished so far (a study still running, or
stopped) without computing any; ``--paired`` keeps only the (scenario, seed, fold) cells that
every arm finished, so arms run over fewer seeds are compared on the same splits. ``--splits
K`` runs K-fold cross-validation per seed (every row tested once a seed; the arms compared
with the corrected resampled t-test), steadier than one split on a small table.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sensecf as scf
from sensecf.augmentation.comparisons import (
    blank_unmeasured,
    comparisons_table,
    loss_lines,
    power_note,
    scarcity_losses,
    study_comparisons,
)
from sensecf.augmentation.measures import MIN_LOSS
from sensecf.augmentation.study import ordered_summary, row_placement
from sensecf.augmentation.tables import PLACEMENT_TITLE, placement_table, summary_table
from sensecf.data.aireadi import read_aireadi
from sensecf.data.aireadi.daily import FEATURES
from sensecf.data.heart import read_uci_heart
from sensecf.data.synthetic import CohortConfig, write_synthetic_cohort
from sensecf.execution import Execution

CF_ARMS = ("oracle", "dice-random", "nice-sparsity")
HEART_SIZES = {0: 164, 1: 139}
# Per class (no disease, disease): means/sds of continuous features, shares of coded levels.
HEART_NUMERIC = {
    "age": ((52.6, 9.5), (56.6, 7.9)),
    "trestbps": ((129.3, 16.2), (134.6, 18.9)),
    "chol": ((242.6, 53.5), (251.1, 49.5)),
    "thalach": ((158.5, 19.2), (139.3, 22.6)),
    "oldpeak": ((0.59, 0.78), (1.57, 1.30)),
}
HEART_CODED = {
    "sex": ([0, 1], ([0.44, 0.56], [0.18, 0.82])),
    "cp": ([1, 2, 3, 4], ([0.10, 0.25, 0.41, 0.24], [0.05, 0.07, 0.13, 0.75])),
    "fbs": ([0, 1], ([0.86, 0.14], [0.86, 0.14])),
    "restecg": ([0, 1, 2], ([0.58, 0.01, 0.41], [0.40, 0.03, 0.57])),
    "exang": ([0, 1], ([0.86, 0.14], [0.45, 0.55])),
    "slope": ([1, 2, 3], ([0.65, 0.30, 0.05], [0.26, 0.65, 0.09])),
    "ca": ([0, 1, 2, 3], ([0.79, 0.13, 0.05, 0.03], [0.32, 0.32, 0.22, 0.14])),
    "thal": ([3, 6, 7], ([0.79, 0.04, 0.17], [0.27, 0.09, 0.64])),
}
HEART_ORDER = [
    "age", "sex", "cp", "trestbps", "chol", "fbs", "restecg",
    "thalach", "exang", "oldpeak", "slope", "ca", "thal",
]  # fmt: skip


def write_heart_like(path: Path, seed: int = 0) -> Path:
    """A Cleveland-shaped ``processed.cleveland.data`` (label 0 or 1..4)."""
    rng = np.random.default_rng(seed)
    lines = []
    for label, n in HEART_SIZES.items():
        columns = {}
        for name, params in HEART_NUMERIC.items():
            mean, sd = params[label]
            values = rng.normal(mean, sd, n)
            columns[name] = np.clip(values, 0, None).round(1 if name == "oldpeak" else 0)
        for name, (levels, shares) in HEART_CODED.items():
            columns[name] = rng.choice(levels, n, p=shares[label])
        grade = rng.integers(1, 5, n) if label else np.zeros(n, dtype=int)
        for i in range(n):
            lines.append(
                ",".join(f"{float(columns[c][i]):.1f}" for c in HEART_ORDER) + f",{grade[i]}"
            )
    order = rng.permutation(len(lines))
    path.write_text("\n".join(lines[i] for i in order) + "\n")
    return path


def paired(study, data) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Results, summary and placement over the (scenario, seed, fold) cells every arm finished."""
    keys = ["scenario", "seed", "fold"]
    results = study.results
    arms = results["arm"].nunique()
    complete = results.groupby(keys)["arm"].transform("nunique") == arms
    results = results[complete]
    kept = set(map(tuple, results[keys].drop_duplicates().to_numpy().tolist()))
    rows = study.rows
    if len(rows):
        cells = zip(rows["scenario"], rows["seed"], rows["fold"], strict=True)
        rows = rows[[cell in kept for cell in cells]]
    summary = ordered_summary(results, study.config.arm_names())
    summary = blank_unmeasured(summary, scarcity_losses(results))
    scarce_class = int(results["scarce_class"].iloc[0])
    return results, summary, row_placement(rows, data, scarce_class)


def complete_days_cohort(participants: int, days: int) -> scf.Dataset:
    """The synthetic cohort on its complete days: every feature measured, as the saved cells
    under benchmarks/results/augment-synthetic were computed (before the reader kept days with
    gaps), so they stay readable; the spec is the reader's default."""
    config = CohortConfig(participants=participants, days=days, interval_min=15, seed=0)
    with tempfile.TemporaryDirectory(prefix="sensecf-cohort-") as tmp:
        write_synthetic_cohort(Path(tmp), config)
        # Requiring every feature at read time drops the days before the stress threshold is
        # set, as the old reader did; the spec is then the default one (nothing required).
        data = read_aireadi(tmp, require_sleep=True, require_cgm=True, required=tuple(FEATURES))
    features = tuple(f.model_copy(update={"required": False}) for f in data.spec.features)
    return data.with_spec(data.spec.model_copy(update={"features": features}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["synthetic", "heart"], default="synthetic")
    parser.add_argument("--participants", type=int, default=80)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--generators", default=",".join(CF_ARMS))
    parser.add_argument("--oversamplers", default="random-oversampling,smote,adasyn")
    parser.add_argument("--scenarios", default="0.25,0.5,0.75")
    parser.add_argument("--seeds", default="5", help="how many (5) or which (0,3,4)")
    parser.add_argument("--splits", type=int, default=1, help="K-fold per seed (1: one split)")
    parser.add_argument("--trees", type=int, default=100, help="random-forest size (every arm)")
    parser.add_argument("--n-cfs", type=int, default=3)
    parser.add_argument("--max-generated", type=int)
    parser.add_argument("--max-queries", type=int, help="queries per generator and cell")
    parser.add_argument("--min-proba", type=float, help="safety margin for generated rows")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (-1: every core)")
    parser.add_argument("--ray", help="a Ray cluster: auto, local or HOST:PORT")
    parser.add_argument("--saved-only", action="store_true", help="finished cells only")
    parser.add_argument("--paired", action="store_true", help="cells every arm finished")
    args = parser.parse_args()

    start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.data == "heart":
        data = read_uci_heart(write_heart_like(args.out / "processed.cleveland.data"))
    elif (args.out / "features").is_dir():  # the cohort of an earlier run into this folder
        data = scf.load_dataset(args.out / "features")
    else:
        data = complete_days_cohort(args.participants, args.days)
        data.save(args.out / "features")
    counts = ", ".join(f"{data.spec.classes[c]}: {n}" for c, n in data.class_counts().items())
    print(f"data: {len(data)} rows ({counts}) ({time.perf_counter() - start:.0f} s)")
    study = scf.augmentation_study(
        data,
        out_dir=args.out,
        generators=args.generators,
        oversamplers=args.oversamplers,
        scenarios=args.scenarios,
        seeds=args.seeds,
        splits=args.splits,
        params={"n_estimators": args.trees},
        n_cfs=args.n_cfs,
        max_generated=args.max_generated,
        max_queries=args.max_queries,
        min_proba=args.min_proba,
        saved_only=args.saved_only,
        execution=Execution(jobs=args.jobs, ray=args.ray),
    )
    results, summary, placement = study.results, study.summary, study.placement
    comparisons, losses = study.comparisons, study.losses
    if args.paired:
        results, summary, placement = paired(study, data)
        comparisons, losses = study_comparisons(results), scarcity_losses(results)
        cells = results.groupby(["scenario", "seed", "fold"]).ngroups
        print(f"\npaired: {cells} (scenario, seed, fold) cells")
    print("\nwhat scarcity cost (full − scarce, paired over the same splits):")
    for line in loss_lines(losses):
        print(f"  {line}")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        for scenario in dict.fromkeys(summary["scenario"]):
            print(f"\n## {scenario}")
            print(summary_table(summary, scenario).to_string(index=False))
    seeds = summary.groupby("arm", sort=False)["n_seeds"].agg(["min", "max"])
    if summary["n_seeds"].nunique() > 1:
        print("\nseeds per arm (fewest, most over the scenarios):")
        for arm, row in seeds.iterrows():
            print(f"  {arm:<22}{row['min']:.0f}–{row['max']:.0f}")
    cf_arms = [a for a in study.config.generators if a in set(summary["arm"])]
    per_arm = summary.groupby("arm")[["recovery_macro_f1", "pooled_recovery_macro_f1"]].mean()
    print(
        "\nmacro-F1 recovery averaged over the scenarios with a measurable loss (per seed, where "
        f"it cost at least {MIN_LOSS:.2f} F1 | pooled: mean gain / mean loss):"
    )
    for arm in [*cf_arms, *study.config.oversamplers]:
        if arm in per_arm.index:
            row = per_arm.loc[arm]
            print(f"  {arm:<22}{row.iloc[0]:>8.2f} |{row.iloc[1]:>6.2f}")
    half = comparisons[np.isclose(comparisons["share"], 0.5)] if len(comparisons) else comparisons
    half = half[(half["reference"] == "smote") & (half["measure"] == "minority_f1")]
    if len(half):
        print("\nat 50% removal, scarce-class F1 against SMOTE, paired over seeds (Holm-adjusted):")
        for row in half.itertuples(index=False):
            print(
                f"  {row.arm:<22}{row.mean_diff:+.3f} (p_holm {row.p_holm:.2g}, n = {row.n}): "
                f"{row.verdict}"
            )
    cost = (
        results[results["kind"] == "generator"]
        .groupby("arm")[["rows_added", "seconds", "llm_calls", "tokens"]]
        .sum()
    )
    print("\ngeneration cost over all cells (rows added, seconds, LLM calls, tokens):")
    print(cost.to_string())
    if len(placement):
        print(f"\n{PLACEMENT_TITLE} (over all cells):")
        print(placement_table(placement).to_string(index=False))
    if len(comparisons):
        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print("\npaired comparisons (Holm-adjusted across the study):")
            print(comparisons_table(comparisons).to_string(index=False))
        print(power_note(comparisons))
        held = comparisons[comparisons["verdict"].isin(["better", "worse"])]
        print(f"differences that hold: {len(held)} of {len(comparisons)}")
    verb = "read" if args.saved_only else "wrote"
    print(f"\n{verb} {args.out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    # The library reports each finished unit on its loggers: print them as they come.
    logging.basicConfig(format="%(message)s", stream=sys.stdout)
    logging.getLogger("sensecf").setLevel(logging.INFO)
    main()
