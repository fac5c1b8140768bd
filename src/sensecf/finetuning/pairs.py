"""Supervised pairs (compact prompt → target changes) from a teacher, split by person.

The queries are every training-split row the classifier flags, plus, when given, rows of more
people (``more``: e.g. a further synthetic cohort; their rows the model flags). The teacher —
the oracle by default (several distinct minimal CFs per person), ``oracle-plausible`` (the
oracle held to the plausibility detector the benchmark judges by: fitted on the desired class's
training rows, calibrated on the model's held-out rows), ``dice`` (DiCE's genetic search) or
``llm`` (the few-shot LLM generator, verified) — proposes ``per_query`` CFs for each;
only valid, violation-free targets are kept, each moved onto the values the compact prompt
offers (:func:`snap`: the nearest offered value that goes at least as far) and verified by the
classifier again, so what the model learns is what its prompt and schema let it say. No person of the model's held-out
split ever becomes a pair (checked: :class:`~sensecf.errors.DataError` otherwise).

>>> TEACHERS
('oracle', 'oracle-plausible', 'dice', 'llm')
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.constraints import changed, recompute_known, violations
from sensecf.data.dataset import Dataset
from sensecf.errors import DataError, SensecfError
from sensecf.execution import Execution, UnitError
from sensecf.generators.llm.compact import CompactFormat
from sensecf.generators.llm.schema import plain_number
from sensecf.models.classifier import TrainedClassifier

TEACHERS = ("oracle", "oracle-plausible", "dice", "llm")
# The teachers that answer each person on their own (sent out in chunks, given a node budget).
ORACLE_TEACHERS = ("oracle", "oracle-plausible")
_TEACHER_GENERATOR = {
    "oracle": "oracle",
    "oracle-plausible": "oracle-plausible",
    "dice": "dice-genetic",
    "llm": "few-shot",
}
PAIR_COLUMNS = ("person", "origin", "query", "row", "messages", "answer", "n_changes", "teacher")


@dataclass
class PairSet:
    """The pairs (one row each: ``person``, ``origin`` train|more, ``query`` row number,
    ``row`` the query's feature values as JSON (spec order, ``null`` where nobody measured one:
    :func:`read_rows`), ``messages`` JSON, ``answer``, ``n_changes``, ``teacher``) and the counts behind them."""

    frame: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)


def person_ids(data: Dataset) -> np.ndarray:
    """Each row's person (the spec's group column; the row position when there is none)."""
    column = data.spec.group_column
    if column is None or column not in data.frame.columns:
        return np.arange(len(data)).astype(str)
    return data.frame[column].astype(str).to_numpy()


def heldout_people(model: TrainedClassifier, data: Dataset) -> set[str]:
    """The people of ``data`` in the model's held-out split."""
    _, test_rows = model.split_data(data)
    return set(person_ids(test_rows))


