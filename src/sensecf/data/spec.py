"""The feature spec: what each feature means and how it may change.

Every generator, metric, prompt and report reads the same :class:`DatasetSpec`: a list of
:class:`FeatureSpec` entries plus the target, its class names, the desired class and the
relations between features (:mod:`sensecf.data.relations`: derived features and checks that
must hold). A feature may carry its wording for intervention text (:class:`Phrase`). Specs load
from and save to YAML, can be inferred from a DataFrame and then edited, and are validated when
built, with messages that name the feature or relation at fault.
"""

from __future__ import annotations

import itertools
import math
import os
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from sensecf.data.io import write_text
from sensecf.data.relations import Relation, check_relations, derivation_order
from sensecf.errors import DataError, SpecError

Kind = Literal["continuous", "integer", "binary", "categorical"]
Mutability = Literal["fixed", "increase", "decrease", "both"]

KINDS: tuple[str, ...] = ("continuous", "integer", "binary", "categorical")
MUTABILITIES: tuple[str, ...] = ("fixed", "increase", "decrease", "both")
# What a phrase's sentence may leave to fill in: the change with its unit, or the figure alone.
PHRASE_PLACEHOLDERS: tuple[str, ...] = ("amount", "number")
# The comment at the top of a spec written for a person to review and edit.
SPEC_GUIDE = """\
A sensecf dataset spec: review it and edit what the data could not tell.
Dataset fields:
  name, description   what the table is (description is shown in prompts and reports)
  target, classes     the label column and the name of each class
  desired_class       the class a counterfactual should reach (the healthy outcome)
  id_columns          columns that identify a row (never features); group_column: the person,
                      so train/test splits keep a person's rows together
Each feature:
  description, unit   its plain clinical meaning and unit (used in prompts and reports)
  group               sleep / glucose / activity / cardio / demographic / clinical ...
  kind                continuous | integer | binary | categorical (with levels, level_names)
  bounds              plausible lower and upper values of a counterfactual (not the data's
                      min/max: inferred bounds are the observed range widened by 10%)
  mutability          fixed | increase | decrease | both (age and sex are fixed; a resting heart
                      rate may only be lowered ...)
  step                the grain of generated values (1 step, 1 minute, 0.1 %)
  phrase              optional wording for intervention text (label, increase, decrease, terms)
  required            true: a row without a value for this feature is dropped when the table is
                      read (by default a row may miss values, which stay empty)
  cost                optional effort of a change: per_unit (effort of one unit of change, in
                      the feature's unit) and fixed (effort of changing it at all); the oracle
                      prefers cheaper changes and prompts name the cheaper features
relations (optional, at the end):
  - derived: FEATURE, formula: arithmetic over feature names (+ - * / **, abs, min, max);
    the feature is computed from the others, never proposed
  - check: an inequality or equality over features (<=, >=, ==) that must hold, with an
    optional tolerance
"""


class Phrase(BaseModel):
    """How a feature reads in intervention text; a field left empty is generated from the
    feature's unit and description (see :func:`sensecf.interventions.wording.feature_phrase`).

    - ``label``: a short noun phrase naming the feature ("average glucose");
    - ``increase`` / ``decrease``: the sentence for a rise / a fall, with its context ("a night",
      "a day"), where ``{amount}`` stands for the size of the change with its unit ("40 minutes",
      "8 percentage points") and ``{number}`` for the figure alone ("3,000"); the values before
      and after follow it in brackets;
    - ``terms``: words by which a text recognisably mentions the feature (checking a paraphrase).

    Level names of a coded feature are its ``level_names``.

    >>> p = Phrase(label="sleep", increase="Sleep {amount} more a night")
    >>> p.increase.format(amount="40 minutes")
    'Sleep 40 minutes more a night'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = ""
    increase: str = ""
    decrease: str = ""
    terms: tuple[str, ...] = ()

    @field_validator("increase", "decrease")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid template: {exc}") from None
        unknown = sorted({f for f in fields if f not in PHRASE_PLACEHOLDERS})
        if unknown:
            raise ValueError(
                f"a template may use {{amount}} or {{number}}; {value!r} uses "
                + ", ".join(f"{{{f}}}" for f in unknown)
            )
        return value

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, as plain YAML values.

        >>> Phrase(label="steps", terms=("step", "walk")).to_dict()
        {'label': 'steps', 'terms': ['step', 'walk']}
        """
        data = self.model_dump()
        data["terms"] = list(self.terms)
        return {k: v for k, v in data.items() if v}


