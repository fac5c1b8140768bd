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

import logging
import os
import time
from dataclasses import dataclass, field, replace
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
from sensecf.augmentation.cells import cell_fingerprint, data_key, keep_cell, saved_cell
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
from sensecf.execution import Execution
from sensecf.generators.registry import LLM_GENERATORS, with_llm_backend
from sensecf.llm.cache import CacheCopy, add_rows
from sensecf.models import TrainedClassifier, fold_rows, split_rows
from sensecf.runs import CELLS, COMPARISONS_CSV, CONFIG_YAML, LLM_CACHE, SCARCITY_LOSS_CSV

logger = logging.getLogger(__name__)

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
    execution: Execution | None = None,
    **settings: Any,
) -> AugmentationResult:
    """Run the study on ``data``; ``settings`` override fields of ``config``.

    ``execution`` says where the cells run (:class:`~sensecf.execution.Execution`: in this
    process by default, ``Execution(jobs=2)`` in two worker processes, or on Ray); every cell
    is computed from its own key, so the tables are the same wherever and in whatever order
    the cells ran, and only this process writes the cells and the LLM call cache.

    Progress news (a line a finished, reused or failed cell) goes to the package's loggers
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
    cells = _plan(config, arms)
    fingerprints = {cell: _fingerprint(cell, key, config, scarce_class) for cell in cells}
    finished: dict[_Cell, tuple[dict[str, Any], pd.DataFrame]] = {}
    todo: list[_Cell] = []
    for cell in cells:
        parts = cell.parts(config, scarce_class)
        saved = saved_cell(out, parts, fingerprints[cell])
        if saved is not None:
            logger.info(f"↺ {'/'.join(parts)}: reused")
            finished[cell] = saved
        elif saved_only:
            logger.info(f"· {'/'.join(parts)}: not finished")
        else:
            todo.append(cell)
    cache = out / LLM_CACHE if out is not None else None
    runner = execution or Execution()
    context = _StudyContext(data, config, scarce_class, cache, progress and not runner.parallel)
    if runner.parallel and cache is not None:
        context = context.for_workers()

    def arrived(cell: _Cell, outcome: _CellOutcome) -> None:
        record, rows, answers = outcome
        if answers and cache is not None:
            add_rows(cache, answers)  # the workers' new LLM answers, written here only
        keep_cell(out, cell.parts(config, scarce_class), fingerprints[cell], record, rows)
        finished[cell] = (record, rows)

    try:
        runner.run(
            _compute_cell,
            context,
            todo,
            on_result=arrived,
            on_error=lambda failure: logger.warning(
                f"✗ {'/'.join(failure.key.parts(config, scarce_class))}: {failure.error}"
            ),
            description="cells",
            progress=progress,
        )
    finally:
        context.close()  # the backends the cells built in this process (none when parallel)
    records, added = _assemble(cells, finished, config, scarce_class)
    if not records:
        raise SensecfError(f"no finished cells under {out} / {CELLS} match these settings")
    results = add_recovery(pd.DataFrame.from_records(records))
    summary = ordered_summary(results, arms)
    rows = _text_columns(pd.concat(added, ignore_index=True)) if added else pd.DataFrame()
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
    complete = len(results) == units * len(scenarios) * (len(arms) + 2)
    if out is not None and saved_only and complete and len(study.comparisons):
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


def _text_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Columns of text as pandas' string dtype: cells read back from Parquet, computed here or
    in another process then hold the same dtypes, so their tables compare equal."""
    out = rows.copy()
    for column in [c for c in out.columns if out[c].dtype == np.dtype(object)]:
        present = out[column].dropna()
        if present.map(lambda v: isinstance(v, str)).all():
            out[column] = out[column].astype("str")
    return out


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


# ---- the cells: planned by the driver, computed anywhere ------------------------------------------
@dataclass(frozen=True, order=True)
class _Cell:
    """One cell's key: everything its numbers depend on besides the data and the settings
    (``share`` is None for the ``full`` cell, which every scenario of a split shares)."""

    seed: int
    fold: int
    share: float | None
    arm: str

    def parts(self, config: AugmentationConfig, scarce_class: int) -> tuple[str, str, str]:
        """Its folder under ``cells/``: scenario (or ``full``), split, arm."""
        unit = f"seed{self.seed}" if config.splits == 1 else f"seed{self.seed}-fold{self.fold}"
        where = "full" if self.share is None else Scenario(self.share, scarce_class).name
        return (where, unit, self.arm)


