"""A small real run folder for the report tests: each verb's own output on a 40-person cohort.

``features/`` and ``model/`` as `sensecf features` and `train` write them; ``benchmark/``,
``explain/`` and ``augment/`` from the verbs themselves (fast generators: the oracle and the
nearest-example control; an oversampling-only study); ``finetune/loss.csv`` holds the real
per-epoch training loss of a small neural network fitted on the cohort (the columns a
fine-tune writes: ``step``, ``loss``).
"""

from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import sensecf as scf
from sensecf.cli.main import cli


def invoke(*args: object) -> None:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def build_run(root: Path) -> Path:
    data = scf.datasets.synthetic_cohort(participants=40, days=4, interval_min=15, seed=6)
    data.save(root / "features")
    scf.train(data, "rf", seed=0, params={"n_estimators": 60}).save(root / "model")
    common = ["--model", root / "model", "--data", root / "features"]
    invoke(
        "benchmark",
        *common,
        "--generators",
        "oracle,nearest-example",
        "--limit",
        4,
        "--n-cfs",
        2,
        "--out",
        root / "benchmark",
    )
    invoke("explain", *common, "--generator", "oracle", "--limit", 3, "--out", root / "explain")
    config = root / "augment.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data": str(root / "features"),
                "out": str(root / "augment"),
                "generators": [],
                "oversamplers": ["random-oversampling"],
                "scenarios": [0.25, 0.5],
                "seeds": 2,
                "estimator": "logreg",
            }
        )
    )
    invoke("augment", "--config", config)
    write_loss_curve(data, root / "finetune")
    return root


def write_loss_curve(data: scf.Dataset, folder: Path) -> Path:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = data.X.fillna(data.X.median())
    net = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=25, random_state=0)
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it stops before converging: a short curve is enough
        net.fit(X, data.y)
    losses = net[-1].loss_curve_
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "loss.csv"
    pd.DataFrame({"step": range(1, len(losses) + 1), "loss": losses}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """A run folder with every kind of output the report reads (never modified by tests)."""
    return build_run(tmp_path_factory.mktemp("run"))
