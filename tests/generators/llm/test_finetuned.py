"""The fine-tuned generator on people with gaps: a feature nobody measured is never offered."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from gaps import gapped_task
from scripted import Scripted, user_text

from sensecf.data.constraints import violations
from sensecf.data.limits import Limits
from sensecf.generators.llm.compact import CompactFormat
from sensecf.generators.llm.finetuned import FineTunedGenerator
from sensecf.generators.llm.schema import plain_number
from sensecf.generators.oracle import Oracle
from sensecf.llm.base import ChatRequest


@pytest.fixture(scope="module")
def gapped(toy):
    return gapped_task(toy)


def every_offered_feature_and_the_missing_ones(request: ChatRequest, n: int) -> str:
    """Each feature in play at its first offered value, and a value for sleep and hr besides."""
    props = request.schema["properties"]
    return json.dumps({"sleep": 600, "hr": 50, **{k: p["enum"][0] for k, p in props.items()}})


def test_a_compact_request_never_offers_an_unmeasured_feature(gapped):
    backend = Scripted(every_offered_feature_and_the_missing_ones)
    fmt = CompactFormat(target="high risk", examples=1)
    generator = FineTunedGenerator(backend, format=fmt, repair_rounds=1)
    result = generator.fit(gapped.model, gapped.train).generate(gapped.queries)
    spec, X = gapped.model.spec, gapped.X
    inputs, _ = generator.prompt_inputs(X)
    for query, ctx in zip(X, inputs, strict=True):
        missing = {spec.feature_names[j] for j in np.flatnonzero(np.isnan(query))}
        assert not missing & set(ctx.offered)
    for request in backend.requests:
        text = user_text(request)
        assert "NA" not in text and not re.search(r"\bnan\b", text, re.I)
    for i, query in enumerate(X):
        rows = result.cfs.loc[result.cfs["query_id"] == i, spec.feature_names].to_numpy(float)
        assert np.isnan(rows[:, np.isnan(query)]).all()
    queries = X[result.cfs["query_id"].to_numpy()]
    assert violations(spec, queries, result.cf_matrix())["fixed"].sum() == 0


def test_a_typical_format_lists_only_changes_that_keep_the_person_typical(toy):
    from sensecf.generators import select_queries
    from sensecf.models.plausibility import class_detector

    spec, desired = toy.model.spec, toy.model.spec.desired_class
    X = select_queries(toy.model, toy.test, limit=30, seed=0).X.to_numpy(dtype=float)
    # A strict detector (half the held-out rows pass) so the plain lists offer outliers.
    strict = class_detector(toy.train, desired, trees=30, inlier_rate=0.5)
    names = spec.feature_names

    def changed(query, changes):
        row = query.copy()
        for name, value in changes.items():
            row[names.index(name)] = value
        return row

    def listed(fmt):
        """Per person, the rows of the single changes their reaching-alone lines offer, and
        their prompt's content."""
        generator = FineTunedGenerator(format=fmt, detector=strict).fit(toy.model, toy.train)
        inputs, _ = generator.prompt_inputs(X, desired)
        per_person = []
        for query, ctx in zip(X, inputs, strict=True):
            count = len(ctx.offered) if ctx.alone is None else ctx.alone
            rows = [
                changed(query, {name: value})
                for name, (_, *values) in list(ctx.offered.items())[:count]
                for value in values
            ]
            per_person.append(np.array(rows).reshape(-1, X.shape[1]))
        return per_person, inputs, generator

    plain, _, _ = listed(CompactFormat(target="high risk"))
    typical, inputs, generator = listed(
        CompactFormat(target="high risk", typical=True, typical_neighbours=5)
    )
    bar = generator.lists_detectors_[desired]
    assert bar.neighbour_bar_ is not None and bar.neighbour_bar_.k == 5
    # Whom some typical single change serves (the bar the format names: the detector, with
    # its neighbour bar) is offered only such changes; whom none does, together, the exact
    # program's answers held to that bar (the first request: the first answer's changes, each
    # line's first value); whom it cannot serve either, nothing.
    oracle = Oracle(max_changes=6, plausibility="iforest", detector=bar).fit(toy.model, toy.train)
    batch = generator._prepare(X, 1, desired, np.random.default_rng(0))
    kinds = {"typical": 0, "together": 0, "none": 0}
    for i, (query, mine, ctx) in enumerate(zip(X, typical, inputs, strict=True)):
        frame = pd.DataFrame(query[None, :], columns=names)
        if not ctx.offered:
            assert not len(oracle.generate(frame, n_cfs=1, desired_class=desired).cfs)
            kinds["none"] += 1
        elif ctx.alone == 0:
            answer = oracle.generate(frame, n_cfs=3, desired_class=desired).cf_matrix()[0]
            steps = [float(spec.feature(n).step) for n in names]
            moved = {
                n: plain_number(v, step)
                for n, q, v, step in zip(names, query, answer, steps, strict=True)
                if plain_number(v, step) != plain_number(q, step)
            }
            assert {n: values[1] for n, values in ctx.offered.items()} == moved
            row = changed(query, moved)[None, :]
            assert toy.model.predict(row)[0] == desired and bar.holds(row)[0]
            assert batch.caps[i] >= len(moved)  # room for every change of the answer
            kinds["together"] += 1
        else:
            assert len(mine) and (toy.model.predict(mine) == desired).all()
            assert bar.holds(mine).all()
            kinds["typical"] += 1
    assert kinds["typical"] and kinds["together"], kinds
    # A repair that avoids every typical line offers nothing rather than the changes that only
    # help (they would lead the person out of the typical region); one offered the oracle's
    # answers gets the next answer, asked whole (its features required by the schema).
    for i, ctx in enumerate(inputs):
        repair = generator.prompt_input(batch, i, 1, avoid=list(ctx.offered))
        if batch.together[i]:
            moves = batch.together[i]
            assert list(repair.offered) == [names[j] for j in moves[1 % len(moves)]]
        else:
            assert batch.typical and not repair.offered
    # The plain format offers changes that detector refuses to people a typical one serves.
    assert not all(
        bar.holds(theirs).all()
        for mine, theirs in zip(typical, plain, strict=True)
        if bar.holds(mine).all()
    )