def build_pairs(
    model: TrainedClassifier,
    data: Dataset,
    *,
    fmt: CompactFormat | None = None,
    teacher: str = "oracle",
    per_query: int = 3,
    more: Dataset | None = None,
    max_queries: int | None = None,
    teacher_options: dict[str, Any] | None = None,
    seed: int = 0,
    progress: bool = False,
    execution: Execution | None = None,
) -> PairSet:
    """Pairs from the training-split rows of ``data`` the model flags (and ``more`` people's).

    ``more`` must not share a person with ``data``'s held-out split; its person ids are
    written with a ``more-`` prefix. ``max_queries``: a seeded sample of at most that many
    flagged rows from each source. ``teacher_options`` go to the teacher generator; a teacher
    held to plausibility (``oracle-plausible``) is held to the metric suite's detector
    (:func:`~sensecf.evaluation.metrics.share_detector`), fitted once here, and a target that
    is no inlier of it once snapped is dropped (``counts["implausible"]``); with a
    ``held_rate`` or ``held_neighbours`` among the options, at that stricter bar. A
    ``typical`` format's lines offer only values that meet that detector's bar too
    (:class:`~sensecf.generators.llm.compact.CompactFormat`).
    ``execution`` says where the teacher runs: the oracle answers each person on its own, so
    its queries go out in chunks of :data:`TEACHER_CHUNK` (the same pairs serial or parallel);
    the other teachers draw their randomness query after query and run as one unit a source.
    """
    from sensecf.generators.llm.finetuned import FineTunedGenerator

    if teacher not in TEACHERS:
        raise SensecfError(f"teacher must be one of {', '.join(TEACHERS)}; got {teacher!r}")
    if not isinstance(per_query, int) or per_query < 1:
        raise SensecfError(f"per_query must be a positive integer; got {per_query!r}")
    fmt = fmt or CompactFormat(target=model.spec.classes[model.spec.flagged_class])
    spec = model.spec
    train_rows, test_rows = model.split_data(data)
    heldout = set(person_ids(test_rows))  # the people of heldout_people(model, data)
    desired = spec.desired_class
    parts = [("train", _flagged(model, train_rows, max_queries, seed))]
    if more is not None:
        if more is data:
            raise DataError("`more` must hold other people than `data`")
        held_rows = {r.tobytes() for r in test_rows.X.to_numpy(dtype=float)}
        shared = [k for k, r in enumerate(more.X.to_numpy(dtype=float)) if r.tobytes() in held_rows]
        if shared:  # the same table again, or rows of held-out people under other ids
            raise DataError(
                f"`more` holds {len(shared)} row(s) of the model's held-out people "
                f"(row {shared[0]} first); give rows of other people"
            )
        parts.append(("more", _flagged(model, more, max_queries, seed)))
    counts = {"queries": 0, "proposed": 0, "valid": 0, "offered": 0}
    options = _held_teacher(teacher, dict(teacher_options or {}), model, train_rows, test_rows)
    detector = options.get("detector")
    # A typical format's lines keep the person typical by the detector the teacher is held to.
    lists = {"detector": detector} if fmt.typical and detector is not None else {}
    gen = FineTunedGenerator(format=fmt, **lists).fit(model, train_rows)
    rate, near = options.get("held_rate"), options.get("held_neighbours")
    if detector is not None:  # the bar the teacher was held to
        detector = detector.held_for(spec, rate, near)
    if detector is not None:
        counts["implausible"] = 0
    teacher_cfs = _teach(
        _Teacher(model, train_rows, teacher, options, per_query, seed),
        {origin: rows for origin, rows in parts},
        execution or Execution(),
        progress,
    )
    records: list[dict[str, Any]] = []
    for origin, rows in parts:
        if not len(rows):
            continue
        people = person_ids(rows)
        if origin == "more":
            people = np.array([f"more-{p}" for p in people])
        elif set(people) & heldout:  # cannot happen with a recorded split; guard the promise
            raise DataError(
                f"held-out people among the training pairs: {sorted(set(people) & heldout)[:5]}"
            )
        counts["queries"] += len(rows)
        X = rows.X.to_numpy(dtype=float)
        inputs, _ = gen.prompt_inputs(X, desired)
        cfs = teacher_cfs[origin]
        counts["proposed"] += len(cfs)
        if not len(cfs):
            continue
        query_ids = cfs["query_id"].to_numpy(dtype=int)
        C = cfs[spec.feature_names].to_numpy(dtype=float)
        ok = cfs["valid"].to_numpy(dtype=bool) & (
            violations(spec, X[query_ids], C)["total"].to_numpy() == 0
        )
        counts["valid"] += int(ok.sum())
        # Each target is moved onto the values its prompt offers, then verified again.
        kept: list[tuple[int, dict[str, int | float]]] = []
        snapped_rows = []
        for k in np.flatnonzero(ok):
            i = int(query_ids[k])
            current = {name: values[0] for name, values in inputs[i].offered.items()}
            changes = snap(_changes(spec, X[i], C[k]), inputs[i].offered, current)
            if changes is None:
                continue
            row = X[i].copy()
            for name, value in changes.items():
                row[spec.feature_names.index(name)] = value
            kept.append((i, changes))
            snapped_rows.append(row)
        if not kept:
            continue
        asked = X[[i for i, _ in kept]]
        # derived features follow their inputs, where they can be known
        S = recompute_known(spec, asked, np.vstack(snapped_rows), otherwise=asked)
        good = model.predict(S) == desired
        good &= violations(spec, asked, S)["total"].to_numpy() == 0
        if detector is not None:  # snapping may have moved a plausible target off the mark
            inlier = detector.holds(S)
            counts["implausible"] += int((good & ~inlier).sum())
            good &= inlier
        seen: set[tuple[int, str]] = set()
        for (i, changes), fine in zip(kept, good, strict=True):
            ctx = inputs[i]
            if not fine or not fmt.fits(changes, ctx.offered):
                continue
            answer = fmt.answer_text({n: changes[n] for n in ctx.offered if n in changes})
            if (i, answer) in seen:  # distinct targets only
                continue
            seen.add((i, answer))
            records.append(
                {
                    "person": str(people[i]),
                    "origin": origin,
                    "query": i,
                    "row": row_json(X[i]),
                    "messages": json.dumps(fmt.messages(ctx)),
                    "answer": answer,
                    "n_changes": len(changes),
                    "teacher": teacher,
                }
            )
    frame = pd.DataFrame(records, columns=list(PAIR_COLUMNS))
    counts["offered"] = len(frame)
    counts["people"] = int(frame["person"].nunique()) if len(frame) else 0
    return PairSet(frame, counts)


