"""`sensecf train`: train and evaluate a classifier on a feature table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from sensecf.cli import console
from sensecf.cli.options import PATH, out_option, seed_option
from sensecf.cli.spec import target_option


@click.command()
@click.argument("features_path", metavar="FEATURES", type=PATH)
@out_option(help="Model folder to write (model.joblib, spec.yaml, metadata.json, split.parquet).")
@click.option(
    "--estimator",
    type=click.Choice(["rf", "gb", "logreg"]),
    default="rf",
    show_default=True,
    help="rf: random forest; gb: gradient boosting; logreg: logistic regression.",
)
@seed_option()
@click.option(
    "--test-size",
    default=0.25,
    show_default=True,
    type=float,
    help="Share of groups (people) held out for evaluation.",
)
@click.option(
    "--cv",
    "folds",
    type=click.IntRange(min=2),
    help="Also score the estimator by K-fold cross-validation (grouped by person where the "
    "data have people), with 95% intervals that allow for the rows folds share; writes "
    "cv_scores.csv into the model folder. Steadier than one split on a small table.",
)
@click.option(
    "--cv-seeds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Repetitions of --cv, each with its own shuffle (seeds 0, 1, ...).",
)
@target_option
def train(
    features_path: Path,
    out_dir: Path,
    estimator: str,
    seed: int,
    test_size: float,
    folds: int | None,
    cv_seeds: int,
    target: str | None,
) -> None:
    """Train a classifier on FEATURES and report held-out scores.

    FEATURES is a folder written by `sensecf features`, or a CSV/Parquet table with its spec
    beside it (NAME.spec.yaml or spec.yaml), or a plain table with --target (a spec is inferred
    and saved in the model folder, so `explain` and `benchmark` agree with it). When the spec
    names a group column (the person), the held-out set holds other people than the training
    set.
    """
    clf = train_model(features_path, out_dir, estimator, seed, test_size, target)
    console.print_classifier(clf)
    if folds is not None:
        cross_validate_model(features_path, out_dir, estimator, folds, cv_seeds, target)


def cross_validate_model(
    features_path: Path,
    out_dir: Path,
    estimator: str,
    folds: int,
    seeds: int,
    target: str | None = None,
) -> None:
    """Repeated K-fold scores of the estimator on FEATURES: printed, and kept beside the model."""
    from sensecf.cli.spec import load_for_verb
    from sensecf.data.io import write_table
    from sensecf.evaluation.cross_validation import cv_summary
    from sensecf.models import cross_validate
    from sensecf.runs import CV_SCORES_CSV

    start = time.perf_counter()
    data = load_for_verb(features_path, target)
    scores = cross_validate(data, estimator, folds=folds, seeds=seeds)
    write_table(scores, out_dir / CV_SCORES_CSV)
    console.print_cv(cv_summary(scores), folds=folds, seeds=seeds)
    console.done(
        f"wrote {len(scores)} cross-validated splits to {out_dir / CV_SCORES_CSV}",
        time.perf_counter() - start,
    )


def train_model(
    features_path: Path,
    out_dir: Path,
    estimator: str = "rf",
    seed: int = 0,
    test_size: float = 0.25,
    target: str | None = None,
) -> Any:
    """Train, write the model folder and say where (the demo's third step too)."""
    from sensecf.cli.spec import load_for_verb
    from sensecf.models import train as train_classifier

    start = time.perf_counter()
    data = load_for_verb(features_path, target)
    clf = train_classifier(data, estimator, seed=seed, test_size=test_size)
    clf.save(out_dir)
    console.done(f"wrote the {estimator} model to {out_dir}", time.perf_counter() - start)
    return clf
