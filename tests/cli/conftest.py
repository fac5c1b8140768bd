"""A small cohort with its trained model, shared by the command-line tests."""

import pytest

import sensecf as scf


@pytest.fixture(scope="session")
def folders(tmp_path_factory):
    """``features/`` and ``model/`` of a 40-person cohort; tests write beside them."""
    root = tmp_path_factory.mktemp("cli")
    data = scf.datasets.synthetic_cohort(participants=40, days=4, interval_min=15, seed=6)
    data.save(root / "features")
    scf.train(data, "rf", seed=0, params={"n_estimators": 60}).save(root / "model")
    return root