# Oracle queries per unit: small enough to spread over a few workers, large enough that a
# unit's start (fitting the teacher to the model) stays a small part of it.
TEACHER_CHUNK = 16


@dataclass(frozen=True)
class _Teacher:
    """What a teacher unit needs besides its queries."""

    model: TrainedClassifier
    train_rows: Dataset
    name: str
    options: dict[str, Any]
    per_query: int
    seed: int


@dataclass(frozen=True)
class _Lesson:
    """What every teacher unit reads: the teacher, and each source's rows (a unit's key says
    which rows of which source it asks about)."""

    teacher: _Teacher
    sources: dict[str, Dataset]


def _teach(
    teacher: _Teacher,
    sources: dict[str, Dataset],
    execution: Execution,
    progress: bool,
) -> dict[str, pd.DataFrame]:
    """The teacher's CFs for every source's rows (``query_id`` = row position in the source),
    computed in units wherever ``execution`` says and put back together in order."""
    chunk = TEACHER_CHUNK if teacher.name in ORACLE_TEACHERS else None
    keys = []
    for origin, rows in sources.items():
        size = chunk or max(len(rows), 1)
        keys += [
            (origin, start, min(start + size, len(rows))) for start in range(0, len(rows), size)
        ]
    parts: dict[tuple[str, int, int], pd.DataFrame] = {}
    execution.run(
        _teach_unit,
        _Lesson(teacher, sources),
        keys,
        on_result=parts.__setitem__,
        on_error=_raise,
        description=f"{teacher.name} teacher",
        progress=progress,
    )
    out = {}
    for origin in sources:
        mine = [parts[k] for k in keys if k[0] == origin]
        out[origin] = pd.concat(mine, ignore_index=True) if mine else pd.DataFrame()
    return out


def _teach_unit(lesson: _Lesson, key: tuple[str, int, int]) -> pd.DataFrame:
    from sensecf.generators.registry import make_generator

    origin, start, stop = key
    teacher = lesson.teacher
    rows = lesson.sources[origin].subset(np.arange(start, stop))
    generator = make_generator(_TEACHER_GENERATOR[teacher.name], **teacher.options)
    generator.fit(teacher.model, teacher.train_rows)
    cfs = generator.generate(rows, n_cfs=teacher.per_query, seed=teacher.seed).cfs.copy()
    cfs["query_id"] = cfs["query_id"].to_numpy(dtype=int) + start
    return cfs


def _held_teacher(
    teacher: str,
    options: dict[str, Any],
    model: TrainedClassifier,
    train_rows: Dataset,
    test_rows: Dataset,
) -> dict[str, Any]:
    """The teacher's options, with the detector it is held to where it is held to plausibility:
    the one the benchmark's metric suite judges by, fitted once for every unit."""
    from sensecf.evaluation.metrics import share_detector
    from sensecf.generators.registry import make_generator

    if teacher not in ORACLE_TEACHERS:  # the others are never held (an LLM would load here)
        return options
    generator = make_generator(_TEACHER_GENERATOR[teacher], **options)
    detector = share_detector(generator, model, train_rows, test_rows)
    return options if detector is None else {**options, "detector": detector}