class Cost(BaseModel):
    """The effort of changing a feature: ``per_unit`` for each unit of change (in the
    feature's own unit: a minute of sleep, a step) and ``fixed`` for changing it at all.

    A change of ``delta`` units costs ``fixed + per_unit * |delta|``; no change costs nothing.

    >>> Cost(per_unit=0.01, fixed=1.0).of(30.0)
    1.3
    >>> Cost(fixed=2).to_dict()
    {'per_unit': 0, 'fixed': 2}
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_unit: float = 0.0
    fixed: float = 0.0

    @field_validator("per_unit", "fixed")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"must be a finite number ≥ 0; got {value}")
        return value

    def of(self, delta: float) -> float:
        """The effort of a change of ``delta`` units (0 for no change)."""
        return 0.0 if delta == 0 else self.fixed + self.per_unit * abs(delta)

    def to_dict(self) -> dict[str, float | int | None]:
        """Both fields, as plain YAML numbers."""
        return {k: _plain_number(v) for k, v in self.model_dump().items()}


class FeatureSpec(BaseModel):
    """One feature: its meaning, kind, plausible bounds, allowed direction of change and grain.

    >>> f = FeatureSpec(name="steps", unit="steps/day", kind="integer", bounds=(0, 50000),
    ...                 mutability="increase", group="activity")
    >>> f.step, f.is_mutable
    (1.0, True)
    >>> f.round([1234.6]).tolist()
    [1235.0]

    ``required``: a row must have a value for this feature (rows without one are dropped when
    a table is read); by default a row may miss it.

    >>> FeatureSpec(name="spo2", bounds=(70, 100), required=True).required
    True

    ``cost``: the effort of changing it (:class:`Cost`); a feature without one is priced by
    its MAD-scaled change where efforts are compared (see
    :class:`~sensecf.data.scales.EffortPrices`).

    >>> FeatureSpec(name="steps", bounds=(0, 50000), cost={"per_unit": 0.001}).cost.per_unit
    0.001
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    unit: str = ""
    group: str = "other"
    kind: Kind = "continuous"
    levels: tuple[float, ...] | None = None
    level_names: tuple[str, ...] | None = None
    bounds: tuple[float, float]
    mutability: Mutability = "both"
    # The default grain depends on ``kind``: 0.01 for a continuous feature (the default kind),
    # 1 for counted or coded values. ``_default_step`` fills it before the fields are validated,
    # so ``step`` is always a number.
    step: float = 0.01
    phrase: Phrase | None = None
    required: bool = False
    cost: Cost | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_step(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("step") is None:
            kind = data.get("kind", "continuous")
            data = {**data, "step": 1.0 if kind != "continuous" else 0.01}
        return data

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value or not value.strip():
            raise ValueError("name must be a non-empty string")
        return value

    @field_validator("bounds")
    @classmethod
    def _bounds_ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        lower, upper = value
        if not (math.isfinite(lower) and math.isfinite(upper)):
            raise ValueError(f"bounds must be finite numbers; got {list(value)}")
        if lower >= upper:
            raise ValueError(f"lower bound must be below the upper bound; got {list(value)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        lower, upper = self.bounds
        if self.kind == "binary":
            levels = self.levels if self.levels is not None else (0.0, 1.0)
            if tuple(sorted(levels)) != (0.0, 1.0):
                raise ValueError(f"a binary feature has levels [0, 1]; got {list(levels)}")
            object.__setattr__(self, "levels", (0.0, 1.0))
        if self.kind == "categorical":
            if not self.levels or len(self.levels) < 2:
                raise ValueError("a categorical feature needs `levels` (at least two codes)")
            if len(set(self.levels)) != len(self.levels):
                raise ValueError(f"levels must be distinct; got {list(self.levels)}")
            object.__setattr__(self, "levels", tuple(sorted(self.levels)))
        elif self.kind in ("continuous", "integer") and self.levels is not None:
            raise ValueError(
                f"`levels` is only for binary or categorical features, not {self.kind}"
            )
        if self.levels is not None:
            outside = [v for v in self.levels if not lower <= v <= upper]
            if outside:
                raise ValueError(f"levels {outside} lie outside bounds {list(self.bounds)}")
        if self.level_names is not None and (
            self.levels is None or len(self.level_names) != len(self.levels)
        ):
            raise ValueError("`level_names` needs one name per level")
        if not (math.isfinite(self.step) and self.step > 0):
            raise ValueError(f"step must be a positive number; got {self.step}")
        if self.kind in ("integer", "binary", "categorical") and self.step != int(self.step):
            raise ValueError(f"a {self.kind} feature needs a whole-number step; got {self.step}")
        return self

    @property
    def is_mutable(self) -> bool:
        """True unless the feature is ``fixed``."""
        return self.mutability != "fixed"

    @property
    def is_discrete(self) -> bool:
        """True for binary and categorical features (values come from ``levels``)."""
        return self.levels is not None

    def round(self, values: Iterable[float] | np.ndarray) -> np.ndarray:
        """Round values to the feature's grain (its step, or its nearest level), within bounds."""
        arr = np.asarray(values, dtype=float)
        if self.levels is not None:
            levels = np.asarray(self.levels, dtype=float)
            nearest = np.abs(arr[..., None] - levels).argmin(axis=-1)
            return np.where(np.isnan(arr), np.nan, levels[nearest])
        step = self.step
        rounded = np.round(arr / step) * step
        # Keep decimals tidy (0.30000000000000004 → 0.3) so values print as a person expects.
        decimals = max(0, -int(math.floor(math.log10(step)))) + 2 if step < 1 else 0
        return np.clip(np.round(rounded, decimals), *self.bounds)

    def label(self, value: float) -> str:
        """Readable value: the level name for a coded feature, else the number with its unit."""
        if self.level_names is not None and self.levels is not None and value in self.levels:
            return self.level_names[self.levels.index(value)]
        text = f"{value:g}"
        return f"{text} {self.unit}".strip()


class DatasetSpec(BaseModel):
    """A dataset's features plus its target, class names and the desired (healthy) class.

    >>> spec = DatasetSpec(
    ...     target="high_stress", classes={0: "not high stress", 1: "high stress"},
    ...     desired_class=0,
    ...     features=[FeatureSpec(name="sleep_min", bounds=(0, 960), mutability="increase")])
    >>> spec.flagged_class, spec.feature_names
    (1, ['sleep_min'])
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "dataset"
    description: str = ""
    target: str
    classes: dict[int, str]
    desired_class: int
    id_columns: tuple[str, ...] = ()
    group_column: str | None = None
    features: tuple[FeatureSpec, ...]
    relations: tuple[Relation, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if not self.features:
            raise ValueError("a spec needs at least one feature")
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"feature names must be unique; repeated: {duplicates}")
        if len(self.classes) < 2:
            raise ValueError(f"`classes` needs at least two classes; got {self.classes}")
        if self.desired_class not in self.classes:
            raise ValueError(
                f"desired_class must be one of {sorted(self.classes)}; got {self.desired_class}"
            )
        reserved = {self.target, *self.id_columns}
        clash = sorted(reserved & set(names))
        if clash:
            raise ValueError(f"the target and id columns cannot also be features: {clash}")
        if self.group_column is not None and self.group_column not in self.id_columns:
            raise ValueError(
                f"group_column {self.group_column!r} must be one of id_columns {list(self.id_columns)}"
            )
        check_relations(self.relations, names)
        return self

    # ---- lookups -------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        """Names of all features, in spec order."""
        return [f.name for f in self.features]

    @property
    def required_features(self) -> list[str]:
        """Names of the features every row must have a value for, in spec order.

        >>> spec = infer_spec(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "y": [0, 1]}), "y")
        >>> spec.update_feature("b", required=True).required_features
        ['b']
        """
        return [f.name for f in self.features if f.required]

    @property
    def has_costs(self) -> bool:
        """Whether any feature states the effort of changing it (a ``cost``)."""
        return any(f.cost is not None for f in self.features)

    @property
    def mutable_features(self) -> list[FeatureSpec]:
        """Features that an intervention may change."""
        return [f for f in self.features if f.is_mutable]

    @property
    def flagged_class(self) -> int:
        """The class a person is flagged for (the other class of a binary target)."""
        others = [c for c in self.classes if c != self.desired_class]
        if len(others) != 1:
            raise SpecError("flagged_class is defined for binary targets only")
        return others[0]

    def feature(self, name: str) -> FeatureSpec:
        """The spec of one feature, by name."""
        for f in self.features:
            if f.name == name:
                return f
        raise SpecError(f"unknown feature {name!r}; the spec has {self.feature_names}")

    def replace(self, **changes: Any) -> DatasetSpec:
        """A copy with some top-level fields changed (validated again)."""
        data = self.to_dict()
        data.update(changes)
        return DatasetSpec.from_dict(data)

    def update_feature(self, name: str, **changes: Any) -> DatasetSpec:
        """A copy with one feature's fields changed, e.g. ``update_feature("age", mutability="fixed")``.

        >>> spec = infer_spec(pd.DataFrame({"age": [40, 50], "y": [0, 1]}), target="y")
        >>> spec.update_feature("age", mutability="fixed").feature("age").mutability
        'fixed'
        """
        self.feature(name)
        data = self.to_dict()
        for entry in data["features"]:
            if entry["name"] == name:
                entry.update(changes)
        return DatasetSpec.from_dict(data)

    def drop_features(self, names: Iterable[str]) -> DatasetSpec:
        """A copy without the named features (and without the relations that involve them)."""
        names = set(names)
        for name in names:
            self.feature(name)
        data = self.to_dict()
        data["features"] = [f for f in data["features"] if f["name"] not in names]
        kept = [r.to_dict() for r in self.relations if not names & set(r.features)]
        data.pop("relations", None)
        if kept:
            data["relations"] = kept
        return DatasetSpec.from_dict(data)

    @property
    def derived_features(self) -> list[str]:
        """Features computed from others by a ``derived`` relation (never proposed)."""
        return [str(r.derived) for r in self.relations if r.derived is not None]

    @property
    def proposable_features(self) -> list[FeatureSpec]:
        """Mutable features that are not derived: what a generator may propose values for."""
        derived = set(self.derived_features)
        return [f for f in self.mutable_features if f.name not in derived]

    # ---- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists, not tuples) that round-trips through YAML."""
        data = self.model_dump(mode="python")
        data["id_columns"] = list(self.id_columns)
        data["features"] = [_feature_to_dict(f) for f in self.features]
        data.pop("relations")
        if self.relations:
            data["relations"] = [r.to_dict() for r in self.relations]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "spec") -> DatasetSpec:
        """Build and validate a spec; errors name the feature and the problem."""
        if not isinstance(data, Mapping):
            raise SpecError(
                f"{source}: expected a mapping at the top level; got {type(data).__name__}"
            )
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise SpecError(_format_validation_error(exc, data, source)) from None

    def to_yaml(self, path: str | os.PathLike | None = None, *, header: str = "") -> str:
        """The spec as YAML text; also written (atomically) to ``path`` if given.

        ``header`` is written first as ``#`` comments (e.g. :data:`SPEC_GUIDE`).

        >>> spec = infer_spec(pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}), target="y")
        >>> spec.to_yaml(header="Edit me.").splitlines()[:2]
        ['# Edit me.', 'name: dataset']
        """
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)
        if header:
            comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
            text = comment + text
        if path is not None:
            write_text(path, text)
        return text

    @classmethod
    def from_yaml(cls, path_or_text: str | os.PathLike) -> DatasetSpec:
        """Load a spec from a YAML file (or YAML text)."""
        source = "spec"
        text = str(path_or_text)
        if isinstance(path_or_text, os.PathLike) or (
            "\n" not in text and text.endswith((".yaml", ".yml"))
        ):
            path = Path(path_or_text)
            if not path.is_file():
                raise SpecError(f"spec file not found: {path}")
            source, text = str(path), path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecError(f"{source}: not valid YAML: {exc}") from None
        return cls.from_dict(data, source=source)

    # ---- data checks ---------------------------------------------------------------------
    def validate_frame(
        self, frame: pd.DataFrame, source: str = "table", require_target: bool = True
    ) -> pd.DataFrame:
        """Check a table against the spec and return it with numeric feature columns.

        Raises :class:`DataError` naming the file, column and row for a missing column, a
        non-numeric value, or a value that is not a level of a categorical feature. Values
        outside the plausible bounds are kept (bounds constrain generated values, not data).

        >>> spec = infer_spec(pd.DataFrame({"x": [1.0, 2.0], "y": [0, 1]}), target="y")
        >>> spec.validate_frame(pd.DataFrame({"x": ["3"], "y": [1]}))["x"].tolist()
        [3.0]
        """
        needed = [*self.id_columns, *self.feature_names]
        if require_target:
            needed.append(self.target)
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: missing column(s) {missing}; the spec expects {needed}")
        out = frame.copy()
        for feature in self.features:
            col = out[feature.name]
            numeric = pd.to_numeric(col, errors="coerce")
            bad = numeric.isna() & col.notna()
            if bad.any():
                row = bad.to_numpy().nonzero()[0][0]
                raise DataError(
                    f"{source}: feature {feature.name!r} must be numeric; "
                    f"row {row} holds {col.iloc[row]!r}"
                )
            numeric = numeric.astype(float)
            if feature.levels is not None:
                unknown = numeric.notna() & ~numeric.isin(feature.levels)
                if unknown.any():
                    row = unknown.to_numpy().nonzero()[0][0]
                    raise DataError(
                        f"{source}: feature {feature.name!r} takes levels {list(feature.levels)}; "
                        f"row {row} holds {numeric.iloc[row]:g}"
                    )
            out[feature.name] = numeric
        if require_target:
            target = pd.to_numeric(out[self.target], errors="coerce")
            unknown = target.isna() | ~target.isin(list(self.classes))
            if unknown.any():
                row = unknown.to_numpy().nonzero()[0][0]
                raise DataError(
                    f"{source}: target {self.target!r} takes classes {sorted(self.classes)}; "
                    f"row {row} holds {frame[self.target].iloc[row]!r}"
                )
            out[self.target] = target.astype(int)
        return out


