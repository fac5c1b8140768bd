"""The augmentation study: scarcity scenarios × seeds × arms, resumable cell by cell.

For each seed the data are split once (grouped by person when the spec names a group column),
or into K folds with ``splits=K`` (repeated K-fold: each seed tests every row once); a test
split is never touched. The ``full`` arm trains on the whole training split; for each
scenario, ``scarce`` trains on what is left after removing a share of one class, and every
other arm on the scarce set plus the rows it adds. Every arm fits the same estimator with the
same hyperparameters and seed. Each finished (scenario, seed, arm) cell is written to
``OUT/cells/`` at once (its rows first, its JSON record last), so a killed study resumes; LLM
calls go through a cache in ``OUT/llm-cache.sqlite``, so a rerun makes no new calls.

"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sensecf.augmentation.arms import (
    OVERSAMPLERS,
    augmentation_spec,
    fit_classifier,
    generated_rows,
    oversampled_rows,
)
from sensecf.augmentation.cells import cached_cell, cell_fingerprint, data_key
from sensecf.augmentation.comparisons import blank_unmeasured, scarcity_losses, study_comparisons
from sensecf.augmentation.config import DEFAULT_GENERATORS, AugmentationConfig
from sensecf.augmentation.measures import add_recovery, score, summarise
from sensecf.augmentation.placement import PLACEMENT_NEIGHBOURS, feature_changes, row_placement
from sensecf.augmentation.result import AugmentationResult
from sensecf.augmentation.scenarios import Scenario, make_scarce
from sensecf.augmentation.writer import write_study
from sensecf.data.dataset import Dataset
from sensecf.data.io import write_table, write_text
from sensecf.errors import SensecfError
from sensecf.models import TrainedClassifier, fold_rows, split_rows
from sensecf.runs import CELLS, COMPARISONS_CSV, CONFIG_YAML, LLM_CACHE, SCARCITY_LOSS_CSV

# Names other modules and scripts read from the study's home, where it ran.
__all__ = [
    "DEFAULT_GENERATORS",
    "PLACEMENT_NEIGHBOURS",
    "AugmentationConfig",
    "AugmentationResult",
    "augmentation_study",
    "ordered_summary",
    "row_placement",
]


def augmentation_study(
    data: Dataset,
    config: AugmentationConfig | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    progress: bool = False,
    saved_only: bool = False,
    **settings: Any,
) -> AugmentationResult:
    """Run the study on ``data``; ``settings`` override fields of ``config``.

    Progress news (a line a finished cell) goes to the logger of :mod:`sensecf.augmentation.cells`
    (the CLI prints it). With ``out_dir`` every cell is saved as
    it finishes and reused on a rerun with the same settings, and the tables, the Markdown
    summary and the plots are written there. ``saved_only`` reads a study that is still
    running or was stopped: only the cells already saved under ``out_dir`` with these settings
    are used (a seed without its ``full`` cell, a scenario without its ``scarce`` cell are left
    out) and nothing is computed; the cells are never written, and the only files written are
    ``comparisons.csv`` and ``scarcity_loss.csv``, and only once every cell of the study is finished (then it is the
    file the full run writes; from a study still running it would pass for the final one).

    >>> import sensecf as scf
    >>> from sensecf.data.spec import infer_spec
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"a": rng.normal(size=160), "b": rng.normal(size=160)})
    >>> df["y"] = (df["a"] + 0.3 * rng.normal(size=160) > 0.8).astype(int)
    >>> study = scf.augmentation_study(Dataset(df, infer_spec(df, "y")), generators=["oracle"],
    ...     oversamplers=["smote"], scenarios=[0.5], seeds=2, estimator="logreg", plots=False)
    >>> sorted(study.summary["arm"])
    ['full', 'oracle', 'scarce', 'smote']
    """
    if not isinstance(data, Dataset):
        raise SensecfError(f"data must be a sensecf Dataset; got {type(data).__name__}")
    base = (config or AugmentationConfig()).model_dump()
    config = AugmentationConfig.build({**base, **settings}, source="augmentation study")
    out = Path(out_dir) if out_dir is not None else config.out
    if saved_only and (out is None or not (out / CELLS).is_dir()):
        raise SensecfError(f"saved_only reads finished cells; no {CELLS}/ folder under {out}")
    arms = config.arm_names()
    spec = augmentation_spec(data.spec)
    data = data.with_spec(spec)
    scarce_class = _scarce_class(data, config)
    scenarios = [Scenario(share, scarce_class) for share in config.scenarios]
    key = data_key(data)
    if out is not None and not saved_only:
        out.mkdir(parents=True, exist_ok=True)
        dumped = config.model_dump(mode="json")
        write_text(out / CONFIG_YAML, yaml.safe_dump(dumped, sort_keys=False))
    records: list[dict[str, Any]] = []
    added: list[pd.DataFrame] = []
    for seed, fold, (train_idx, test_idx) in _splits(data, config):
        unit = f"seed{seed}" if config.splits == 1 else f"seed{seed}-fold{fold}"
        train_rows, test = data.subset(train_idx), data.subset(test_idx)
        full_model = _LazyModel(train_rows, config, seed, scarce_class)
        full, _ = cached_cell(
            out,
            ("full", unit, "full"),
            cell_fingerprint(key, config, "full", seed, fold=fold),
            partial(_reference_cell, full_model, test, "full"),
            saved_only,
        )
        if full is None:
            continue
        for scenario in scenarios:
            split = make_scarce(train_rows, scenario, seed)
            scarce = train_rows.subset(split.kept)
            scarce_model = _LazyModel(scarce, config, seed, scarce_class)
            cell_base = {
                "scenario": scenario.name,
                "share": scenario.share,
                "scarce_class": scarce_class,
                "seed": seed,
                "fold": fold,
                "folds": config.splits,
            }
            floor, _ = cached_cell(
                out,
                (scenario.name, unit, "scarce"),
                cell_fingerprint(key, config, "scarce", seed, scenario, fold=fold),
                partial(_reference_cell, scarce_model, test, "scarce"),
                saved_only,
            )
            if floor is None:
                continue
            records += [{**cell_base, **full}, {**cell_base, **floor}]
            arm_run = _ArmRun(
                scarce=scarce,
                test=test,
                count=_target_count(config, scarce, scarce_class, split.n_removed),
                source_rows=train_idx[split.kept],
                verifier=full_model if config.verifier == "full" else scarce_model,
                config=config,
                seed=seed,
                scarce_class=scarce_class,
                llm_cache=out / LLM_CACHE if out is not None else None,
                progress=progress,
            )
            for arm in arms:
                record, rows = cached_cell(
                    out,
                    (scenario.name, unit, arm),
                    cell_fingerprint(key, config, arm, seed, scenario, fold=fold),
                    partial(arm_run, arm),
                    saved_only,
                )
                if record is None:
                    continue
                records.append({**cell_base, **record})
                if len(rows):
                    added.append(rows.assign(**cell_base))
    if not records:
        raise SensecfError(f"no finished cells under {out} / {CELLS} match these settings")
    results = add_recovery(pd.DataFrame.from_records(records))
    summary = ordered_summary(results, arms)
    rows = pd.concat(added, ignore_index=True) if added else pd.DataFrame()
    changes = feature_changes(rows, data)
    placement = row_placement(rows, data, scarce_class)
    losses = scarcity_losses(results)
    summary = blank_unmeasured(summary, losses)
    study = AugmentationResult(results, summary, rows, changes, placement, config, out)
    study.comparisons = study_comparisons(results)
    study.losses = losses
    if out is not None and not saved_only:
        write_study(study, data, out)
    units = len(config.seed_list()) * config.splits
    finished = len(results) == units * len(scenarios) * (len(arms) + 2)
    if out is not None and saved_only and finished and len(study.comparisons):
        write_table(study.comparisons, out / COMPARISONS_CSV)
        write_table(study.losses, out / SCARCITY_LOSS_CSV)
    return study


def ordered_summary(results: pd.DataFrame, arms: list[str]) -> pd.DataFrame:
    """:func:`summarise` of ``results``, by share, then ``full``, ``scarce`` and ``arms`` in order.

    >>> rows = pd.DataFrame({"scenario": "s", "share": 0.5, "scarce_class": 1, "seed": 0,
    ...     "arm": ["smote", "scarce", "full"], "macro_f1": [0.7, 0.6, 0.8]})
    >>> ordered_summary(rows, ["smote"])["arm"].tolist()
    ['full', 'scarce', 'smote']
    """
    order = {name: i for i, name in enumerate(["full", "scarce", *arms])}
    return (
        summarise(results)
        .sort_values(
            ["share", "arm"], key=lambda s: s.map(order) if s.name == "arm" else s, kind="stable"
        )
        .reset_index(drop=True)
    )


def _splits(
    data: Dataset, config: AugmentationConfig
) -> Iterator[tuple[int, int, tuple[np.ndarray, np.ndarray]]]:
    """(seed, fold, (train, test)) for every split of the study, seed by seed."""
    for seed in config.seed_list():
        if config.splits == 1:
            yield seed, 0, split_rows(data, config.test_size, seed)
        else:
            for fold, part in enumerate(fold_rows(data, config.splits, seed)):
                yield seed, fold, part


def _scarce_class(data: Dataset, config: AugmentationConfig) -> int:
    classes = sorted(data.spec.classes)
    if config.scarce_class is not None:
        if config.scarce_class not in classes:
            raise SensecfError(f"scarce_class must be one of {classes}; got {config.scarce_class}")
        return int(config.scarce_class)
    counts = data.class_counts()
    return min(classes, key=lambda c: (counts[c], c == data.spec.desired_class))


def _target_count(
    config: AugmentationConfig, scarce: Dataset, scarce_class: int, removed: int
) -> int:
    if config.target == "restore":
        count = removed
    else:
        counts = scarce.class_counts()
        others = max(n for c, n in counts.items() if c != scarce_class)
        count = max(0, others - counts[scarce_class])
    if config.max_generated is not None:
        count = min(count, config.max_generated)
    return int(count)


def _fit(
    rows: Dataset,
    config: AugmentationConfig,
    seed: int,
    scarce_class: int,
    extra: pd.DataFrame | None = None,
) -> TrainedClassifier:
    return fit_classifier(
        rows,
        config.estimator,
        seed=seed,
        params=config.params,
        scarce_class=scarce_class,
        extra=extra,
    )


@dataclass
class _LazyModel:
    """A classifier fitted on first use: a resumed study refits only what a missing cell needs."""

    rows: Dataset
    config: AugmentationConfig
    seed: int
    scarce_class: int
    model: TrainedClassifier | None = None

    def __call__(self) -> TrainedClassifier:
        if self.model is None:
            self.model = _fit(self.rows, self.config, self.seed, self.scarce_class)
        return self.model


def _reference_cell(
    model: _LazyModel, test: Dataset, arm: str
) -> tuple[dict[str, Any], pd.DataFrame]:
    record = {
        "arm": arm,
        "kind": "reference",
        "n_train": len(model.rows),
        "rows_target": 0,
        "rows_added": 0,
        **score(model(), test),
    }
    return record, pd.DataFrame()


@dataclass
class _ArmRun:
    """Everything one (scenario, seed) gives its arms; called with an arm's name."""

    scarce: Dataset
    test: Dataset
    count: int
    source_rows: np.ndarray
    verifier: _LazyModel
    config: AugmentationConfig
    seed: int
    scarce_class: int
    llm_cache: Path | None
    progress: bool

    def __call__(self, arm: str) -> tuple[dict[str, Any], pd.DataFrame]:
        config = self.config
        if arm in OVERSAMPLERS:
            aug = oversampled_rows(
                arm, self.scarce, scarce_class=self.scarce_class, count=self.count, seed=self.seed
            )
        else:
            aug = generated_rows(
                arm,
                self.scarce,
                self.verifier(),
                scarce_class=self.scarce_class,
                count=self.count,
                source_rows=self.source_rows,
                seed=self.seed,
                n_cfs=config.n_cfs,
                options=config.options(arm),
                llm_cache=self.llm_cache,
                max_rounds=config.max_rounds,
                max_queries=config.max_queries,
                min_proba=config.min_proba,
                progress=self.progress,
            )
        model = _fit(self.scarce, config, self.seed, self.scarce_class, extra=aug.rows)
        kind = "oversampler" if arm in OVERSAMPLERS else "generator"
        record = {
            "arm": arm,
            "kind": kind,
            "verifier": config.verifier if kind == "generator" else "",
            "n_train": len(self.scarce) + len(aug.rows),
            "rows_target": self.count,
            "rows_added": len(aug.rows),
            "queries": aug.asked,
            "candidates": aug.candidates,
            "rejected_invalid": aug.invalid,
            "rejected_violations": aug.violating,
            "seconds": aug.seconds,
            "llm_calls": aug.llm_calls,
            "tokens": aug.tokens,
            "error": aug.error,
            **score(model, self.test),
        }
        return record, aug.rows
