"""The forest's program split by support answers as the whole program does, in fewer seconds."""

import numpy as np
import pandas as pd
import pytest

from sensecf.data.dataset import Dataset
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.generators import select_queries
from sensecf.generators.oracle import Oracle
from sensecf.generators.oracle import generator as oracle_generator
from sensecf.generators.oracle.admissible import change_range
from sensecf.models import train


def _forest_task() -> tuple:
    """A forest over features of every kind the split meets: directions, a fixed feature,
    levels, a fine grain."""
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame(
        {
            "age": rng.integers(30, 80, n).astype(float),
            "bp": rng.normal(135, 18, n).round(),
            "chol": rng.normal(240, 45, n).round(),
            "smoker": rng.integers(0, 2, n).astype(float),
            "hr": rng.normal(150, 20, n).round(),
            "st": rng.exponential(1.0, n).clip(0, 6).round(1),
        }
    )
    risk = (
        0.03 * (frame["age"] - 55)
        + 0.04 * (frame["bp"] - 135)
        + 0.01 * (frame["chol"] - 240)
        + 0.8 * frame["smoker"]
        - 0.03 * (frame["hr"] - 150)
        + 0.7 * frame["st"]
    )
    frame["y"] = (risk + rng.normal(0, 0.6, n) > 0.4).astype(int)
    spec = DatasetSpec(
        target="y",
        classes={0: "well", 1: "ill"},
        desired_class=0,
        features=[
            FeatureSpec(name="age", kind="integer", bounds=(18, 100), mutability="fixed"),
            FeatureSpec(name="bp", kind="integer", bounds=(80, 220), mutability="decrease"),
            FeatureSpec(name="chol", kind="integer", bounds=(100, 600), mutability="decrease"),
            FeatureSpec(
                name="smoker", kind="binary", levels=(0, 1), bounds=(0, 1), mutability="decrease"
            ),
            FeatureSpec(name="hr", kind="integer", bounds=(60, 220), mutability="increase"),
            FeatureSpec(name="st", bounds=(0, 8), step=0.1, mutability="decrease"),
        ],
    )
    data = Dataset(frame, spec)
    model = train(
        data, "rf", seed=0, importance_repeats=1, params={"n_estimators": 40, "max_depth": 6}
    )
    train_rows, test_rows = model.split_data(data)
    return model, train_rows, select_queries(model, test_rows, limit=8, seed=0)


@pytest.fixture(scope="module")
def forest_task() -> tuple:
    return _forest_task()


def _answers(result) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        result.queries.drop(columns=["solve_seconds", "seconds"], errors="ignore"),
        result.cfs.drop(columns="seconds"),
    )


def test_the_split_by_support_gives_the_whole_programs_answers(forest_task, monkeypatch):
    model, reference, queries = forest_task
    oracle = Oracle().fit(model, reference)
    split = _answers(oracle.generate(queries, n_cfs=3))
    # No query may be split: every one solves the whole program.
    monkeypatch.setattr(oracle_generator, "MAX_SUPPORTS", 0)
    whole = _answers(Oracle().fit(model, reference).generate(queries, n_cfs=3))
    pd.testing.assert_frame_equal(split[0], whole[0])
    assert set(split[0]["status"]) <= {"optimal", "infeasible"}
    assert split[0]["min_l0"].max() >= 2  # some query needs more than one change
    # The same rows, but where two are equally good (the solver picks either).
    assert _costs(split[1], queries, oracle) == _costs(whole[1], queries, oracle)
    same = (split[1].to_numpy() == whole[1].to_numpy()).all(axis=1)
    assert same.mean() > 0.9
    assert (model.predict(split[1][list(queries.X.columns)].to_numpy(dtype=float)) == 0).all()


def _costs(cfs: pd.DataFrame, queries: Dataset, oracle: Oracle) -> list[tuple]:
    """Per counterfactual in order: its query, changes and MAD-scaled distance."""
    X = queries.X.to_numpy(dtype=float)
    rows = cfs[list(queries.X.columns)].to_numpy(dtype=float)
    out = []
    for query, row in zip(cfs["query_id"].to_numpy(), rows, strict=True):
        x = X[int(query)]
        distance = float(np.abs(row - x) @ (1 / oracle.scale_))
        out.append((int(query), int((row != x).sum()), round(distance, 9)))
    return out


def test_the_split_runs_and_falls_back_where_a_support_runs_out_of_nodes(forest_task):
    model, reference, queries = forest_task
    oracle = Oracle(node_limit=1).fit(model, reference)
    runs = [_answers(oracle.generate(queries, n_cfs=3)) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0][0], runs[1][0])
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])
    assert set(runs[0][0]["budget"]) == {"work"}