def infer_spec(
    frame: pd.DataFrame,
    target: str,
    *,
    id_columns: Sequence[str] = (),
    group_column: str | None = None,
    classes: Mapping[int, str] | None = None,
    desired_class: int | None = None,
    fixed: Iterable[str] = (),
    name: str = "dataset",
    max_levels: int = 10,
    detect_sums: bool = False,
) -> DatasetSpec:
    """Infer a spec from a table, to be reviewed and edited.

    Kinds come from the values (0/1 → binary; a few small repeated whole codes → categorical;
    other whole values → integer), bounds from the observed range widened by 10% of the span, and steps from the
    values' decimal grain. Every feature starts mutable in both directions except ``fixed``.
    ``detect_sums=True`` proposes a ``derived`` relation for each feature that equals the sum
    of two or three others on every row (total sleep = its stages), to be reviewed.

    >>> df = pd.DataFrame({"age": [41, 62, 55], "smoker": [0, 1, 0],
    ...                    "sleep_h": [6.5, 7.25, 8.0], "y": [1, 0, 0]})
    >>> spec = infer_spec(df, target="y", fixed=["age"])
    >>> [(f.name, f.kind, f.mutability) for f in spec.features]
    [('age', 'integer', 'fixed'), ('smoker', 'binary', 'both'), ('sleep_h', 'continuous', 'both')]
    """
    if target not in frame.columns:
        raise DataError(
            f"target column {target!r} not in the table; columns are {list(frame.columns)}"
        )
    fixed = set(fixed)
    skip = {target, *id_columns}
    unknown_fixed = fixed - set(frame.columns)
    if unknown_fixed:
        raise DataError(f"`fixed` names columns not in the table: {sorted(unknown_fixed)}")
    features = []
    for column in frame.columns:
        if column in skip:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().all():
            raise DataError(
                f"column {column!r} has no numeric values; encode it as numbers or list it in id_columns"
            )
        features.append(_infer_feature(column, values.dropna(), column in fixed, max_levels))
    labels = sorted(pd.to_numeric(frame[target], errors="raise").dropna().astype(int).unique())
    if classes is None:
        classes = {int(c): f"{target}={c}" for c in labels}
    if desired_class is None:
        desired_class = min(classes)  # by convention 0 = healthy / not flagged
    relations: list[Relation] = []
    if detect_sums:
        names = [f.name for f in features]
        table = frame[names].apply(pd.to_numeric, errors="coerce").dropna().to_numpy(dtype=float)
        relations = _exact_sums(table, names)
    return DatasetSpec(
        name=name,
        target=target,
        classes=dict(classes),
        desired_class=desired_class,
        id_columns=tuple(id_columns),
        group_column=group_column,
        features=tuple(features),
        relations=tuple(relations),
    )


