"""The fine-tuning tests' task with a trained model, shared by the session."""

from __future__ import annotations

import pytest
from finetune_task import Task, task_data

from sensecf.models import train


@pytest.fixture(scope="session")
def task() -> Task:
    data = task_data()
    return Task(data, train(data, "logreg", seed=0, importance_repeats=1))