# A computed cell: its record, its added rows, and the LLM answers it stored (a worker's).
_CellOutcome = tuple[dict[str, Any], pd.DataFrame, list[tuple[Any, ...]]]


def _plan(config: AugmentationConfig, arms: list[str]) -> list[_Cell]:
    """Every cell of the study, split by split: ``full``, then per scenario ``scarce`` and the
    arms (the order serial runs take and tables list)."""
    cells = []
    for seed in config.seed_list():
        for fold in range(config.splits):
            cells.append(_Cell(seed, fold, None, "full"))
            for share in config.scenarios:
                cells += [_Cell(seed, fold, share, arm) for arm in ("scarce", *arms)]
    return cells


def _fingerprint(cell: _Cell, key: str, config: AugmentationConfig, scarce_class: int) -> str:
    scenario = None if cell.share is None else Scenario(cell.share, scarce_class)
    return cell_fingerprint(key, config, cell.arm, cell.seed, scenario, fold=cell.fold)


def _assemble(
    cells: list[_Cell],
    finished: dict[_Cell, tuple[dict[str, Any], pd.DataFrame]],
    config: AugmentationConfig,
    scarce_class: int,
) -> tuple[list[dict[str, Any]], list[pd.DataFrame]]:
    """The records and added rows of the finished cells, in plan order; a split without its
    ``full`` cell and a scenario without its ``scarce`` cell are left out (nothing to compare
    their arms with)."""
    records: list[dict[str, Any]] = []
    added: list[pd.DataFrame] = []
    for cell in cells:
        if cell.share is None or cell.arm == "full":
            continue
        full = finished.get(_Cell(cell.seed, cell.fold, None, "full"))
        floor = finished.get(_Cell(cell.seed, cell.fold, cell.share, "scarce"))
        mine = finished.get(cell)
        if full is None or floor is None or mine is None:
            continue
        scenario = Scenario(cell.share, scarce_class)
        base = {
            "scenario": scenario.name,
            "share": scenario.share,
            "scarce_class": scarce_class,
            "seed": cell.seed,
            "fold": cell.fold,
            "folds": config.splits,
        }
        if cell.arm == "scarce":
            records.append({**base, **full[0]})
        records.append({**base, **mine[0]})
        if len(mine[1]):
            added.append(mine[1].assign(**base))
    return records, added


@dataclass
class _StudyContext:
    """What every cell needs (the data, the settings), and the splits and models already fitted
    by this process, so cells of one split that run in one process fit its models once."""

    data: Dataset
    config: AugmentationConfig
    scarce_class: int
    llm_cache: Path | None
    progress: bool
    # A copy of the driver's LLM answers, for workers that cannot reach its file.
    cache_copy: CacheCopy | None = None
    _models: dict[tuple[int, int, float | None], TrainedClassifier] = field(
        default_factory=dict, repr=False
    )
    # An LLM arm's options with its backend, built once a process: the model loads once.
    _llm: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def for_workers(self) -> _StudyContext:
        """This context as it travels to workers: a copy of the driver's LLM answers."""
        copy = CacheCopy.of(self.llm_cache) if self.llm_cache is not None else None
        return replace(self, llm_cache=None, cache_copy=copy, progress=False, _models={}, _llm={})

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_models"] = {}  # fitted in each process, never shipped
        state["_llm"] = {}
        return state

    def split(self, cell: _Cell) -> tuple[np.ndarray, np.ndarray]:
        """The cell's train and test rows: split ``seed`` (fold ``fold`` of K-fold)."""
        if self.config.splits == 1:
            return split_rows(self.data, self.config.test_size, cell.seed)
        return fold_rows(self.data, self.config.splits, cell.seed)[cell.fold]

    def model(self, rows: Dataset, cell: _Cell, share: float | None) -> TrainedClassifier:
        """The classifier of the split's training rows (``share`` None) or of its scarce set,
        fitted once per process; a few are kept, the oldest dropped."""
        key = (cell.seed, cell.fold, share)
        if key not in self._models:
            if len(self._models) >= _KEPT_MODELS:
                self._models.pop(next(iter(self._models)))
            self._models[key] = _fit(rows, self.config, cell.seed, self.scarce_class)
        return self._models[key]

    def arm_options(self, arm: str) -> dict[str, Any]:
        """The arm's generator options; an LLM arm's with its backend, built on first use in
        this process and kept for the arm's next cells (closed by :meth:`close`)."""
        options = self.config.options(arm)
        if arm not in LLM_GENERATORS:
            return options
        if arm not in self._llm:
            cache = self.cache_file()
            settings = {**options, **({"llm_cache": str(cache)} if cache is not None else {})}
            self._llm[arm] = with_llm_backend(arm, settings)
        return self._llm[arm]

    def close(self) -> None:
        """Close the LLM backends this process built."""
        for options in self._llm.values():
            backend = options.get("backend")
            if backend is not None:
                backend.close()
        self._llm.clear()

    def cache_file(self) -> Path | None:
        """Where this process keeps LLM answers: the driver's file, or a worker's own copy."""
        return self.cache_copy.path() if self.cache_copy is not None else self.llm_cache