def _exact_sums(X: np.ndarray, names: list[str], max_features: int = 40) -> list[Relation]:
    """Derived relations ``t = a + b (+ c)`` that hold on every row (to 1e-6, relatively).

    >>> X = np.array([[1.0, 2.0, 3.0, 9.0], [4.0, 1.0, 5.0, 0.0], [2.0, 2.0, 4.0, 1.0]])
    >>> [r.text for r in _exact_sums(X, ["a", "b", "total", "other"])]
    ['total = a + b']
    """
    n = X.shape[1]
    if len(X) < 3 or n < 3 or n > max_features:
        return []
    varying = [j for j in range(n) if np.ptp(X[:, j]) > 0]
    sample = X[: min(len(X), 50)]
    tol = 1e-6 * np.maximum(1.0, np.abs(X))

    slack = tol[: len(sample)]
    found: list[Relation] = []
    derived: set[int] = set()
    for size in (2, 3):
        for parts in itertools.combinations(varying, size):
            if derived & set(parts):
                continue
            total = sample[:, list(parts)].sum(axis=1)
            matches = np.all(np.abs(total[:, None] - sample) <= slack, axis=0)
            for t in np.flatnonzero(matches):
                if t in parts or t in derived or t not in varying:
                    continue
                full = np.abs(X[:, list(parts)].sum(axis=1) - X[:, t]) <= tol[:, t]
                if not full.all():
                    continue
                relation = Relation(
                    name=f"{names[t]} as a sum",
                    derived=names[t],
                    formula=" + ".join(names[j] for j in parts),
                )
                try:
                    derivation_order([*found, relation])
                except ValueError:
                    continue
                found.append(relation)
                derived.add(int(t))
    return found


