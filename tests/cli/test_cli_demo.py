"""The demo's counterfactuals hold together: every derived feature equals its formula."""

import numpy as np
import pandas as pd
import pytest

from sensecf.data.constraints import recompute, unmet_relations
from sensecf.data.spec import DatasetSpec


@pytest.mark.slow
def test_every_counterfactual_the_demo_writes_is_consistent(tmp_path, invoke):
    result = invoke("demo", "--out", tmp_path, "--quick")
    assert result.exit_code == 0, result.output
    spec = DatasetSpec.from_yaml(tmp_path / "model" / "spec.yaml")
    assert spec.derived_features  # the shipped AI-READI spec declares them
    for folder in ("explain", "benchmark"):
        cfs = pd.read_parquet(tmp_path / folder / "cfs.parquet")
        assert len(cfs) > 0, folder
        values = cfs[spec.feature_names].to_numpy(dtype=float)
        assert np.allclose(recompute(spec, values), values, rtol=1e-9, atol=1e-9), folder
        own = cfs["method"].str.startswith(("oracle", "few-shot")).to_numpy()
        assert not unmet_relations(spec, values[own]).any(), folder
    texts = pd.read_csv(tmp_path / "explain" / "interventions.csv")["text"]
    # Total sleep and time in range are consequences, never instructions of their own.
    for text in texts:
        for sentence in str(text).split("; "):
            assert not sentence.startswith(("Sleep ", "Time in range 70–180 mg/dL up")), sentence
