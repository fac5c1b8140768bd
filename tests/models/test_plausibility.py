"""One plausibility detector: calibrated on held-out rows, shared by the suite and the oracle."""

import numpy as np
import pandas as pd
import pytest

from sensecf.errors import SensecfError
from sensecf.evaluation.metrics import MetricSuite
from sensecf.models.plausibility import PlausibilityDetector, Standardiser


def test_calibration_sets_each_threshold_on_held_out_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    scaler = Standardiser.from_reference(X, np.ones(3))
    plain = PlausibilityDetector(n_estimators=30, inlier_rate=None).fit(scaler, X[:400], X[400:])
    tuned = PlausibilityDetector(n_estimators=30, inlier_rate=0.9).fit(scaler, X[:400], X[400:])
    assert not plain.calibrated_ and tuned.calibrated_
    assert plain.iforest_threshold_ == plain.iforest_.offset_  # scikit-learn's own rule
    for kind in ("iforest", "lof"):
        assert 0.9 <= tuned.reference_rates_[kind] <= 0.92
    # The inlier rule as a bound on the summed normalised path lengths.
    scores = tuned.iforest_scores(X)
    assert np.array_equal(-np.log2(-scores) >= tuned.path_length_bound(), tuned.inliers(X))


def test_without_held_out_rows_the_rates_are_unknown():
    X = np.random.default_rng(1).normal(size=(50, 2))
    detector = PlausibilityDetector(n_estimators=5).fit(Standardiser.from_reference(X, [1, 1]), X)
    assert np.isnan(detector.reference_rates_["iforest"])
    with pytest.raises(SensecfError, match="at least 2 training rows"):
        PlausibilityDetector().fit(Standardiser.from_reference(X, [1, 1]), X[:1])


def test_the_suite_judges_by_one_shared_detector():
    from sensecf import Dataset, infer_spec, train

    rng = np.random.default_rng(0)
    import pandas as pd

    df = pd.DataFrame({"x": rng.normal(size=400).round(2), "z": rng.normal(size=400).round(2)})
    df["y"] = (df["x"] > 0).astype(int)
    data = Dataset(df, infer_spec(df, "y"))
    clf = train(data, "rf", seed=0, importance_repeats=1)
    train_rows, test_rows = clf.split_data(data)
    suite = MetricSuite(detector_trees=20).fit(clf, train_rows, calibration=test_rows)
    detector = suite.detector(0)
    assert detector is suite.detector(0) and detector.calibrated_  # fitted once
    rates = suite.reference_rates(0)
    assert rates["n"] == (test_rows.y == 0).sum() and rates["iforest"] >= 0.95
    assert suite.iforest_[0] is detector.iforest_
    uncalibrated = MetricSuite(detector_trees=20).fit(clf, train_rows)
    assert np.isnan(uncalibrated.reference_rates(0)["lof"])


def test_a_stricter_bar_moves_only_the_isolation_forests_threshold():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(700, 3))
    scaler = Standardiser.from_reference(X, np.ones(3))
    judge = PlausibilityDetector(n_estimators=30).fit(scaler, X[:500], X[500:])
    strict = judge.held_at(0.8)
    held = X[500:]
    assert strict.inliers(held).mean() == pytest.approx(0.8, abs=0.006)
    assert judge.inliers(held).mean() == pytest.approx(0.95, abs=0.006)  # the judge is untouched
    assert strict.reference_rates_["iforest"] == strict.inliers(held).mean()
    # The same trees and the same LOF: only the bar moved, and every strict inlier passes both.
    assert strict.iforest_ is judge.iforest_ and strict.lof_threshold_ == judge.lof_threshold_
    assert (judge.inliers(X) | ~strict.inliers(X)).all()
    assert strict.path_length_bound() > judge.path_length_bound()
    with pytest.raises(SensecfError, match="held_rate must lie strictly between 0 and 1"):
        judge.held_at(1.0)
    uncalibrated = PlausibilityDetector(n_estimators=5).fit(scaler, X[:100])
    with pytest.raises(SensecfError, match="calibrated on held-out rows"):
        uncalibrated.held_at(0.8)


def test_the_neighbour_bars_second_part_refuses_the_edge_of_a_tight_group():
    # A tight group and a loose one: a row just outside the tight group is nearer its
    # neighbours than rows of the loose group are to theirs, yet far for where it lies.
    rng = np.random.default_rng(0)
    tight = rng.normal(scale=0.05, size=(300, 2))
    loose = rng.normal(scale=1.0, size=(300, 2)) + 10.0
    X = np.vstack([tight, loose])[rng.permutation(600)]
    scaler = Standardiser.from_reference(X, np.ones(2))
    judge = PlausibilityDetector(n_estimators=20).fit(scaler, X[:450], X[450:])
    bar = judge.held_at(None, neighbours=10).neighbour_bar_
    edge = np.array([[0.6, 0.0]])
    assert bar.distances(edge)[0] <= bar.threshold  # near enough by distance alone
    assert bar.local_margins(edge)[0] > 0 and not bar.inliers(edge)[0]
    assert bar.inliers(np.array([[0.0, 0.0], [10.0, 10.0]])).all()


