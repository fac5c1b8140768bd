"""Only verified answers are offered: a refused last answer is withheld with its reason, and
plausibility is a check with repair feedback in plain words."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scripted import Scripted, current, example, user_text

from sensecf.errors import SensecfError
from sensecf.evaluation import MetricSuite
from sensecf.evaluation.benchmark import _takes_detector
from sensecf.explanation import _share_detector, reference_rows
from sensecf.generators import select_queries
from sensecf.generators.llm import LLMGenerator
from sensecf.generators.registry import make_generator
from sensecf.interventions import intervention_table
from sensecf.llm.base import ChatRequest
from sensecf.models.plausibility import class_detector

# A day no low-risk person in the toy task lives: the bounds' ends, in the helpful direction.
EXTREME = {"sleep": 720, "steps": 30000, "hr": 40}


@pytest.fixture(scope="module")
def queries(toy):
    return select_queries(toy.model, toy.test, limit=6, seed=0)


@pytest.fixture(scope="module")
def detector(toy):
    train = toy.train
    return class_detector(train, 0, trees=50)


def run(toy, queries, policy, n_cfs=1, **options):
    backend = Scripted(policy)
    generator = LLMGenerator(backend, **options).fit(toy.model, toy.train)
    return backend, generator.generate(queries, n_cfs=n_cfs)


def extreme(request: ChatRequest, n: int) -> str:
    """Every feature asked at the far end of what it may take: valid, and unlike anybody."""
    now = json.loads(current(request))
    props = request.schema["properties"]
    return json.dumps(
        {
            name: EXTREME.get(name, max(prop["enum"], key=lambda v: abs(v - now[name])))
            for name, prop in props.items()
        }
    )


def extreme_then_copy(request: ChatRequest, n: int) -> str:
    return example(request) if "no real person" in user_text(request) else extreme(request, n)


def test_a_rule_broken_in_the_last_round_is_withheld_with_the_rule(toy, queries):
    def below_bounds(request: ChatRequest, n: int) -> str:  # no feature may take -1
        return json.dumps(dict.fromkeys(request.schema["properties"], -1))

    backend, result = run(toy, queries, below_bounds, repair_rounds=1)
    rejected = result.rejected.set_index("query_id")
    assert len(result.cfs) == 0 and len(rejected) == len(queries)
    assert rejected["reason"].str.startswith("breaks a rule: ").all()
    n = len(queries)
    for qid, request in enumerate(backend.requests[n:]):  # the last round's answers
        for name in request.schema["properties"]:
            assert name in rejected.loc[qid, "reason"]
            assert rejected.loc[qid, name] == -1  # the answer as it was given
    assert rejected["proba_desired"].isna().all()  # it never reached the classifier
    assert (rejected["round"] == 1).all() and (rejected["source"] == "repair").all()
    assert intervention_table(result).empty  # nothing withheld is ever worded
    assert result.validity == 0.0


def test_withheld_answers_never_reach_cfs_or_interventions_and_count_in_validity(toy, queries):
    def copy_even_queries(request: ChatRequest, n: int) -> str:  # others change nothing
        return example(request) if n % 2 == 0 else "{}"

    _, result = run(toy, queries, copy_even_queries, repair_rounds=0)
    cfs, rejected = result.cfs, result.rejected
    assert len(cfs) and len(rejected) and cfs["valid"].all()
    assert not set(cfs["query_id"]) & set(rejected["query_id"])
    assert set(intervention_table(result)["query_id"]) == set(cfs["query_id"])
    assert (rejected["reason"] == "changed nothing").all()
    per_query = MetricSuite().fit(toy.model, toy.train).score_queries(result)
    counted = per_query.set_index("query_id")
    for qid in rejected["query_id"]:
        assert counted.loc[qid, "n_rejected"] == 1 and counted.loc[qid, "validity"] == 0.0
    summary = MetricSuite().fit(toy.model, toy.train).summarise(result).iloc[0]
    assert summary["n_rejected"] == len(rejected)
    assert summary["validity"] == pytest.approx(len(cfs) / (len(cfs) + len(rejected)))
    assert summary["validity"] < 1.0  # moving the failures out did not make it look better


def test_an_llm_method_that_offered_nothing_still_has_its_first_answer_validity(toy, queries):
    _, result = run(toy, queries, lambda r, n: "{}", repair_rounds=0)
    assert len(result.cfs) == 0 and len(result.rejected) == len(queries)
    summary = MetricSuite().fit(toy.model, toy.train).summarise(result).iloc[0]
    assert summary["validity_first"] == 0.0 and summary["validity"] == 0.0


def test_an_outlier_answer_gets_a_repair_round_with_plain_words_feedback(toy, queries, detector):
    backend, result = run(
        toy, queries, extreme_then_copy, repair_rounds=1, plausibility="iforest", detector=detector
    )
    n = len(queries)
    firsts = np.array(
        [answer_row(toy, queries, i, extreme(r, 0)) for i, r in enumerate(backend.requests[:n])]
    )
    assert toy.model.predict(firsts).tolist() == [0] * n  # all valid: only the detector refuses
    outliers = np.flatnonzero(~detector.inliers(firsts))
    assert len(outliers) and backend.batches == [n, len(outliers)]  # a repair for each outlier
    for request in backend.requests[n:]:
        text = user_text(request)
        assert 'no real person with "low risk" looks like this: ' in text
        assert 'is far from everyone with "low risk" (typical: ' in text
        assert re.search(r"(sleep 720 min|steps 30000|hr 40 bpm)", text)
        assert "toward typical values" in text
    # What is offered passed both checks; an answer refused again is withheld, not offered.
    assert result.cfs["valid"].all() and detector.inliers(result.cf_matrix()).all()
    assert set(result.cfs.loc[result.cfs["round"] == 0, "query_id"]) == set(range(n)) - set(
        outliers
    )
    assert len(result.cfs) + len(result.rejected) == n


def test_a_last_outlier_is_withheld_with_that_reason(toy, queries, detector):
    _, result = run(
        toy, queries, extreme, repair_rounds=1, plausibility="iforest", detector=detector
    )
    rejected = result.rejected
    assert len(rejected) and len(result.cfs) + len(rejected) == len(queries)
    assert detector.inliers(result.cf_matrix()).all()
    names = toy.model.spec.feature_names
    assert not detector.inliers(rejected[names].to_numpy(dtype=float)).any()
    assert rejected["reason"].str.startswith("an outlier for the plausibility detector (far").all()
    assert (rejected["proba_desired"] >= 0.5).all()  # the classifier had accepted it
    assert (rejected["round"] == 1).all()
    # the same answers without the check: all offered
    _, unchecked = run(toy, queries, extreme, repair_rounds=1)
    assert len(unchecked.cfs) == len(queries) and len(unchecked.rejected) == 0


def test_without_a_detector_one_is_fitted_per_desired_class(toy, queries):
    backend = Scripted(extreme)
    generator = LLMGenerator(backend, repair_rounds=0, plausibility="iforest")
    result = generator.fit(toy.model, toy.train).generate(queries)
    assert len(result.rejected) and set(generator.detectors_) == {0}
    own = generator.detectors_[0].detector
    assert own.calibrated_ and not own.inliers(result.rejected[toy.model.spec.feature_names]).any()


def test_the_registry_explain_and_benchmark_hold_llm_generators_to_plausibility(toy):
    generator = make_generator("few-shot", plausibility="iforest")
    assert generator.name == "few-shot" and generator.plausibility == "iforest"
    with pytest.raises(SensecfError, match="`plausibility` must be one of"):
        make_generator("zero-shot", plausibility="lof")
    with pytest.raises(SensecfError, match="detector_seed"):
        make_generator("few-shot", plausibility="iforest", detector_seed=-1)
    # explain hands it the metric suite's detector, calibrated on the held-out rows
    _share_detector(generator, toy.model, toy.data, reference_rows(toy.model, toy.data))
    shared = generator.detector
    assert shared is not None and shared.calibrated_
    # the benchmark takes the suite's detector for it too (same settings)
    assert _takes_detector(make_generator("few-shot", plausibility="iforest"), shared)
    assert not _takes_detector(make_generator("few-shot"), shared)
    generator.backend.close()


def answer_row(toy, queries, i: int, text: str) -> np.ndarray:
    """The row an answer makes of query ``i`` (its values put onto the query)."""
    spec = toy.model.spec
    row = queries.X.to_numpy(dtype=float)[i].copy()
    for name, value in json.loads(text).items():
        row[spec.feature_names.index(name)] = value
    return row