def _infer_feature(name: str, values: pd.Series, fixed: bool, max_levels: int) -> FeatureSpec:
    arr = values.to_numpy(dtype=float)
    lo, hi = float(arr.min()), float(arr.max())
    whole = bool(np.all(np.equal(np.mod(arr, 1), 0)))
    uniques = np.unique(arr)
    mutability: Mutability = "fixed" if fixed else "both"
    if set(uniques.tolist()) <= {0.0, 1.0}:
        return FeatureSpec(name=name, kind="binary", bounds=(0, 1), mutability=mutability)
    # Small non-negative codes that repeat look like categories (chest-pain type 1-4); a handful
    # of distinct ages in a tiny table do not.
    looks_coded = lo >= 0 and hi <= 20 and len(arr) >= 2 * len(uniques)
    if whole and len(uniques) <= max_levels and looks_coded:
        return FeatureSpec(
            name=name,
            kind="categorical",
            levels=tuple(uniques.tolist()),
            bounds=(lo, hi),
            mutability=mutability,
        )
    margin = 0.1 * (hi - lo) if hi > lo else max(abs(hi), 1.0)
    lower = lo - margin if lo < 0 else max(0.0, lo - margin)
    upper = hi + margin
    if whole:
        return FeatureSpec(
            name=name,
            kind="integer",
            bounds=(math.floor(lower), math.ceil(upper)),
            mutability=mutability,
            step=1,
        )
    return FeatureSpec(
        name=name,
        kind="continuous",
        bounds=(lower, upper),
        mutability=mutability,
        step=_decimal_grain(arr),
    )


