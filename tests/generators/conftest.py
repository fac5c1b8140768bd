"""A small tabular task with every kind of constraint, shared by the generator tests."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from sensecf.data.dataset import Dataset
from sensecf.data.relations import Relation
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.models import TrainedClassifier, train


@dataclass
class Toy:
    data: Dataset
    model: TrainedClassifier
    train: Dataset
    test: Dataset


def toy_spec() -> DatasetSpec:
    return DatasetSpec.from_dict(
        {
            "name": "toy",
            "target": "risk",
            "classes": {0: "low risk", 1: "high risk"},
            "desired_class": 0,
            "id_columns": ["pid"],
            "group_column": "pid",
            "features": [
                {"name": "age", "kind": "integer", "bounds": [18, 90], "mutability": "fixed"},
                {
                    "name": "sleep",
                    "unit": "min",
                    "bounds": [180, 720],
                    "step": 1,
                    "mutability": "increase",
                    "group": "sleep",
                },
                {
                    "name": "steps",
                    "kind": "integer",
                    "bounds": [0, 30000],
                    "mutability": "increase",
                    "group": "activity",
                },
                {
                    "name": "hr",
                    "unit": "bpm",
                    "bounds": [40, 120],
                    "step": 0.1,
                    "mutability": "decrease",
                    "group": "cardio",
                },
                {"name": "smoker", "kind": "binary", "bounds": [0, 1], "mutability": "decrease"},
                {
                    "name": "shift",
                    "kind": "categorical",
                    "levels": [0, 1, 2],
                    "bounds": [0, 2],
                    "mutability": "both",
                },
            ],
        }
    )


def toy_frame(n_people: int = 60, days: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_people * days
    frame = pd.DataFrame(
        {
            "pid": np.repeat(np.arange(n_people), days),
            "age": np.repeat(rng.integers(30, 80, n_people), days),
            "sleep": np.round(rng.normal(420, 60, n).clip(200, 700)),
            "steps": rng.integers(1000, 15000, n),
            "hr": np.round(rng.normal(70, 8, n).clip(45, 110), 1),
            "smoker": np.repeat(rng.integers(0, 2, n_people), days),
            "shift": rng.integers(0, 3, n),
        }
    )
    score = (
        -(frame["sleep"] - 420) / 40
        - (frame["steps"] - 8000) / 3000
        + (frame["hr"] - 70) / 10
        + 0.8 * frame["smoker"]
        + rng.normal(0, 0.5, n)
    )
    frame["risk"] = (score > 0.8).astype(int)
    return frame


@pytest.fixture(scope="session")
def toy() -> Toy:
    data = Dataset(toy_frame(), toy_spec())
    model = train(data, "logreg", seed=0, importance_repeats=1)
    train_rows, test_rows = model.split_data(data)
    return Toy(data, model, train_rows, test_rows)


def risk_table(n: int = 240, seed: int = 0) -> Dataset:
    """Fixed age and sex, a 3-level group, and three mutable behaviours that drive the risk."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "pid": [f"p{i:03d}" for i in range(n)],
            "age": rng.integers(25, 75, n).astype(float),
            "sex": rng.integers(0, 2, n).astype(float),
            "group": rng.choice([1.0, 2.0, 3.0], n),
            "steps": rng.integers(2000, 15000, n).astype(float),
            "sleep_min": rng.normal(420, 50, n).round(1),
            "hr_rest": rng.normal(65, 8, n).round(1),
        }
    )
    risk = (
        -(frame["steps"] - 8000) / 3000
        - (frame["sleep_min"] - 420) / 50
        + (frame["hr_rest"] - 65) / 8
        + 0.3 * (frame["group"] == 3)
        + rng.normal(0, 0.5, n)
    )
    frame["risk"] = (risk > 0.8).astype(int)
    spec = DatasetSpec(
        target="risk",
        classes={0: "low risk", 1: "high risk"},
        desired_class=0,
        id_columns=("pid",),
        features=(
            FeatureSpec(name="age", kind="integer", bounds=(18, 100), mutability="fixed"),
            FeatureSpec(name="sex", kind="binary", bounds=(0, 1), mutability="fixed"),
            FeatureSpec(name="group", kind="categorical", levels=(1, 2, 3), bounds=(1, 3)),
            FeatureSpec(name="steps", kind="integer", bounds=(0, 50000), mutability="increase"),
            FeatureSpec(name="sleep_min", bounds=(0, 960), mutability="increase", step=0.1),
            FeatureSpec(name="hr_rest", bounds=(30, 130), mutability="decrease", step=0.1),
        ),
    )
    return Dataset(frame, spec)


