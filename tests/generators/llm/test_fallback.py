"""The LLM generator's fallback reports the oracle's answer for each query it fills."""

import numpy as np
import pandas as pd

from sensecf.data.dataset import Dataset
from sensecf.data.spec import infer_spec
from sensecf.generators.llm.generator import oracle_answers
from sensecf.generators.oracle import Oracle
from sensecf.models import train


def test_the_fallback_says_infeasible_where_the_oracle_proves_it():
    rng = np.random.default_rng(1)
    n = 120
    frame = pd.DataFrame({"age": rng.integers(30, 70, n), "steps": rng.integers(1000, 15000, n)})
    frame["risk"] = ((frame["age"] >= 50) | (frame["steps"] < 4000)).astype(int)
    spec = infer_spec(frame, "risk", fixed=["age"])
    data = Dataset(frame, spec)
    model = train(data, "rf", seed=0, importance_repeats=1, params={"n_estimators": 20})
    oracle = Oracle(time_limit=10).fit(model, data)
    X = np.array([[65.0, 2000.0], [35.0, 1500.0]])  # old: nothing allowed helps; young: walk
    assert (model.predict(X) == 1).all()
    fills, answers = oracle_answers(oracle, X, {0: 2, 1: 2}, desired=0)
    assert answers == {0: "infeasible", 1: "optimal"}
    assert len(fills[0]) == 0 and len(fills[1]) >= 1