def step_decimals(step: float) -> int:
    """Decimals needed to write multiples of ``step`` exactly (0.1 → 1, 0.25 → 2, 5 → 0): how
    values on a feature's grain are written in prompts, schemas and intervention texts.

    >>> step_decimals(0.1), step_decimals(0.25), step_decimals(5)
    (1, 2, 0)
    """
    for decimals in range(7):
        scaled = step * 10**decimals
        if abs(scaled - round(scaled)) < 1e-9 * max(1.0, abs(scaled)):
            return decimals
    return 6


def _decimal_grain(arr: np.ndarray) -> float:
    """The coarsest power of ten that all values are multiples of (at most 4 decimals)."""
    for decimals in range(0, 5):
        scaled = arr * 10**decimals
        if np.allclose(scaled, np.round(scaled), atol=1e-6):
            return 10.0**-decimals
    return 1e-4


def _feature_to_dict(feature: FeatureSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": feature.name,
        "description": feature.description,
        "unit": feature.unit,
        "group": feature.group,
        "kind": feature.kind,
    }
    if feature.kind == "categorical":
        data["levels"] = [_plain_number(v) for v in feature.levels or ()]
    if feature.level_names is not None:
        data["level_names"] = list(feature.level_names)
    data["bounds"] = [_plain_number(v) for v in feature.bounds]
    data["mutability"] = feature.mutability
    data["step"] = _plain_number(feature.step)
    if feature.phrase is not None:
        data["phrase"] = feature.phrase.to_dict()
    if feature.required:  # written only when set, so specs without it read as before
        data["required"] = True
    if feature.cost is not None:
        data["cost"] = feature.cost.to_dict()
    return data


