"""The augmentation study: scarcity scenarios × seeds × arms, resumable cell by cell.

For each seed the data are split once (grouped by person when the spec names a group column);
the test split is never touched. The ``full`` arm trains on the whole training split; for each
scenario, ``scarce`` trains on what is left after removing a share of one class, and every
other arm on the scarce set plus the rows it adds. Every arm fits the same estimator with the
same hyperparameters and seed. Each finished (scenario, seed, arm) cell is written to
``OUT/cells/`` at once (its rows first, its JSON record last), so a killed study resumes; LLM
calls go through a cache in ``OUT/llm-cache.sqlite``, so a rerun makes no new calls.

>>> AugmentationConfig(generators="oracle,dice-random", scenarios="0.5").scenarios
[0.5]
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, field_validator

from sensecf.augmentation.arms import (
    OVERSAMPLERS,
    augmentation_spec,
    check_arm,
    fit_classifier,
    generated_rows,
    oversampled_rows,
)
from sensecf.augmentation.measures import add_recovery, score, summarise
from sensecf.augmentation.scenarios import Scenario, check_share, make_scarce
from sensecf.data.constraints import changed, count_changes
from sensecf.data.dataset import Dataset
from sensecf.data.io import read_table_file, write_json, write_table, write_text
from sensecf.errors import SensecfError
from sensecf.generators.llm.candidates import near_current
from sensecf.models import TrainedClassifier, split_rows
from sensecf.settings import RunSettings

DEFAULT_GENERATORS = ("oracle", "dice-random", "nice-sparsity")
CELLS = "cells"


class AugmentationConfig(RunSettings):
    """What the study runs. Loads from YAML (``sensecf augment --config FILE``).

    ``generators``: names, or a mapping of name → options (e.g. LLM backend settings).
    ``scarce_class``: the class whose rows are removed (default: the data's minority class).
    ``target``: how many rows an arm adds — ``restore`` the removed count, or ``balance`` the
    classes — capped by ``max_generated``. ``verifier``: which classifier accepts generated
    rows — ``scarce`` (trained on the scarce set, what a researcher has) or ``full`` (trained on
    the full training split; it leaks the removed labels and is reported as such).
    ``n_cfs``, ``max_rounds`` and ``max_queries``: counterfactuals per query, rounds of
    queries, and the most queries one generator may ask per cell (its budget).
    ``min_proba``: a safety margin for generated rows — generators search until the verifier
    gives the scarce class at least this probability, so the rows sit inside the class rather
    than on the scarce model's boundary (``None``: the decision rule alone).
    """

    kind = "augmentation"
    path_fields = ("data", "out")

    data: Path | None = None
    out: Path | None = None
    generators: list[str] | dict[str, dict[str, Any]] = Field(
        default_factory=lambda: list(DEFAULT_GENERATORS)
    )
    oversamplers: list[str] = Field(default_factory=lambda: list(OVERSAMPLERS))
    scenarios: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.75])
    scarce_class: int | None = None
    seeds: int = Field(default=5, ge=1)
    estimator: str = "rf"
    params: dict[str, Any] | None = None
    test_size: float = Field(default=0.25, gt=0, lt=1)
    target: Literal["restore", "balance"] = "restore"
    max_generated: int | None = Field(default=None, ge=1)
    verifier: Literal["scarce", "full"] = "scarce"
    n_cfs: int = Field(default=1, ge=1)
    max_rounds: int = Field(default=3, ge=1)
    max_queries: int | None = Field(default=None, ge=1)
    min_proba: float | None = Field(default=None, gt=0, lt=1)
    plots: bool = True

    @field_validator("generators", "oversamplers", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, dict):
            return {str(k): (v or {}) for k, v in value.items()}
        return value

    @field_validator("scenarios", mode="before")
    @classmethod
    def _shares(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (int, float)):
            value = [value]
        return value

    @field_validator("scenarios")
    @classmethod
    def _check_shares(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("at least one scarcity share is needed")
        return [check_share(v) for v in value]

    def arm_names(self) -> list[str]:
        """Generator arms, then oversampling arms, in the order given."""
        names = [*self.generators, *self.oversamplers]
        for name in names:
            check_arm(name)
        return list(dict.fromkeys(names))

    def options(self, name: str) -> dict[str, Any]:
        """Options for one generator (empty unless the config maps the name to some)."""
        return dict(self.generators.get(name, {})) if isinstance(self.generators, dict) else {}


@dataclass
class AugmentationResult:
    """What the study produced.

    ``results``: one row per (scenario, seed, arm) with the scores, gains and recoveries,
    rows added and their cost; ``summary``: means and 95% intervals over seeds per scenario
    and arm; ``rows``: every added row with its provenance; ``feature_changes``: per generator
    and feature, the share of its rows that changed the feature from their source row;
    ``placement``: per arm, where its rows sit among the real rows (:func:`row_placement`).
    """

    results: pd.DataFrame
    summary: pd.DataFrame
    rows: pd.DataFrame
    feature_changes: pd.DataFrame
    placement: pd.DataFrame
    config: AugmentationConfig
    out_dir: Path | None = None
    plots: list[Path] = field(default_factory=list)


def augmentation_study(
    data: Dataset,
    config: AugmentationConfig | None = None,
    *,
    out_dir: str | os.PathLike | None = None,
    progress: bool = False,
    log: Any = None,
    saved_only: bool = False,
    **settings: Any,
) -> AugmentationResult:
    """Run the study on ``data``; ``settings`` override fields of ``config``.

    ``log`` takes one line of text per finished cell. With ``out_dir`` every cell is saved as
    it finishes and reused on a rerun with the same settings, and the tables, the Markdown
    summary and the plots are written there. ``saved_only`` reads a study that is still
    running or was stopped: only the cells already saved under ``out_dir`` with these settings
    are used (a seed without its ``full`` cell, a scenario without its ``scarce`` cell are left
    out), nothing is computed and nothing is written.

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
    say = log or (lambda line: None)
    arms = config.arm_names()
    spec = augmentation_spec(data.spec)
    data = data.with_spec(spec)
    scarce_class = _scarce_class(data, config)
    scenarios = [Scenario(share, scarce_class) for share in config.scenarios]
    data_key = _data_key(data)
    if out is not None and not saved_only:
        out.mkdir(parents=True, exist_ok=True)
        dumped = config.model_dump(mode="json")
        write_text(out / "config.yaml", yaml.safe_dump(dumped, sort_keys=False))
    records: list[dict[str, Any]] = []
    added: list[pd.DataFrame] = []
    for seed in range(config.seeds):
        train_idx, test_idx = split_rows(data, config.test_size, seed)
        train_rows, test = data.subset(train_idx), data.subset(test_idx)
        full_model = _LazyModel(train_rows, config, seed, scarce_class)
        full, _ = _cell(
            out,
            ("full", f"seed{seed}", "full"),
            _fingerprint(data_key, config, "full", seed),
            partial(_reference_cell, full_model, test, "full"),
            say,
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
            }
            floor, _ = _cell(
                out,
                (scenario.name, f"seed{seed}", "scarce"),
                _fingerprint(data_key, config, "scarce", seed, scenario),
                partial(_reference_cell, scarce_model, test, "scarce"),
                say,
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
                llm_cache=out / "llm-cache.sqlite" if out is not None else None,
                progress=progress,
            )
            for arm in arms:
                record, rows = _cell(
                    out,
                    (scenario.name, f"seed{seed}", arm),
                    _fingerprint(data_key, config, arm, seed, scenario),
                    partial(arm_run, arm),
                    say,
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
    changes = _feature_changes(rows, data)
    placement = row_placement(rows, data, scarce_class)
    study = AugmentationResult(results, summary, rows, changes, placement, config, out)
    if out is not None and not saved_only:
        _write(study, data, out)
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


def _data_key(data: Dataset) -> str:
    hashed = pd.util.hash_pandas_object(data.frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + data.spec.to_yaml().encode()).hexdigest()[:16]


def _fingerprint(
    data_key: str,
    config: AugmentationConfig,
    arm: str,
    seed: int,
    scenario: Scenario | None = None,
) -> str:
    """What a saved cell must match to be reused."""
    key: dict[str, Any] = {
        "data": data_key,
        "arm": arm,
        "seed": seed,
        "estimator": config.estimator,
        "params": config.params,
        "test_size": config.test_size,
    }
    if scenario is not None:
        key["scenario"] = [scenario.share, scenario.scarce_class]
    if arm not in ("full", "scarce"):
        key |= {"target": config.target, "max_generated": config.max_generated}
    if arm not in ("full", "scarce", *OVERSAMPLERS):
        key |= {
            "verifier": config.verifier,
            "n_cfs": config.n_cfs,
            "max_rounds": config.max_rounds,
            "max_queries": config.max_queries,
            "options": config.options(arm),
        }
        if config.min_proba is not None:  # absent from older cells' keys, which stay valid
            key["min_proba"] = config.min_proba
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cell(
    out: Path | None,
    parts: tuple[str, str, str],
    fingerprint: str,
    compute: Any,
    say: Any,
    saved_only: bool = False,
) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    """A saved cell when its fingerprint matches, else computed and saved (rows, then JSON);
    ``(None, empty)`` for a cell not saved yet when ``saved_only``."""
    label = "/".join(parts)
    folder = out.joinpath(CELLS, *parts) if out is not None else None
    if folder is not None and (folder / "cell.json").is_file():
        saved = json.loads((folder / "cell.json").read_text(encoding="utf-8"))
        if saved.get("fingerprint") == fingerprint:
            rows_path = folder / "rows.parquet"
            rows = read_table_file(rows_path) if rows_path.is_file() else pd.DataFrame()
            say(f"↺ {label}: reused")
            return saved["record"], rows
    if saved_only:
        say(f"· {label}: not finished")
        return None, pd.DataFrame()
    start = time.perf_counter()
    record, rows = compute()
    record = {**record, "cell_seconds": time.perf_counter() - start}
    if folder is not None:
        if len(rows):
            write_table(rows, folder / "rows.parquet")
        write_json(folder / "cell.json", {"fingerprint": fingerprint, "record": record})
    added = f", {record['rows_added']} rows added" if record.get("rows_added") else ""
    failed = f" ({record['error']})" if record.get("error") else ""
    say(f"✓ {label}: macro-F1 {record['macro_f1']:.3f}{added}{failed}")
    return record, rows


def _feature_changes(rows: pd.DataFrame, data: Dataset) -> pd.DataFrame:
    """Per generator and feature: the share of its rows that changed the feature."""
    names = data.spec.feature_names
    if rows.empty or "source_row" not in rows or rows["source_row"].isna().all():
        return pd.DataFrame(columns=["arm", "feature", "changed_share", "n_rows"])
    generated = rows[rows["source_row"].notna()]
    sources = data.X.to_numpy(dtype=float)[generated["source_row"].to_numpy(dtype=int)]
    moved = changed(sources, generated[names].to_numpy(dtype=float))
    frame = pd.DataFrame(moved, columns=names).assign(arm=generated["arm"].to_numpy())
    shares = frame.groupby("arm", sort=False)[names].mean()
    table = shares.stack().rename("changed_share").reset_index()
    table.columns = ["arm", "feature", "changed_share"]
    return table.assign(n_rows=table["arm"].map(frame.groupby("arm").size()))


PLACEMENT_NEIGHBOURS = 5


def row_placement(
    rows: pd.DataFrame, data: Dataset, scarce_class: int, neighbours: int = PLACEMENT_NEIGHBOURS
) -> pd.DataFrame:
    """Per arm: how far its rows moved from their source rows, and which real rows they sit among.

    ``features_changed``: the mean number of features a row changed from its source row,
    derived features left out (arms with source rows only); ``scarce_neighbours``: the scarce
    class's share among each row's ``neighbours`` nearest real rows of ``data`` (standardised
    features; a row's own source row left out), averaged over the arm's rows.
    ``data_scarce_share`` is what rows placed at random would score: a minimal counterfactual
    sits just across the boundary among rows of its source's class and scores low, a SMOTE row
    among real scarce-class rows scores high.
    ``copies_real``: the share of rows whose mutable features all equal (within half a step)
    those of a real row other than their source row — a few-shot prompt's examples are real
    rows, so this is how often a language model handed back an example whole.

    >>> from sensecf.data.spec import infer_spec
    >>> df = pd.DataFrame({"x": np.arange(20.0), "y": [0] * 10 + [1] * 10})
    >>> data = Dataset(df, infer_spec(df, "y"))
    >>> added = pd.DataFrame({"x": [9.4, 18.0], "y": 1, "arm": "cf", "source_row": [9, 3]})
    >>> placed = row_placement(added, data, 1, neighbours=2)
    >>> placed[["features_changed", "copies_real", "scarce_neighbours"]].iloc[0].tolist()
    [1.0, 0.5, 0.75]
    """
    from sklearn.neighbors import NearestNeighbors

    columns = [
        "arm",
        "n_rows",
        "features_changed",
        "copies_real",
        "scarce_neighbours",
        "data_scarce_share",
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    names = data.spec.feature_names
    real = data.X.to_numpy(dtype=float)
    median = np.nanmedian(real, axis=0)
    std = np.nanstd(real, axis=0)
    scale = np.where(std > 0, std, 1.0)

    def standardised(X: np.ndarray) -> np.ndarray:
        return (np.where(np.isnan(X), median, X) - median) / scale

    k = min(neighbours, len(real) - 1)
    index = NearestNeighbors(n_neighbors=k + 1).fit(standardised(real))
    is_scarce = data.y.to_numpy() == scarce_class
    steps = np.array([float(f.step) for f in data.spec.features])
    mutable = np.array([f.is_mutable for f in data.spec.features])
    records = []
    for arm, part in rows.groupby("arm", sort=False):
        X = part[names].to_numpy(dtype=float)
        _, found = index.kneighbors(standardised(X))
        source = (
            part["source_row"].to_numpy(dtype=float)
            if "source_row" in part
            else np.full(len(part), np.nan)
        )
        shares, copies = [], []
        for row, near, own in zip(X, found, source, strict=True):
            kept = near[near != own][:k]  # without its source row, else the k nearest
            shares.append(is_scarce[kept].mean())
            same = near_current(real[:, mutable], row[mutable], steps[mutable])
            same |= np.isnan(real[:, mutable]) & np.isnan(row[mutable])
            copy = np.asarray(same.all(axis=1))
            if not np.isnan(own):
                copy[int(own)] = False
            copies.append(bool(copy.any()))
        has_source = ~np.isnan(source)
        moved = (
            count_changes(data.spec, real[source[has_source].astype(int)], X[has_source]).mean()
            if has_source.any()
            else np.nan
        )
        records.append(
            {
                "arm": arm,
                "n_rows": len(part),
                "features_changed": float(moved),
                "copies_real": float(np.mean(copies)),
                "scarce_neighbours": float(np.mean(shares)),
                "data_scarce_share": float(is_scarce.mean()),
            }
        )
    return pd.DataFrame.from_records(records, columns=columns)


def _write(study: AugmentationResult, data: Dataset, out: Path) -> None:
    from sensecf.augmentation.plots import write_plots
    from sensecf.augmentation.tables import summary_markdown

    write_table(study.results, out / "results.csv")
    write_table(study.results, out / "results.parquet")
    write_table(study.summary, out / "summary.csv")
    if len(study.rows):
        write_table(study.rows, out / "generated_rows.parquet")
    write_table(study.feature_changes, out / "feature_changes.csv")
    write_table(study.placement, out / "row_placement.csv")
    write_text(out / "summary.md", summary_markdown(study, data.spec))
    if study.config.plots:
        study.plots = write_plots(study, data, out)
