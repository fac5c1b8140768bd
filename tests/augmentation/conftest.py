"""A small grouped task (three days per person, a fixed feature, directed features) for the
augmentation tests: class 1 (high risk) is the minority."""

import numpy as np
import pandas as pd
import pytest

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec


def toy_spec(group: bool = True) -> DatasetSpec:
    return DatasetSpec.from_dict(
        {
            "name": "toy",
            "target": "risk",
            "classes": {0: "low risk", 1: "high risk"},
            "desired_class": 0,
            "id_columns": ["pid", "day"],
            "group_column": "pid" if group else None,
            "features": [
                {"name": "age", "kind": "integer", "bounds": [18, 90], "mutability": "fixed"},
                {"name": "sleep", "bounds": [180, 720], "step": 1, "mutability": "increase"},
                {
                    "name": "steps",
                    "kind": "integer",
                    "bounds": [0, 30000],
                    "mutability": "increase",
                },
                {"name": "hr", "bounds": [40, 120], "step": 0.1, "mutability": "decrease"},
            ],
        }
    )


def toy_frame(people: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = people * 3
    frame = pd.DataFrame(
        {
            "pid": np.repeat(np.arange(people), 3),
            "day": np.tile(np.arange(3), people),
            "age": np.repeat(rng.integers(20, 80, people), 3),
            "sleep": rng.normal(420, 50, n).clip(200, 700).round(),
            "steps": rng.normal(8000, 2500, n).clip(0, 29000).round(),
            "hr": rng.normal(65, 7, n).clip(45, 110).round(1),
        }
    )
    risk = (
        -(frame["sleep"] - 420) / 50
        - (frame["steps"] - 8000) / 2500
        + (frame["hr"] - 65) / 7
        + rng.normal(0, 0.7, n)
    )
    frame["risk"] = (risk > np.quantile(risk, 0.7)).astype(int)
    return frame


@pytest.fixture(scope="session")
def toy() -> Dataset:
    return Dataset(toy_frame(), toy_spec())


@pytest.fixture(scope="session")
def toy_ungrouped() -> Dataset:
    return Dataset(toy_frame(), toy_spec(group=False))
