"""A small person-day task (people, days, a fixed feature, three behaviours) for the fine-tuning tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.models import TrainedClassifier


@dataclass
class Task:
    data: Dataset
    model: TrainedClassifier


def task_data(n_people: int = 40, days: int = 4, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    n = n_people * days
    frame = pd.DataFrame(
        {
            "pid": np.repeat([f"p{i:03d}" for i in range(n_people)], days),
            "age": np.repeat(rng.integers(30, 80, n_people), days).astype(float),
            "sleep": np.round(rng.normal(420, 60, n).clip(200, 700)),
            "steps": rng.integers(1000, 15000, n).astype(float),
            "hr": np.round(rng.normal(70, 8, n).clip(45, 110), 1),
        }
    )
    score = (
        -(frame["sleep"] - 420) / 40
        - (frame["steps"] - 8000) / 3000
        + (frame["hr"] - 70) / 10
        + rng.normal(0, 0.5, n)
    )
    frame["risk"] = (score > 0.8).astype(int)
    spec = DatasetSpec(
        target="risk",
        classes={0: "low risk", 1: "high risk"},
        desired_class=0,
        id_columns=("pid",),
        group_column="pid",
        features=(
            FeatureSpec(name="age", kind="integer", bounds=(18, 100), mutability="fixed"),
            FeatureSpec(name="sleep", bounds=(180, 720), mutability="increase"),
            FeatureSpec(name="steps", kind="integer", bounds=(0, 30000), mutability="increase"),
            FeatureSpec(name="hr", bounds=(40, 120), step=0.1, mutability="decrease"),
        ),
    )
    return Dataset(frame, spec)