_KEPT_MODELS = 8  # a split's full and scarce models for a few splits at a time


def _compute_cell(context: _StudyContext, cell: _Cell) -> _CellOutcome:
    """One cell from its key alone (the unit of :class:`~sensecf.execution.Execution`)."""
    started = time.time()
    start = time.perf_counter()
    config, scarce_class = context.config, context.scarce_class
    train_idx, test_idx = context.split(cell)
    train_rows, test = context.data.subset(train_idx), context.data.subset(test_idx)
    if cell.share is None:
        model = context.model(train_rows, cell, None)
        record, rows = _reference_record(model, train_rows, test, "full"), pd.DataFrame()
    else:
        split = make_scarce(train_rows, Scenario(cell.share, scarce_class), cell.seed)
        scarce = train_rows.subset(split.kept)
        if cell.arm == "scarce":
            model = context.model(scarce, cell, cell.share)
            record, rows = _reference_record(model, scarce, test, "scarce"), pd.DataFrame()
        else:
            verifier = (
                context.model(train_rows, cell, None)
                if config.verifier == "full"
                else context.model(scarce, cell, cell.share)
            )
            record, rows = _arm_record(
                cell,
                context,
                scarce=scarce,
                test=test,
                count=_target_count(config, scarce, scarce_class, split.n_removed),
                source_rows=train_idx[split.kept],
                verifier=verifier,
            )
    record = {**record, "cell_seconds": time.perf_counter() - start}
    answers = context.cache_copy.added(started) if context.cache_copy is not None else []
    return record, rows, answers


def _reference_record(
    model: TrainedClassifier, rows: Dataset, test: Dataset, arm: str
) -> dict[str, Any]:
    return {
        "arm": arm,
        "kind": "reference",
        "n_train": len(rows),
        "rows_target": 0,
        "rows_added": 0,
        **score(model, test),
    }


def _arm_record(
    cell: _Cell,
    context: _StudyContext,
    *,
    scarce: Dataset,
    test: Dataset,
    count: int,
    source_rows: np.ndarray,
    verifier: TrainedClassifier,
) -> tuple[dict[str, Any], pd.DataFrame]:
    config, arm, seed = context.config, cell.arm, cell.seed
    if arm in OVERSAMPLERS:
        aug = oversampled_rows(
            arm, scarce, scarce_class=context.scarce_class, count=count, seed=seed
        )
    else:
        aug = generated_rows(
            arm,
            scarce,
            verifier,
            scarce_class=context.scarce_class,
            count=count,
            source_rows=source_rows,
            seed=seed,
            n_cfs=config.n_cfs,
            options=context.arm_options(arm),
            llm_cache=None,  # an LLM arm's backend carries its cache
            max_rounds=config.max_rounds,
            max_queries=config.max_queries,
            min_proba=config.min_proba,
            progress=context.progress,
        )
    model = _fit(scarce, config, seed, context.scarce_class, extra=aug.rows)
    kind = "oversampler" if arm in OVERSAMPLERS else "generator"
    record = {
        "arm": arm,
        "kind": kind,
        "verifier": config.verifier if kind == "generator" else "",
        "n_train": len(scarce) + len(aug.rows),
        "rows_target": count,
        "rows_added": len(aug.rows),
        "queries": aug.asked,
        "candidates": aug.candidates,
        "rejected_invalid": aug.invalid,
        "rejected_violations": aug.violating,
        "seconds": aug.seconds,
        "llm_calls": aug.llm_calls,
        "tokens": aug.tokens,
        "error": aug.error,
        **score(model, test),
    }
    return record, aug.rows
