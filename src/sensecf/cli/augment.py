"""`sensecf augment`: the augmentation study from the command line."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from sensecf.cli import console
from sensecf.cli.options import execution_options

# A small profile for tests and a first look: one scenario, two seeds, small forests.
QUICK = {
    "generators": ["oracle"],
    "scenarios": [0.5],
    "seeds": 2,
    "params": {"n_estimators": 50},
}


@click.command()
@execution_options
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path),
    help="FEATURES: a feature folder, or a CSV/Parquet table with its spec (or a UCI heart file).",
)
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), help="Folder for the study's files."
)
@click.option(
    "--generators",
    help="Comma-separated generators whose counterfactuals become rows of the scarce class "
    "[oracle,dice-random,nice-sparsity]; e.g. few-shot for the embedded LLM.",
)
@click.option(
    "--oversamplers",
    help="Comma-separated oversampling arms [random-oversampling,smote,adasyn]; '' for none.",
)
@click.option(
    "--scenarios",
    help="Comma-separated shares of the class's training rows to remove [0.25,0.5,0.75].",
)
@click.option("--scarce-class", type=int, help="Class whose rows are removed [the minority class].")
@click.option(
    "--seeds",
    help="How many seeds (splits and fits), e.g. 5 for seeds 0-4, or which, e.g. 0,3,4 or 7, (a long "
    "study split by hand: run parts into one --out, then all seeds with --saved-only) [5].",
)
@click.option(
    "--splits",
    type=click.IntRange(min=1),
    help="1: one train/test split per seed. K >= 2: K-fold cross-validation per seed, so every "
    "row is tested once a seed, and arms are compared with the corrected resampled t-test - "
    "steadier on a small table, K times the work [1].",
)
@click.option(
    "--estimator",
    type=click.Choice(["rf", "gb", "logreg"]),
    help="Classifier of every arm [rf].",
)
@click.option(
    "--target",
    type=click.Choice(["restore", "balance"]),
    help="Rows each arm adds: restore the removed count, or balance the classes [restore].",
)
@click.option("--max-generated", type=int, help="At most this many added rows per arm.")
@click.option(
    "--verifier",
    type=click.Choice(["scarce", "full"]),
    help="Classifier that accepts generated rows: scarce (what a researcher has) or full "
    "(reported as leaking: it has seen the removed labels) [scarce].",
)
@click.option("--n-cfs", type=int, help="Counterfactuals asked per majority row [1].")
@click.option(
    "--max-queries",
    type=click.IntRange(min=1),
    help="Most majority rows a generator is asked about per cell (each may give --n-cfs rows); "
    "an arm that runs out adds fewer rows, and the tables say how many [no limit].",
)
@click.option(
    "--min-proba",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Safety margin for generated rows: keep only rows the verifier gives the scarce class "
    "at least this probability, so they lie inside the class, not on its boundary [none].",
)
@click.option(
    "--quick", is_flag=True, help="Oracle only, the 50% scenario, 2 seeds, small forests."
)
@click.option(
    "--saved-only",
    is_flag=True,
    help="Print the tables and paired comparisons of the cells already finished under --out (a "
    "study still running, or stopped) with the same settings; computes nothing and writes "
    "only comparisons.csv, once every cell is finished.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="YAML file with any setting of the study (data, out, generators, oversamplers, "
    "scenarios, scarce_class, seeds, splits, estimator, params, test_size, target, max_generated, "
    "verifier, n_cfs, max_rounds, max_queries, min_proba, plots). Options given on the command line win.",
)
def augment(
    data_path: Path | None,
    out_dir: Path | None,
    generators: str | None,
    oversamplers: str | None,
    scenarios: str | None,
    scarce_class: int | None,
    seeds: str | None,
    splits: int | None,
    estimator: str | None,
    target: str | None,
    max_generated: int | None,
    verifier: str | None,
    n_cfs: int | None,
    max_queries: int | None,
    min_proba: float | None,
    quick: bool,
    saved_only: bool,
    config_path: Path | None,
    execution: Any,
) -> None:
    """Counterfactual data augmentation under label scarcity: how much lost F1 comes back?

    Removes a share of one class's training rows (by person when the data have a group
    column; the test split is never touched) and compares, over seeds, the classifier trained
    on the full set (ceiling), on the scarce set (floor), and on the scarce set plus
    counterfactuals of the other class's rows from each generator (verified, violation-free)
    or rows from random oversampling, SMOTE and ADASYN. Writes results.csv/.parquet,
    summary.csv, summary.md, generated_rows.parquet, feature_changes.csv, row_placement.csv
    (how far generated rows moved and whether they sit among real rows of the scarce class)
    and PNG plots; each finished cell is kept under cells/, so a rerun resumes.
    """
    from sensecf.augmentation import AugmentationConfig, augmentation_study
    from sensecf.augmentation.comparisons import comparisons_table, loss_lines, power_note
    from sensecf.augmentation.tables import (
        PLACEMENT_TITLE,
        placement_table,
        scenario_title,
        summary_table,
    )
    from sensecf.data.loaders import load_dataset

    config = AugmentationConfig.from_yaml(config_path) if config_path else AugmentationConfig()
    settings = config.model_dump()
    if quick:
        settings.update(QUICK)
    overrides: dict[str, Any] = {
        "data": data_path,
        "out": out_dir,
        "generators": generators,
        "oversamplers": oversamplers,
        "scenarios": scenarios,
        "scarce_class": scarce_class,
        "seeds": seeds,
        "splits": splits,
        "estimator": estimator,
        "target": target,
        "max_generated": max_generated,
        "verifier": verifier,
        "n_cfs": n_cfs,
        "max_queries": max_queries,
        "min_proba": min_proba,
    }
    settings.update({k: v for k, v in overrides.items() if v is not None})
    config = AugmentationConfig.build(settings, source="sensecf augment")
    if config.data is None:
        raise click.UsageError("--data is required (on the command line or in --config)")
    if config.out is None:
        raise click.UsageError("--out is required (on the command line or in --config)")
    start = time.perf_counter()
    data = load_dataset(config.data)
    with console.news(enabled=not saved_only):
        study = augmentation_study(
            data,
            config,
            progress=console.progress_enabled(),
            saved_only=saved_only,
            execution=execution,
        )
    if len(study.losses):
        console.line("What scarcity cost (full − scarce):")
        for line in loss_lines(study.losses):
            console.line(f"  {line}")
    for scenario in dict.fromkeys(study.summary["scenario"]):
        title = scenario_title(study.summary, scenario, data.spec)
        console.print_frame(summary_table(study.summary, scenario), title)
    if len(study.placement):
        console.print_frame(placement_table(study.placement), PLACEMENT_TITLE)
    if len(study.comparisons):
        console.print_frame(
            comparisons_table(study.comparisons),
            "Paired comparisons (Holm-adjusted across the study)",
        )
        console.line(power_note(study.comparisons))
    if config.verifier == "full":
        console.line("generated rows were verified by the full classifier: these arms leak")
    if saved_only:
        done = study.results.groupby(["scenario", "seed", "fold", "arm"]).ngroups
        console.done(f"read {done} finished cells under {config.out}", time.perf_counter() - start)
    else:
        console.done(f"wrote the augmentation study to {config.out}", time.perf_counter() - start)