def test_a_neighbour_bar_is_met_by_its_share_of_held_out_rows():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(600, 4)) * np.array([1.0, 10.0, 0.1, 1.0])
    X[rng.random(X.shape) < 0.02] = np.nan  # a gap counts as the training median
    scaler = Standardiser.from_reference(X, np.ones(4))
    judge = PlausibilityDetector(n_estimators=20).fit(scaler, X[:400], X[400:])
    near = judge.held_at(None, neighbours=7, columns=np.array([0, 1, 2]))
    bar = near.neighbour_bar_
    assert bar is not None and judge.neighbour_bar_ is None
    held = X[400:]
    # Each part is met by 95% of the held-out rows; the bar's rate is the share meeting both.
    first, second = bar.distances(held) <= bar.threshold, bar.local_margins(held) <= 0
    assert first.mean() == pytest.approx(0.95, abs=0.006)
    assert second.mean() == pytest.approx(0.95, abs=0.006)
    assert bar.inliers(held).mean() == (first & second).mean() == bar.rate
    assert bar.rate < 0.95
    # The distance: mean L1 in standard units to the 7 nearest training rows, on columns 0-2.
    filled = np.where(np.isnan(X), scaler.median, X)
    Z = (filled[:, :3] - scaler.mean[:3]) / scaler.scale[:3]
    gaps = np.abs(Z[400:410, None, :] - Z[None, :400, :]).sum(axis=2)
    expected = np.sort(gaps, axis=1)[:, :7].mean(axis=1)
    np.testing.assert_allclose(bar.distances(X[400:410]), expected, rtol=1e-12)
    # The second part: each training row's own mean distance to its 7 nearest others, and a
    # row's least mean over 7 rows of (distance - factor x that row's own).
    own_gaps = np.abs(Z[:400, None, :] - Z[None, :400, :]).sum(axis=2)
    own = np.sort(own_gaps, axis=1)[:, 1:8].mean(axis=1)
    np.testing.assert_allclose(bar.densities, own, rtol=1e-12)
    margins = np.sort(gaps - bar.factor * own, axis=1)[:, :7].mean(axis=1)
    np.testing.assert_allclose(bar.local_margins(X[400:410]), margins, rtol=1e-9, atol=1e-12)
    # Without a stricter rate the IsolationForest keeps its bar; holding asks for both.
    assert near.iforest_threshold_ == judge.iforest_threshold_
    np.testing.assert_array_equal(near.holds(held), judge.inliers(held) & bar.inliers(held))
    # A verdict of the IsolationForest the caller has already (the oracle's encoded trees).
    np.testing.assert_array_equal(near.holds(held, iforest=np.ones(len(held))), bar.inliers(held))
    stricter = near.held_at(0.8, neighbours=7, columns=np.array([0, 1, 2])).neighbour_bar_
    assert stricter.threshold < bar.threshold and stricter.factor < bar.factor
    with pytest.raises(SensecfError, match="k must be a positive integer; got 0"):
        judge.held_at(None, neighbours=0)
    with pytest.raises(SensecfError, match="positions among 4 features; got \\[5\\]"):
        judge.held_at(None, neighbours=3, columns=np.array([5]))


def test_a_class_detector_holds_out_whole_people_where_rows_have_people():
    from sensecf.data.dataset import Dataset
    from sensecf.data.spec import infer_spec
    from sensecf.models.plausibility import class_detector

    rng = np.random.default_rng(1)
    people = np.repeat(np.arange(40), 6)
    frame = pd.DataFrame({"who": people, "tag": people.astype(float), "x": rng.normal(size=240)})
    frame["y"] = (people % 2).astype(int)
    grouped = Dataset(frame, infer_spec(frame, "y", id_columns=["who"], group_column="who"))
    detector = class_detector(grouped, 0, trees=5)
    # the rows keep each person's tag: nobody is on both sides
    tag = grouped.spec.feature_names.index("tag")
    trained, held = set(detector.rows_[:, tag]), set(detector.calibration_rows_[:, tag])
    assert not trained & held
    assert len(held) == 4 and len(detector.calibration_rows_) == 24  # a fifth of 20 people
    ungrouped = Dataset(frame.drop(columns="who"), infer_spec(frame.drop(columns="who"), "y"))
    by_rows = class_detector(ungrouped, 0, trees=5)
    assert set(by_rows.rows_[:, tag]) & set(by_rows.calibration_rows_[:, tag])
