"""What plausibility costs: the plain and the plausible oracle side by side."""

import json

import numpy as np
import pandas as pd
import pytest

import sensecf as scf
from sensecf.evaluation.benchmark import BenchmarkConfig, run_benchmark
from sensecf.evaluation.price import plausibility_price_summary, price_line


def test_price_summary_counts_people_without_a_plausible_counterfactual():
    table = pd.DataFrame(
        {
            "plain_status": ["optimal", "optimal", "optimal", "infeasible"],
            "plain_certified": [True, True, True, False],
            "plain_min_l0": [1.0, 1.0, 2.0, None],
            "plain_mad_l1": [0.5, 1.0, 2.0, None],
            "plausible_status": ["optimal", "infeasible", "time_limit", "infeasible"],
            "plausible_certified": [True, False, False, False],
            "plausible_min_l0": [3.0, None, None, None],
            "plausible_mad_l1": [2.5, None, None, None],
        }
    )
    price = plausibility_price_summary(table)
    assert (price.both, price.extra_changes, price.extra_mad_l1) == (1, 2.0, 2.0)
    assert (price.no_plausible, price.unknown, price.certified_plain) == (1, 1, 3)
    assert "1 of 4 people have no plausible counterfactual" in price_line(price)


@pytest.mark.slow
def test_benchmark_runs_both_oracles_and_prints_the_reference_and_the_price(tmp_path):
    data = scf.datasets.synthetic_cohort(participants=30, days=3, interval_min=15, seed=6)
    model = scf.train(data, "rf", seed=0, params={"n_estimators": 20})
    config = BenchmarkConfig(generators=["oracle", "oracle-plausible"], limit=3, n_cfs=1)
    bench = run_benchmark(model, data, config, out_dir=tmp_path)
    rates = bench.reference_rates
    assert rates["n"] > 0 and rates["iforest"] >= 0.95 and rates["lof"] >= 0.95
    # Held to the suite's own detector: every counterfactual is one of its inliers.
    summary = bench.summary.set_index("method")
    assert summary.loc["oracle-plausible", "iforest_inlier"].min() == 1.0
    assert len(bench.price) == summary.loc["oracle"].iloc[0]["n_queries"]
    assert "what plausibility costs" in bench.notes[1]
    text = (tmp_path / "summary.md").read_text()
    assert "real held-out rows of the desired class" in text and "plausibility costs" in text
    assert (tmp_path / "plausibility_price.csv").is_file()
    # The reference rates are kept for the report, beside the notes.
    saved = json.loads((tmp_path / "plausibility.json").read_text())
    assert saved["reference"] == {"lof": rates["lof"], "iforest": rates["iforest"]}
    assert saved["n"] == rates["n"] and saved["inlier_rate"] == 0.95
    # The frontier: each answered person at every rate, the fewest changes never falling as
    # the threshold tightens (a higher calibration rate is a looser one; 0 is not held).
    frontier = pd.read_csv(tmp_path / "plausibility_frontier.csv")
    assert frontier["query_id"].nunique() == len(bench.frontier["query_id"].unique()) >= 1
    assert sorted(frontier["inlier_rate"].unique()) == [0.0, 0.8, 0.9, 0.95, 0.99]
    assert frontier[frontier["inlier_rate"] == 0]["threshold"].isna().all()
    for _, rows in frontier.groupby("query_id"):
        rows = rows[rows["min_l0_certified"]]
        order = rows.assign(strict=1 - rows["inlier_rate"].where(rows["inlier_rate"] > 0, 1.0))
        changes = order.sort_values("strict")["min_l0"].to_numpy()
        assert (np.diff(changes) >= 0).all(), rows
    plausible = bench.price.set_index("query_id")
    at_run_rate = frontier[frontier["inlier_rate"] == 0.95].set_index("query_id")
    both = at_run_rate.index[at_run_rate["min_l0_certified"]]
    assert (at_run_rate.loc[both, "min_l0"] == plausible.loc[both, "plausible_min_l0"]).all()
