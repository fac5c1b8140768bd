"""The cohort and the model: sizes, class balance, missing values, held-out scores, feature
importances."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sensecf.data.dataset import Dataset, missing_by_feature
from sensecf.data.spec import DatasetSpec
from sensecf.evaluation.cross_validation import cv_summary
from sensecf.report import plots
from sensecf.report.parts import Cell, Plot, Section, Table, text_of
from sensecf.report.run_folder import RunData
from sensecf.runs import CV_SCORES_CSV

__all__ = ["cohort_section", "missing_values_table"]

SCORE_NAMES = (
    ("auroc", "AUROC"),
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("minority_f1", "F1 of the minority class"),
)


def cohort_section(data: RunData) -> Section | None:
    """Sizes, class balance, held-out scores and feature importances."""
    meta, features, spec = data.metadata, data.features, data.spec
    if meta is None and features is None:
        return None
    assert spec is not None  # a model or feature folder always has one
    section = Section("cohort", "Cohort and model")
    facts = section.facts
    facts.append(("dataset", spec.name or "(unnamed)"))
    if features is not None:
        facts.append(("rows", f"{len(features):,}"))
        if features.groups is not None:
            facts.append(("people", f"{features.groups.nunique():,}"))
        unit = features.info.get("unit")
        if unit:
            facts.append(("one row per", str(unit)))
    facts.append(("features", str(len(spec.features))))
    facts.append(
        ("target", f"{spec.target} (desired class: {spec.classes.get(spec.desired_class)})")
    )
    balance = _class_balance(spec, features, meta)
    if balance is not None:
        section.tables.append(balance)
    if features is not None:
        gaps = missing_values_table(features)
        if gaps is not None:
            section.tables.append(gaps)
    if meta is not None:
        metrics = meta.get("metrics") or {}
        facts.append(("model", f"{meta.get('estimator')} ({meta.get('estimator_class', '')})"))
        facts.append(("decision threshold", text_of(meta.get("threshold"))))
        split = metrics.get("split")
        if split:
            held = f"{metrics.get('n_test', '?')} rows"
            if metrics.get("n_groups_test") is not None:
                held += f" of {metrics['n_groups_test']} people not seen in training"
            facts.append(("held out", f"{held} ({split} split)"))
        scores = [(label, metrics[key]) for key, label in SCORE_NAMES if key in metrics]
        if scores:
            section.tables.append(
                Table(
                    [label for label, _ in scores],
                    [[Cell(f"{value:.3f}") for _, value in scores]],
                    title="Held-out scores",
                )
            )
        cv_path = data.model_dir / CV_SCORES_CSV if data.model_dir is not None else None
        if cv_path is not None and cv_path.is_file():  # written by `train --cv`
            section.tables.append(_cv_table(pd.read_csv(cv_path)))
        confusion = metrics.get("confusion")
        if confusion:
            names = spec.classes
            pos = meta.get("positive_class", 1)
            neg = next((c for c in names if c != pos), 0)
            section.tables.append(
                Table(
                    ["true \\ predicted", str(names.get(neg, neg)), str(names.get(pos, pos))],
                    [
                        [
                            Cell(str(names.get(neg, neg))),
                            Cell(str(confusion["tn"])),
                            Cell(str(confusion["fp"])),
                        ],
                        [
                            Cell(str(names.get(pos, pos))),
                            Cell(str(confusion["fn"])),
                            Cell(str(confusion["tp"])),
                        ],
                    ],
                    title="Held-out confusion matrix",
                )
            )
        importance = pd.DataFrame(meta.get("feature_importance") or [])
        if len(importance) and {"feature", "importance"} <= set(importance.columns):
            section.plots.append(
                Plot(
                    "Feature importance",
                    "Permutation importance on the held-out rows: how much the AUROC drops "
                    "when a feature's values are shuffled (the 15 most important).",
                    plots.importance_figure(importance),
                )
            )
    return section


def missing_values_table(features: Dataset) -> Table | None:
    """Per feature with any gap, on how many rows it was not measured (``None`` when no row
    has a gap): a reader sees at once which streams a download lacked.

    >>> from sensecf.data.spec import infer_spec
    >>> frame = pd.DataFrame({"spo2": [97.0, None, None, 95.0], "steps": [1.0, 2.0, 3.0, 4.0],
    ...                       "y": [0, 1, 0, 1]})
    >>> table = missing_values_table(Dataset(frame, infer_spec(frame, "y")))
    >>> [[cell.text for cell in row] for row in table.rows]
    [['spo2', '2 of 4 (50%)']]
    """
    counts = missing_by_feature(features.frame, features.spec.feature_names)
    if not counts:
        return None
    total = len(features)
    rows = [
        [Cell(name), Cell(f"{n:,} of {total:,} ({n / total:.0%})")]
        for name, n in sorted(counts.items(), key=lambda item: -item[1])
    ]
    return Table(
        ["feature", "not measured"],
        rows,
        title="Missing values",
        caption="Rows on which a feature was not measured (a stream absent that day). Its "
        "value is unknown: no counterfactual changes it, and no text mentions it.",
    )


def _class_balance(
    spec: DatasetSpec, features: Dataset | None, meta: dict[str, Any] | None
) -> Table | None:
    counts: dict[str, dict[int, int]] = {}
    if features is not None:
        counts["all rows"] = features.class_counts()
    recorded = ((meta or {}).get("metrics") or {}).get("class_counts") or {}
    for side in ("train", "test"):
        if side in recorded:
            counts[f"{side} rows"] = {int(c): int(n) for c, n in recorded[side].items()}
    if not counts:
        return None
    rows = []
    for cls, name in sorted(spec.classes.items()):
        row = [Cell(f"{cls}: {name}")]
        for part in counts.values():
            n, total = part.get(cls, 0), sum(part.values())
            row.append(Cell(f"{n:,} ({n / total:.0%})" if total else "0"))
        rows.append(row)
    return Table(["class", *counts], rows, title="Class balance")


def _cv_table(scores: pd.DataFrame) -> Table:
    """The repeated K-fold scores of ``cv_scores.csv``: mean [95% interval] per score."""
    summary = cv_summary(scores)
    labels = dict(SCORE_NAMES)
    folds = int(scores["fold"].max()) + 1
    seeds = int(scores["seed"].nunique())
    cells = []
    for row in summary.to_dict("records"):
        bounds = "" if pd.isna(row["ci_low"]) else f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]"
        cells.append(Cell(f"{row['mean']:.3f}", interval=bounds))
    return Table(
        [labels.get(str(s), str(s)) for s in summary["score"]],
        [cells],
        title=f"Cross-validated scores ({seeds} × {folds}-fold)",
        caption="Means over every (seed, fold) split; 95% intervals by the corrected resampled t "
        "(Nadeau and Bengio), which allows for the training rows a seed's folds share.",
    )
