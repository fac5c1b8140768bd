"""Honest accounting of LLM answers: first answers, cut-off answers, failures beside the fallback,
what was copied from the examples (also after sparsify)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from scripted import Scripted, copy_first, current, example, user_text

from sensecf.evaluation import MetricSuite
from sensecf.generators import select_queries, sparsify_result
from sensecf.generators.llm import LLMGenerator
from sensecf.generators.llm.parse import parse_answer
from sensecf.generators.provenance import copy_provenance


@pytest.fixture(scope="module")
def queries(toy):
    return select_queries(toy.model, toy.test, limit=6, seed=0)


def run(toy, queries, policy, n_cfs=1, **options):
    backend = Scripted(policy)
    generator = LLMGenerator(backend, **options).fit(toy.model, toy.train)
    return backend, generator.generate(queries, n_cfs=n_cfs)


def test_a_cut_off_answer_is_a_repair_round_with_feedback(toy, queries):
    def cut_then_copy(request, n):
        if "did not work" in user_text(request):
            return example(request)
        return example(request)[:-1]  # stopped by the token limit before the closing brace

    assert parse_answer('{"sleep": 450, "steps": 80', ["sleep", "steps", "hr"]).cut_off
    backend, result = run(toy, queries, cut_then_copy)
    n = len(queries)
    assert backend.batches == [n, n]
    assert "cut off" in user_text(backend.requests[n])
    assert (result.cfs["round"] == 1).all() and (result.cfs["source"] == "repair").all()
    assert (result.queries["rejected_answers"] == 1).all()


def test_failed_answers_are_withheld_beside_the_fallback_that_fills_their_query(toy, queries):
    def nudge(request, n):  # admissible, the smallest change of one feature, rarely enough
        now = json.loads(current(request))
        name, prop = next(iter(request.schema["properties"].items()))
        return json.dumps({name: min(prop["enum"], key=lambda v: abs(v - now[name]))})

    _, result = run(toy, queries, nudge, repair_rounds=0, fallback=True)
    cfs, rejected = result.cfs, result.rejected
    assert len(rejected) > 0 and cfs["valid"].all()  # the failures withheld, never offered
    assert (rejected["source"] == "llm").all() and (rejected["round"] == 0).all()
    assert (
        rejected["reason"]
        .str.match(r"not the desired class \(P=0\.\d\d, 0\.\d\d needed\)|changed nothing")
        .all()
    )
    filled = set(cfs.loc[cfs["source"] == "fallback", "query_id"])
    assert set(rejected["query_id"]) == filled  # each filled query keeps its failure's record
    row = MetricSuite().fit(toy.model, toy.train).summarise(result).iloc[0]
    served = cfs.loc[(cfs["source"] == "llm") & cfs["valid"], "query_id"].nunique()
    assert row["validity_first"] == pytest.approx(served / len(queries))
    assert row["n_rejected"] == len(rejected)
    assert row["any_valid"] == 1.0 and row["validity"] == pytest.approx(
        len(cfs) / (len(cfs) + len(rejected))
    )  # the failures count against it


def test_first_answer_validity_is_round_zero_first_sample_only(toy, queries):
    def greedy_fails(request, n):  # the first sample repeats the person; warmer ones copy
        return current(request) if request.params.temperature == 0 else example(request)

    _, result = run(toy, queries, greedy_fails, n_cfs=2, repair_rounds=0)
    cfs = result.cfs
    assert (cfs["round"] == 0).all() and (cfs["sample"] == 1).all() and cfs["valid"].all()
    row = MetricSuite().fit(toy.model, toy.train).summarise(result).iloc[0]
    assert row["validity_first"] == 0.0  # a valid second sample is not a first answer
    assert row["validity_after_repair"] == 1.0


def test_copy_shares_come_from_the_examples_each_query_was_shown(toy, queries):
    _, result = run(toy, queries, copy_first)
    shown = result.queries["examples_shown"]
    assert all(len(json.loads(text)) == 3 for text in shown)  # round 0 showed three
    row = MetricSuite().fit(toy.model, toy.train).summarise(result).iloc[0]
    assert row["copied_example"] == 1.0 and row["example_share"] == 1.0


def test_sparsify_recomputes_what_was_copied(toy, queries):
    # Whole projected neighbours as examples (not sparsified), so a copy has changes to undo.
    generator = LLMGenerator(Scripted(copy_first)).fit(toy.model, toy.train)
    generator.examples_ = replace(generator.examples_, sparse=False)
    result = generator.generate(queries)
    assert result.cfs["copied_example"].all()
    sparse = sparsify_result(result, toy.model)
    untouched = np.all(sparse.cf_matrix() == result.cf_matrix(), axis=1)
    assert not untouched.all()  # sparsify undid some copied changes
    copied = sparse.cfs["copied_example"].to_numpy(dtype=bool)
    assert copied[untouched].all() and not copied[~untouched].any()
    whole, share = copy_provenance(
        toy.model.spec,
        sparse.query_matrix(),
        sparse.cf_matrix(),
        sparse.queries.set_index("query_id").loc[sparse.cfs["query_id"], "examples_shown"].tolist(),
    )
    assert (whole == copied).all() and (share[~untouched] == 1.0).all()