def _raise(failure: UnitError[Any]) -> None:
    # Pairs with a hole would teach a different lesson than the run records: stop here.
    raise SensecfError(f"the teacher failed on {failure.key}: {failure.error}")


def row_json(values: np.ndarray) -> str:
    """A query's feature values (spec order) as a pair's ``row``: JSON, ``null`` for a value
    nobody measured; :func:`read_rows` reads it back.

    >>> row_json(np.array([420.0, np.nan]))
    '[420.0, null]'
    """
    return json.dumps([None if np.isnan(v) else float(v) for v in np.asarray(values, float)])


def read_rows(texts: Sequence[str] | pd.Series) -> np.ndarray:
    """Pairs' ``row`` texts as a matrix (rows × features, spec order), NaN where ``null``.

    >>> read_rows([row_json(np.array([420.0, np.nan])), "[400.0, 61.5]"]).tolist()
    [[420.0, nan], [400.0, 61.5]]
    """
    rows = [[np.nan if v is None else float(v) for v in json.loads(t)] for t in texts]
    return np.array(rows, dtype=float)


def split_pairs(
    pairs: pd.DataFrame, heldout_share: float = 0.1, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and held-out pairs, split by person (a person's pairs stay together).

    >>> frame = pd.DataFrame({"person": list("aabbccddee"), "answer": list("0123456789")})
    >>> fit, held = split_pairs(frame, 0.2, seed=0)
    >>> sorted(set(fit.person) & set(held.person)), len(fit) + len(held)
    ([], 10)
    """
    if not 0 <= heldout_share < 1:
        raise SensecfError(f"heldout_share must be in [0, 1); got {heldout_share!r}")
    people = np.array(sorted(pairs["person"].unique()))
    rng = np.random.default_rng(seed)
    n_held = int(round(heldout_share * len(people)))
    held = set(rng.choice(people, size=n_held, replace=False)) if n_held else set()
    mask = pairs["person"].isin(held).to_numpy()
    return pairs[~mask].reset_index(drop=True), pairs[mask].reset_index(drop=True)


def snap(
    changes: dict[str, int | float],
    offered: dict[str, list[int | float]],
    current: dict[str, int | float],
) -> dict[str, int | float] | None:
    """Each change moved onto an offered value on the same side of the current one: the
    nearest that goes at least as far, else the farthest; ``None`` when a changed feature is
    not in play or nothing is offered on its side.

    >>> snap({"a": 5}, {"a": [1, 3, 6, 9]}, {"a": 1}), snap({"a": 12}, {"a": [1, 3, 9]}, {"a": 1})
    ({'a': 6}, {'a': 9})
    >>> snap({"a": 0}, {"a": [1, 3]}, {"a": 1}) is None
    True
    """
    out: dict[str, int | float] = {}
    for name, value in changes.items():
        if name not in offered:
            return None
        base = current[name]
        side = [v for v in offered[name][1:] if (v - base) * (value - base) > 0]
        if not side:
            return None
        far = [v for v in side if abs(v - base) >= abs(value - base)]
        out[name] = (
            min(far, key=lambda v: abs(v - base)) if far else max(side, key=lambda v: abs(v - base))
        )
    return out


def _flagged(
    model: TrainedClassifier, rows: Dataset, limit: int | None = None, seed: int = 0
) -> Dataset:
    """The rows the model flags; a seeded sample of ``limit`` of them (in row order) if given."""
    if not len(rows):
        return rows
    keep = np.flatnonzero(model.predict(rows.X) != rows.spec.desired_class)
    if limit is not None and len(keep) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(keep, size=limit, replace=False))
    return rows.subset(keep)


def _changes(spec: Any, query: np.ndarray, cf: np.ndarray) -> dict[str, int | float]:
    """The proposable features a CF changes, written as the prompt writes values."""
    proposable = {f.name for f in spec.proposable_features}
    moved = changed(query[None, :], cf[None, :])[0]
    out: dict[str, int | float] = {}
    for j, f in enumerate(spec.features):
        if not moved[j] or f.name not in proposable or not np.isfinite(cf[j]):
            continue
        value = plain_number(cf[j], float(f.step))
        # a move within rounding of the current value (a search's grain) is no change to say
        if np.isfinite(query[j]) and value == plain_number(query[j], float(f.step)):
            continue
        out[f.name] = value
    return out
