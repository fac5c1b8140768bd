"""What the command-line tests share: a way to run a verb, and a small cohort with its model."""

from collections.abc import Callable

import pytest
from click.testing import CliRunner, Result

import sensecf as scf
from sensecf.cli.main import cli


@pytest.fixture(scope="session")
def invoke() -> Callable[..., Result]:
    """Run ``sensecf ARGS...`` in-process (any argument may be a path or a number)."""

    def run(*args: object) -> Result:
        return CliRunner().invoke(cli, [str(a) for a in args])

    return run


@pytest.fixture(scope="session")
def folders(tmp_path_factory):
    """``features/`` and ``model/`` of a 40-person cohort; tests write beside them."""
    root = tmp_path_factory.mktemp("cli")
    data = scf.datasets.synthetic_cohort(participants=40, days=4, interval_min=15, seed=6)
    data.save(root / "features")
    scf.train(data, "rf", seed=0, params={"n_estimators": 60}).save(root / "model")
    return root