@pytest.fixture(scope="session")
def risk_data() -> Dataset:
    """Rows of :func:`risk_table` (fixed age/sex, a coded group, three behaviours)."""
    return risk_table()


def relation_spec() -> DatasetSpec:
    """Sleep stages with a derived total, and a check: the very-low share within the low one."""
    return DatasetSpec(
        target="y",
        classes={0: "well", 1: "ill"},
        desired_class=0,
        features=[
            FeatureSpec(name="deep", bounds=(0, 300), step=1, mutability="increase"),
            FeatureSpec(name="light", bounds=(0, 600), step=1, mutability="both"),
            FeatureSpec(name="total", bounds=(0, 900), step=1, mutability="increase"),
            FeatureSpec(name="low", bounds=(0, 100), step=0.1, mutability="decrease"),
            FeatureSpec(name="very_low", bounds=(0, 100), step=0.1, mutability="both"),
        ],
        relations=[
            Relation(name="total sleep", derived="total", formula="deep + light"),
            Relation(name="very low within low", check="very_low <= low"),
        ],
    )


@pytest.fixture(scope="session")
def relation_task() -> tuple[Dataset, TrainedClassifier]:
    """Rows of :func:`relation_spec` that meet its relations, and a logistic model: ill when
    total sleep is short or the low share is high."""
    rng = np.random.default_rng(0)
    n = 300
    deep = rng.integers(20, 150, n).astype(float)
    light = rng.integers(150, 400, n).astype(float)
    low = np.round(rng.uniform(1, 20, n), 1)
    very_low = np.round(low * rng.uniform(0, 0.5, n), 1)
    frame = pd.DataFrame(
        {"deep": deep, "light": light, "total": deep + light, "low": low, "very_low": very_low}
    )
    frame["y"] = ((frame["total"] < 380) | (frame["low"] > 12)).astype(int)
    data = Dataset(frame, relation_spec())
    model = train(data, "logreg", importance_repeats=1)
    return data, model


@dataclass
class Gappy:
    """A task whose rows miss values, and flagged queries that each miss at least one."""

    model: TrainedClassifier
    train: Dataset
    queries: Dataset


def with_gaps(data: Dataset, seed: int = 0) -> Dataset:
    """``risk_table`` rows with gaps as real downloads have them: no sleep for a fifth of the
    rows, no heart rate for a sixth, and the coded group unknown for a tenth."""
    rng = np.random.default_rng(seed)
    frame = data.frame.copy()
    n = len(frame)
    for name, share in (("sleep_min", 0.2), ("hr_rest", 0.15), ("group", 0.1)):
        frame.loc[rng.random(n) < share, name] = np.nan
    return Dataset(frame, data.spec)


@pytest.fixture(scope="session")
def gappy() -> Gappy:
    """A logistic model trained on :func:`with_gaps` rows (its imputer fills the gaps) and up to
    eight flagged held-out queries, each missing at least one feature."""
    from sensecf.generators.base import select_queries

    data = with_gaps(risk_table(n=400))
    model = train(data, "logreg", importance_repeats=1)
    train_rows, test_rows = model.split_data(data)
    flagged = select_queries(model, test_rows)
    lacking = flagged.frame[data.spec.feature_names].isna().any(axis=1).to_numpy()
    queries = flagged.subset(lacking)
    queries = queries.subset(np.arange(min(8, len(queries))))
    return Gappy(model, train_rows, queries)
