"""The fine-tuned generator on people with gaps: a feature nobody measured is never offered."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from gaps import gapped_task
from scripted import Scripted, user_text

from sensecf.data.constraints import violations
from sensecf.generators.llm.compact import CompactFormat
from sensecf.generators.llm.finetuned import FineTunedGenerator
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
