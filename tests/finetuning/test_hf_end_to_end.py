"""`sensecf finetune --base HF_DIR` and `sensecf benchmark --llm-backend transformers`, end to end.

Slow: for a tiny random-init model of each family (Llama-3 and Mistral, built here), a quick
fine-tune (oracle pairs, a few LoRA steps on the CPU, the adapter merged into ``merged/``, the
held-out check), then the benchmark serving the folder with the transformers backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from finetune_task import Task

from sensecf.cli.main import cli
from sensecf.llm import artifacts

pytest.importorskip("peft")
pytest.importorskip("llguidance")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]

from sensecf.llm.tiny import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def folders(task: Task, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hf-e2e")
    task.data.save(root / "features")
    task.model.save(root / "model")
    return root


@pytest.mark.parametrize("family", ["llama", "mistral"])
def test_finetune_a_hugging_face_base_and_serve_it_in_the_benchmark(
    folders: Path, family: str
) -> None:
    base = build_tiny_model(family, folders / f"base-{family}", context=4096)
    ft = folders / f"ft-{family}"
    runner = CliRunner()
    common = ["--model", folders / "model", "--data", folders / "features"]
    config = folders / f"{family}.yaml"
    config.write_text(f"base: base-{family}\nquick: true\ntrain:\n  rank: 4\n  lr: 0.005\n")
    done = runner.invoke(
        cli,
        [str(a) for a in ["finetune", *common, "--out", ft, "--config", config, "--steps", 2]],
    )
    assert done.exit_code == 0, done.output
    assert "wrote the fine-tuned model" in done.output
    for name in (artifacts.CONFIG, artifacts.HELDOUT, artifacts.CARD, artifacts.CHAT_TEMPLATE):
        assert (ft / name).is_file(), name
    assert (ft / artifacts.MERGED / "config.json").is_file()
    assert not (ft / artifacts.GGUF).exists()
    saved = json.loads((ft / artifacts.CONFIG).read_text())
    assert saved["export"] == "hf" and saved["weights"] == "float32"
    assert saved["train"]["rank"] == 4 and saved["train"]["lr"] == 0.005  # from the file
    assert saved["train"]["steps"] == 2  # the command line wins over the file
    held = json.loads((ft / artifacts.HELDOUT).read_text())
    assert held["backend"] == "transformers" and held["queries"] >= 1
    card = (ft / artifacts.CARD).read_text()
    assert "--llm-backend transformers" in card and "model.gguf" not in card
    assert f"--chat-template {ft / artifacts.CHAT_TEMPLATE}" in card

    served = runner.invoke(
        cli,
        [
            str(a)
            for a in [
                "benchmark",
                *common,
                "--generators",
                "fine-tuned",
                "--llm-backend",
                "transformers",
                "--llm-model",
                ft,
                "--limit",
                3,
                "--out",
                folders / f"bench-{family}",
            ]
        ],
    )
    assert served.exit_code == 0, served.output
    summary = pd.read_csv(folders / f"bench-{family}" / "summary.csv")
    assert "fine-tuned" in set(summary["method"])

    gguf = runner.invoke(
        cli,
        [str(a) for a in ["finetune", *common, "--out", ft, "--base", base, "--export", "gguf"]],
    )
    assert gguf.exit_code != 0 and "GGUF export is for GGUF bases" in gguf.output
