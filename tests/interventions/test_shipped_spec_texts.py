"""Every feature of the shipped specs, changed up and down by several sizes, reads as recorded.

``shipped_spec_texts.json`` holds the sentences the templates gave before the feature wording moved
into the spec files; any change to a sentence is a change of behaviour and shows here. The same
features with their description and wording stripped (as a user's spec of the same names would
declare them) read the same way, and so do the fixed features when made mutable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sensecf.data.aireadi import aireadi_spec
from sensecf.data.heart import heart_spec
from sensecf.data.spec import DatasetSpec, FeatureSpec
from sensecf.interventions import describe_changes

RECORDED = Path(__file__).with_name("shipped_spec_texts.json")
SPECS = {"aireadi": aireadi_spec, "heart": heart_spec}


def changes_to_render(feature: FeatureSpec) -> list[tuple[float, float]]:
    """Value pairs that exercise every direction, size and coding of ``feature``."""
    if feature.levels is not None:
        levels = [float(v) for v in feature.levels]
        return [(a, b) for a in levels for b in levels if a != b] + [(levels[0], float("nan"))]
    lower, upper = feature.bounds
    span = upper - lower
    before = float(feature.round([lower + 0.4 * span])[0])
    pairs = []
    for share in (0.0, 0.07, 0.3):
        delta = max(float(feature.round([lower + share * span])[0]) - lower, float(feature.step))
        pairs += [(before, before + delta), (before, before - delta)]
    return pairs


def bare(feature: FeatureSpec) -> FeatureSpec:
    """The feature as a user's spec of the same name might declare it: no description, no wording."""
    return feature.model_copy(update={"description": "", "phrase": None})


def render(spec: DatasetSpec) -> dict[str, list[str]]:
    """``before → after: sentence`` for every change of every feature."""
    out: dict[str, list[str]] = {}
    base = np.array([f.levels[0] if f.levels else f.bounds[0] for f in spec.features], dtype=float)
    for j, feature in enumerate(spec.features):
        rows = []
        for before, after in changes_to_render(feature):
            query, cf = base.copy(), base.copy()
            query[j], cf[j] = before, after
            (change,) = describe_changes(spec, query, cf)
            rows.append(f"{before:g} → {after:g}: {change.sentence}")
        out[feature.name] = rows
    return out


def render_all() -> dict[str, dict[str, list[str]]]:
    texts = {}
    for name, make in SPECS.items():
        spec = make()
        texts[name] = render(spec)
        stripped = spec.model_copy(update={"features": tuple(bare(f) for f in spec.features)})
        texts[f"{name}-bare"] = render(stripped)
        # Fixed features as if mutable: their wording beyond "(changes a fixed feature ...)".
        movable = tuple(f.model_copy(update={"mutability": "both"}) for f in spec.features)
        texts[f"{name}-mutable"] = render(spec.model_copy(update={"features": movable}))
    return texts


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict[str, list[str]]]:
    return json.loads(RECORDED.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "name", [f"{n}{variant}" for n in SPECS for variant in ("", "-bare", "-mutable")]
)
def test_every_feature_and_direction_reads_as_recorded(name, recorded):
    rendered = render_all()[name]
    assert rendered.keys() == recorded[name].keys()
    for feature, rows in recorded[name].items():
        assert rendered[feature] == rows, feature


if __name__ == "__main__":  # rewrite the record (only for a deliberate change of wording)
    RECORDED.write_text(json.dumps(render_all(), indent=1, ensure_ascii=False) + "\n")