def test_a_typical_format_chooses_its_lines_by_the_runs_detector(toy, tmp_path):
    from sensecf.evaluation.benchmark import _takes_detector
    from sensecf.evaluation.metrics import MetricSuite

    typical = CompactFormat(target="high risk", typical=True)
    typical.save(tmp_path)
    plain = FineTunedGenerator(format=CompactFormat(target="high risk"))
    assert FineTunedGenerator(format=typical).reads_detector()
    assert FineTunedGenerator(model_dir=tmp_path).reads_detector()  # read off format.json
    assert not plain.reads_detector()
    # The benchmark hands the typical one its suite's detector: the one its pairs were made by.
    suite = MetricSuite().fit(toy.model, toy.train, calibration=toy.test)
    shared = suite.detector(toy.model.spec.desired_class)
    assert _takes_detector(FineTunedGenerator(model_dir=tmp_path), shared)
    assert not _takes_detector(plain, shared)


def test_an_answer_offered_together_is_asked_whole_and_offered_once_verified(toy):
    from sensecf.generators import select_queries
    from sensecf.models.plausibility import class_detector

    desired = toy.model.spec.desired_class
    queries = select_queries(toy.model, toy.test, limit=30, seed=0)
    strict = class_detector(toy.train, desired, trees=30, inlier_rate=0.5)

    def first_values(request: ChatRequest, n: int) -> str:
        """The first offered value of each required feature, else of the first feature."""
        props = request.schema["properties"]
        asked = request.schema.get("required") or list(props)[:1]
        return json.dumps({k: props[k]["enum"][0] for k in asked})

    backend = Scripted(first_values)
    fmt = CompactFormat(target="high risk", typical=True)
    generator = FineTunedGenerator(backend, format=fmt, detector=strict, repair_rounds=1)
    # The last person may change one feature only, which no typical change of theirs does.
    settable = [f.name for f in toy.model.spec.features if f.mutability != "fixed"]
    limits = [None] * (len(queries.X) - 1) + [Limits(keep=tuple(settable[1:]), max_changes=1)]
    result = generator.fit(toy.model, toy.train).generate(queries, n_cfs=2, limits=limits)
    together = [r for r in backend.requests if "together:" in user_text(r)]
    assert together, "the toy has people no typical single change serves"
    for request in together:  # every feature of the answer offered together is required
        assert request.schema["required"] == list(request.schema["properties"])
    # Copied whole, the oracle's answers are valid and typical by the bar the lines keep.
    bar = generator.lists_detectors_[desired]
    assert len(result.cfs) and result.cfs["valid"].all()
    assert bar.holds(result.cf_matrix()).all()
    # Whom no typical change serves within their limits is offered nothing, and gets nothing.
    last = len(queries.X) - 1
    assert last not in set(result.cfs["query_id"]) and last in set(result.rejected["query_id"])