def test_a_support_the_solver_fails_on_leaves_the_answer_to_the_whole_program(
    forest_task, monkeypatch
):
    model, reference, queries = forest_task
    monkeypatch.setattr(oracle_generator, "MAX_SUPPORTS", 0)
    whole = _answers(Oracle().fit(model, reference).generate(queries, n_cfs=3))
    monkeypatch.undo()
    from sensecf.generators.oracle import supports

    failed = []

    def failing(*args, **kwargs):
        failed.append(1)
        raise RuntimeError("the solver failed: (HiGHS Status 4: Solve error)")

    # Every support's program is handed a solver that fails, as HiGHS did on the heart table.
    monkeypatch.setattr(
        oracle_generator,
        "SupportSearch",
        lambda **options: supports.SupportSearch(**{**options, "solve": failing}),
    )
    fallen_back = _answers(Oracle().fit(model, reference).generate(queries, n_cfs=3))
    assert failed  # the supports' programs were asked, and failed
    pd.testing.assert_frame_equal(fallen_back[0], whole[0])
    pd.testing.assert_frame_equal(fallen_back[1], whole[1])


def test_a_supports_score_range_holds_every_admissible_row(forest_task):
    model, reference, queries = forest_task
    oracle = Oracle().fit(model, reference)
    encoding = oracle.encoding_
    spec = model.spec
    rng = np.random.default_rng(0)
    for query in queries.X.to_numpy(dtype=float)[:4]:
        low, high = change_range(spec, query)
        for support in [(1,), (2, 4), (1, 3, 5)]:
            lo, hi = np.full_like(low, np.nan), np.full_like(high, np.nan)
            lo[list(support)], hi[list(support)] = low[list(support)], high[list(support)]
            bottom, top = encoding.score_range(spec, query, lo, hi)
            rows = np.repeat(query[None, :], 200, axis=0)
            for j in support:
                if np.isfinite(lo[j]):
                    rows[:, j] = rng.uniform(lo[j], hi[j], len(rows))
            scores = encoding.score(rows)
            assert bottom - 1e-12 <= scores.min() and scores.max() <= top + 1e-12


def test_the_augmentation_budget_gives_the_same_answers_however_slow_the_clock(
    forest_task, monkeypatch
):
    """The augmentation arm's budget (support by support, counted, no clock) answers the same
    with a clock that runs a minute a call; a seconds limit under that clock does not."""
    import itertools

    from sensecf.augmentation.arms import ORACLE_WORK
    from sensecf.generators.oracle import budget

    model, reference, queries = forest_task

    def answers(**options) -> tuple[pd.DataFrame, pd.DataFrame]:
        oracle = Oracle(**{**ORACLE_WORK, **options}).fit(model, reference)
        return _answers(oracle.generate(queries, n_cfs=3))

    idle, idle_capped = answers(), answers(time_limit=3.0)
    ticks = itertools.count(step=60.0)
    monkeypatch.setattr(budget.time, "perf_counter", lambda: next(ticks))
    slow, slow_capped = answers(), answers(time_limit=3.0)
    for ours, theirs in zip(slow, idle, strict=True):
        pd.testing.assert_frame_equal(ours, theirs)
    assert set(idle[0]["budget"]) == {"work"} and len(idle[1])
    # The control: under the same clock a seconds limit cuts answers short (and the query
    # table, compared above, would say so).
    assert "seconds" in set(slow_capped[0]["budget"])
    assert set(idle_capped[0]["budget"]) == {"work"}


@pytest.mark.parametrize("cap", [1, 2])
def test_every_answer_keeps_the_cap_on_changes(forest_task, cap):
    """``max_changes`` holds for every counterfactual offered, the further solutions and the
    neighbours that fill in included, not only for the first."""
    from sensecf.data.constraints import count_changes

    model, reference, queries = forest_task
    result = Oracle(max_changes=cap).fit(model, reference).generate(queries, n_cfs=3)
    changes = count_changes(model.spec, result.query_matrix(), result.cf_matrix())
    assert len(changes) and changes.max() <= cap
    answered = result.queries[result.queries["status"] == "optimal"]
    assert len(answered) >= 6 and (answered["min_l0"] <= cap).all()
    # Uncapped, some of the same people get answers that change more.
    free = Oracle().fit(model, reference).generate(queries, n_cfs=3)
    assert count_changes(model.spec, free.query_matrix(), free.cf_matrix()).max() > cap
