"""Supervised pairs from the oracle: valid, offered by the prompt, and never a held-out person."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from finetune_task import Task, task_data

from sensecf.data.dataset import Dataset
from sensecf.errors import DataError
from sensecf.finetuning.pairs import (
    build_pairs,
    heldout_people,
    person_ids,
    read_rows,
    row_json,
    split_pairs,
)
from sensecf.generators.llm.compact import CompactFormat
from sensecf.generators.llm.parse import parse_answer


def _apply(task: Task, row: list[float], answer: str) -> np.ndarray:
    names = task.data.spec.feature_names
    out = np.array(row, dtype=float)
    for name, value in parse_answer(answer, names).values.items():
        out[names.index(name)] = value
    return out


def test_pairs_are_valid_offered_and_from_training_people_only(task: Task) -> None:
    pairs = build_pairs(task.model, task.data, per_query=2, teacher_options={"time_limit": 2.0})
    frame = pairs.frame
    assert len(frame) >= 10
    heldout = heldout_people(task.model, task.data)
    train_rows, _ = task.model.split_data(task.data)
    assert heldout and not set(frame["person"]) & heldout
    assert set(frame["person"]) <= set(person_ids(train_rows))
    # every target flips the model, and each changed value is one its prompt offers
    rows = np.vstack(
        [_apply(task, json.loads(r), a) for r, a in zip(frame["row"], frame["answer"], strict=True)]
    )
    assert (task.model.predict(rows) == task.data.spec.desired_class).all()
    for messages, answer in zip(frame["messages"], frame["answer"], strict=True):
        user = json.loads(messages)[-1]["content"]
        offered = {
            line.split()[0]: line.split(":", 1)[1].split()
            for line in user.splitlines()[1:]
            if not line.startswith("near:")
        }
        for name, value in json.loads(answer).items():
            assert json.dumps(value) in offered[name]
    # distinct targets per query, and some queries have several
    assert not frame.duplicated(["origin", "query", "answer"]).any()
    assert frame.groupby("query").size().max() >= 2
    assert (
        pairs.counts["offered"] == len(frame) <= pairs.counts["valid"] <= pairs.counts["proposed"]
    )


@pytest.mark.slow
def test_the_oracle_teacher_gives_the_same_pairs_in_chunks_on_two_workers(task: Task) -> None:
    from sensecf.execution import Execution
    from sensecf.finetuning import pairs as pair_module

    options = {"node_limit": 200}
    serial = build_pairs(task.model, task.data, per_query=2, teacher_options=options)
    assert serial.counts["queries"] > pair_module.TEACHER_CHUNK  # more than one unit
    parallel = build_pairs(
        task.model, task.data, per_query=2, teacher_options=options, execution=Execution(jobs=2)
    )
    pd.testing.assert_frame_equal(serial.frame, parallel.frame)
    assert serial.counts == parallel.counts


def test_more_people_are_added_under_their_own_ids(task: Task) -> None:
    more = task_data(n_people=10, days=4, seed=7)
    pairs = build_pairs(
        task.model,
        task.data,
        fmt=CompactFormat(target="high risk", examples=0),
        per_query=1,
        more=more,
        teacher_options={"time_limit": 2.0},
    )
    extra = pairs.frame[pairs.frame["origin"] == "more"]
    assert len(extra) and extra["person"].str.startswith("more-").all()
    assert not set(pairs.frame["person"]) & heldout_people(task.model, task.data)
    assert "near:" not in json.loads(extra["messages"].iloc[0])[-1]["content"]


def test_more_rows_of_held_out_people_are_refused(task: Task) -> None:
    again = Dataset(task.data.frame.copy(), task.data.spec)  # the same people under a new name
    with pytest.raises(DataError, match="held-out people"):
        build_pairs(task.model, task.data, per_query=1, more=again, max_queries=2)


def test_split_keeps_each_person_on_one_side() -> None:
    frame = pd.DataFrame({"person": np.repeat(list("abcdefghij"), 3), "answer": range(30)})
    fit, held = split_pairs(frame, 0.3, seed=1)
    assert held["person"].nunique() == 3
    assert not set(fit["person"]) & set(held["person"])
    assert len(fit) + len(held) == 30


def test_a_pairs_row_keeps_a_value_nobody_measured_missing() -> None:
    X = np.array([[61.0, np.nan, 6000.0], [40.0, 420.0, np.nan]])
    texts = [row_json(x) for x in X]
    assert texts[0] == "[61.0, null, 6000.0]"
    np.testing.assert_array_equal(read_rows(texts), X)


def test_the_plausible_teacher_gives_only_targets_the_suite_calls_inliers(task: Task) -> None:
    from sensecf.evaluation.metrics import MetricSuite

    options = {"time_limit": 2.0, "detector_trees": 30}
    pairs = build_pairs(
        task.model, task.data, teacher="oracle-plausible", per_query=2, teacher_options=options
    )
    frame = pairs.frame
    assert len(frame) >= 5 and set(frame["teacher"]) == {"oracle-plausible"}
    # The detector the benchmark judges by: desired-class training rows, calibrated on the
    # model's held-out rows.
    train_rows, test_rows = task.model.split_data(task.data)
    suite = MetricSuite(detector_trees=30).fit(task.model, train_rows, calibration=test_rows)
    detector = suite.detector(task.data.spec.desired_class)
    rows = np.vstack(
        [_apply(task, json.loads(r), a) for r, a in zip(frame["row"], frame["answer"], strict=True)]
    )
    assert detector.inliers(rows).all()
    assert (task.model.predict(rows) == task.data.spec.desired_class).all()
    # The plain oracle's targets are not all inliers: the detector does hold the teacher.
    plain = build_pairs(task.model, task.data, per_query=2, teacher_options={"time_limit": 2.0})
    plain_rows = np.vstack(
        [
            _apply(task, json.loads(r), a)
            for r, a in zip(plain.frame["row"], plain.frame["answer"], strict=True)
        ]
    )
    assert not detector.inliers(plain_rows).all()
    assert "implausible" in pairs.counts and "implausible" not in plain.counts


def test_a_stricter_bar_holds_the_plausible_teacher(task: Task) -> None:
    from sensecf.evaluation.metrics import MetricSuite

    options = {"time_limit": 2.0, "detector_trees": 30, "held_rate": 0.6}
    pairs = build_pairs(
        task.model, task.data, teacher="oracle-plausible", per_query=2, teacher_options=options
    )
    frame = pairs.frame
    assert len(frame)
    train_rows, test_rows = task.model.split_data(task.data)
    suite = MetricSuite(detector_trees=30).fit(task.model, train_rows, calibration=test_rows)
    bar = suite.detector(task.data.spec.desired_class).held_at(0.6)
    rows = np.vstack(
        [_apply(task, json.loads(r), a) for r, a in zip(frame["row"], frame["answer"], strict=True)]
    )
    assert bar.inliers(rows).all()


def test_a_neighbour_bar_holds_the_plausible_teacher_and_its_typical_lines(task: Task) -> None:
    from sensecf.evaluation.metrics import MetricSuite
    from sensecf.generators.llm.compact import CompactFormat
    from sensecf.models.plausibility import settable_columns

    spec = task.data.spec
    fmt = CompactFormat(target=spec.classes[spec.flagged_class], typical=True, typical_neighbours=5)
    options = {"time_limit": 2.0, "detector_trees": 30, "held_neighbours": 5}
    pairs = build_pairs(
        task.model,
        task.data,
        fmt=fmt,
        teacher="oracle-plausible",
        per_query=2,
        teacher_options=options,
    )
    frame = pairs.frame
    assert len(frame)
    train_rows, test_rows = task.model.split_data(task.data)
    suite = MetricSuite(detector_trees=30).fit(task.model, train_rows, calibration=test_rows)
    bar = suite.detector(spec.desired_class).held_at(
        None, neighbours=5, columns=settable_columns(spec)
    )
    rows = np.vstack(
        [_apply(task, json.loads(r), a) for r, a in zip(frame["row"], frame["answer"], strict=True)]
    )
    assert bar.holds(rows).all()
    # Every single change a prompt's first line offers keeps the person typical too (on this
    # table a typical single change serves every person paired).
    offered = []
    for row, messages in zip(frame["row"], frame["messages"], strict=True):
        ctx = fmt.read_user_text(json.loads(messages)[-1]["content"])
        if ctx.alone == 0:  # no single change reaches the goal: the lines only help
            continue
        name, (_, *values) = next(iter(ctx.offered.items()))
        offered += [_apply(task, json.loads(row), json.dumps({name: v})) for v in values]
    assert bar.holds(np.vstack(offered)).all()


def test_pairs_are_reused_only_while_a_typical_formats_lines_are_chosen_the_same_way(
    task: Task, tmp_path, monkeypatch
) -> None:
    from sensecf.finetuning import run

    made = []
    real = run.build_pairs
    monkeypatch.setattr(run, "build_pairs", lambda *a, **k: made.append(1) or real(*a, **k))
    spec = task.data.spec
    fmt = CompactFormat(target=spec.classes[spec.flagged_class], typical=True)
    profile = run.Profile(per_query=1, max_queries=8)

    def pairs() -> pd.DataFrame:
        return run._pairs(
            task.model, task.data, None, tmp_path, fmt, "oracle-plausible", profile, 0, False
        )

    first = pairs()
    pd.testing.assert_frame_equal(pairs(), first)
    assert len(made) == 1  # the same settings: reused
    monkeypatch.setattr(run, "TYPICAL_LINES", run.TYPICAL_LINES + 1)
    pairs()
    assert len(made) == 2  # lines chosen another way: made anew


def test_a_config_file_may_name_the_plausible_teacher(tmp_path) -> None:
    from click.testing import CliRunner

    from sensecf.cli.main import cli
    from sensecf.finetuning.settings import FinetuneSettings

    path = tmp_path / "finetune.yaml"
    path.write_text("teacher: oracle-plausible\n")
    assert FinetuneSettings.from_yaml(path).teacher == "oracle-plausible"
    shown = CliRunner().invoke(cli, ["finetune", "--help"])
    assert "oracle-plausible" in shown.output
