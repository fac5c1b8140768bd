"""The one-feature probe: array operations that give what the per-query, per-feature loop gave."""

from __future__ import annotations

import numpy as np
import pytest

from sensecf.data.constraints import allowed_ranges
from sensecf.generators.llm.candidates import admissible, feature_grid
from sensecf.generators.llm.probe import HELP_MIN_GAIN, nearest_flips, probe


def probe_by_loops(model, X, lo, hi, proba, desired, grids, steps, mutable, names):
    """The probe as first written: one block per (query, feature), one mask per pair."""
    rows, owner, feature, value = [], [], [], []
    for i in range(len(X)):
        for j in mutable:
            values = admissible(grids[j], X[i, j], lo[i, j], hi[i, j], steps[j])
            if not len(values):
                continue
            block = np.repeat(X[i][None, :], len(values), axis=0)
            block[:, j] = values
            rows.append(block)
            owner += [i] * len(values)
            feature += [j] * len(values)
            value.append(values)
    helps = [[] for _ in range(len(X))]
    helpful = [{} for _ in range(len(X))]
    if not rows:
        return helps, helpful
    _, p = model.predict_with_proba(np.vstack(rows), desired)
    owner_a, feature_a, value_a = np.array(owner), np.array(feature), np.concatenate(value)
    gain = p - proba[owner_a]
    for i in range(len(X)):
        ranked = []
        for j in mutable:
            mask = (owner_a == i) & (feature_a == j)
            g, v = gain[mask], value_a[mask]
            good = g > HELP_MIN_GAIN
            order = np.argsort(-g[good], kind="stable")
            helpful[i][int(j)] = v[good][order]
            if good.any():
                best = v[good][order[0]]
                ranked.append(
                    (float(g[good][order[0]]), names[j], "raise" if best > X[i, j] else "lower")
                )
        ranked.sort(key=lambda item: -item[0])
        helps[i] = [(name, direction) for _, name, direction in ranked]
    return helps, helpful


def setting(toy, n: int, seed: int, grid_size: int = 9):
    spec, model = toy.model.spec, toy.model
    rng = np.random.default_rng(seed)
    X = toy.test.X.to_numpy(dtype=float)[rng.choice(len(toy.test), n, replace=False)]
    X[rng.random(X.shape) < 0.1] = np.nan  # not measured: no range, never tried
    reference = toy.train.X.to_numpy(dtype=float)
    grids = [feature_grid(f, reference[:, j], grid_size) for j, f in enumerate(spec.features)]
    lo, hi = allowed_ranges(spec, X)
    desired = spec.desired_class
    _, proba = model.predict_with_proba(X, desired)
    return dict(
        model=model,
        X=X,
        lo=lo,
        hi=hi,
        proba=proba,
        desired=desired,
        grids=grids,
        steps=np.array([float(f.step) for f in spec.features]),
        mutable=np.array([j for j, f in enumerate(spec.features) if f.is_mutable]),
        names=spec.feature_names,
    )


@pytest.mark.parametrize(("n", "seed", "grid_size"), [(1, 0, 9), (12, 1, 9), (30, 2, 25)])
def test_the_probe_equals_the_per_query_loop(toy, n, seed, grid_size):
    args = setting(toy, n, seed, grid_size)
    found = probe(**args)
    helps, helpful = probe_by_loops(**args)
    assert found.helps == helps
    assert [sorted(h) for h in found.helpful] == [sorted(h) for h in helpful]
    for mine, theirs in zip(found.helpful, helpful, strict=True):
        for j in theirs:
            np.testing.assert_array_equal(mine[j], theirs[j])
    assert any(found.helps), "the toy task has helpful moves"


def test_helpful_values_raise_the_desired_probability_best_first(toy):
    args = setting(toy, 10, 3)
    found = probe(**args)
    model, X, desired = args["model"], args["X"], args["desired"]
    for i, per_feature in enumerate(found.helpful):
        for j, values in per_feature.items():
            if not len(values):
                continue
            rows = np.repeat(X[i][None, :], len(values), axis=0)
            rows[:, j] = values
            gain = model.predict_with_proba(rows, desired)[1] - args["proba"][i]
            assert (gain > HELP_MIN_GAIN).all()
            assert (np.diff(gain) <= 1e-12).all()


def test_nothing_to_try_gives_empty_helps(toy):
    args = setting(toy, 3, 4)
    args["hi"] = args["lo"] = np.full_like(args["X"], -1.0)  # no value lies in the range
    found = probe(**args)
    assert found.helps == [[], [], []] and found.helpful == [{}, {}, {}]


def test_nearest_flips_are_the_smallest_single_moves_that_reach_the_desired_class(toy):
    args = setting(toy, 12, 5)
    for key in ("proba", "names"):
        args.pop(key)
    flips = nearest_flips(**args, refine=20)
    model, X, desired, steps = args["model"], args["X"], args["desired"], args["steps"]
    assert any(flips), "the toy task has queries one change serves"
    for i, per_feature in enumerate(flips):
        for j, values in per_feature.items():
            rows = np.repeat(X[i][None, :], len(values), axis=0)
            rows[:, j] = values
            assert (model.predict(rows) == desired).all()  # every value listed flips alone
            distance = np.abs(values - X[i, j])
            assert distance[0] == distance.min()
            # one step nearer on the same side does not flip (the logistic toy is monotone)
            nearer = values[0] - np.sign(values[0] - X[i, j]) * steps[j]
            if abs(nearer - X[i, j]) > steps[j] / 2:
                row = X[i].copy()
                row[j] = nearer
                assert model.predict(row[None, :])[0] != desired


def test_a_feature_nobody_measured_is_never_tried_even_within_open_bounds(toy):
    args = setting(toy, 12, 6)
    X = args["X"]
    X[:, 1] = np.nan  # sleep, for everyone
    bounds = np.array([f.bounds for f in toy.model.spec.features], dtype=float)
    args["lo"] = np.where(np.isnan(args["lo"]), bounds[:, 0], args["lo"])
    args["hi"] = np.where(np.isnan(args["hi"]), bounds[:, 1], args["hi"])
    found = probe(**args)
    assert all(name != "sleep" for helps in found.helps for name, _ in helps)
    assert all(not len(h.get(1, ())) for h in found.helpful)
    for key in ("proba", "names"):
        args.pop(key)
    assert all(1 not in per_query for per_query in nearest_flips(**args))
    assert any(found.helps), "the other features still help"