def _plain_number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _relation_where(relations: Any, index: int) -> str:
    entry = relations[index] if isinstance(relations, Sequence) and index < len(relations) else None
    if isinstance(entry, Mapping):
        label = entry.get("name") or entry.get("check") or entry.get("derived")
        if label:
            return f"relation {label!r}"
    return f"relations[{index}]"


def _format_validation_error(exc: ValidationError, data: Mapping[str, Any], source: str) -> str:
    features = data.get("features") if isinstance(data, Mapping) else None
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = "spec"
        if len(loc) >= 2 and loc[0] == "features" and isinstance(loc[1], int):
            index = loc[1]
            name = None
            if isinstance(features, Sequence) and index < len(features):
                entry = features[index]
                name = entry.get("name") if isinstance(entry, Mapping) else None
            where = f"feature {name!r}" if name else f"features[{index}]"
            loc = loc[2:]
        elif len(loc) >= 2 and loc[0] == "relations" and isinstance(loc[1], int):
            where = _relation_where(data.get("relations"), loc[1])
            loc = loc[2:]
        field = ".".join(str(p) for p in loc if not str(p).startswith("function-after"))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error" and field.endswith("kind"):
            message = f"must be one of {list(KINDS)}; got {err.get('input')!r}"
        elif err["type"] == "literal_error" and field.endswith("mutability"):
            message = f"must be one of {list(MUTABILITIES)}; got {err.get('input')!r}"
        elif err["type"] == "model_type" and field.endswith("cost"):
            message = f"expected a mapping with per_unit and/or fixed; got {err.get('input')!r}"
        problems.append(f"{where}: {field + ': ' if field else ''}{message}")
    return f"{source}: invalid spec — " + "; ".join(problems)
