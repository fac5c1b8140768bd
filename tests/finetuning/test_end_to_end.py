"""A `--quick` fine-tune of the real packaged model, and its GGUF export served by llama-cpp.

Slow: loads SmolLM2-135M in transformers (float32), trains a few LoRA steps, writes the merged
GGUF and decodes with both backends.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from finetune_task import Task

from sensecf.cli.main import cli
from sensecf.errors import SensecfError
from sensecf.finetuning.run import finetune
from sensecf.generators.llm.parse import parse_answer
from sensecf.llm import artifacts
from sensecf.llm.base import ChatRequest, GenerationParams
from sensecf.llm.models import packaged_model_path

pytest.importorskip("peft")
pytest.importorskip("gguf")
pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning")]


@pytest.fixture(scope="module")
def quick_run(task: Task, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("ft")
    run = finetune(task.model, task.data, out, profile="quick", progress=False)
    return run, out


def test_quick_fine_tune_writes_a_servable_model_folder(quick_run) -> None:
    run, out = quick_run
    for name in (
        artifacts.FORMAT,
        artifacts.CONFIG,
        artifacts.GGUF,
        artifacts.LOSS_CSV,
        artifacts.LOSS_PNG,
        artifacts.HELDOUT,
        artifacts.CARD,
        artifacts.PAIRS,
    ):
        assert (out / name).is_file(), name
    assert (out / artifacts.ADAPTER / "adapter_config.json").is_file()
    assert run.train.steps == 4 and len(run.train.losses) == 4
    config = json.loads((out / artifacts.CONFIG).read_text())
    assert config["base"].endswith(".gguf") and config["teacher"] == "oracle"
    held = json.loads((out / artifacts.HELDOUT).read_text())
    assert held["queries"] >= 1 and 0 <= held["first_answer_validity"] <= 1
    assert "distinct_answer_share" in held
    card = (out / artifacts.CARD).read_text()
    assert "teacher: oracle" in card and "--llm-model" in card


def test_exported_gguf_answers_as_the_adapter_does(quick_run, tmp_path) -> None:
    """Greedy, schema-constrained answers to five training prompts: the parsed answer (feature
    → value) of llama-cpp on an all-float32 export equals that of transformers on the base +
    adapter. (The default export keeps the base's Q4_1 blocks; after a few steps a model's
    choice between two values can be a near-tie that quantisation noise flips, so exactness
    of the merge is checked without it.)"""
    from sensecf.finetuning.export import export_gguf
    from sensecf.finetuning.training import TrainConfig, load_base
    from sensecf.llm.llama_cpp import LlamaCpp
    from sensecf.llm.transformers_backend import Transformers

    peft = pytest.importorskip("peft")
    _, out = quick_run
    base, _, _ = load_base(None, TrainConfig(device="cpu"))
    adapted = peft.PeftModel.from_pretrained(base, str(out / artifacts.ADAPTER))
    export_gguf(adapted, packaged_model_path(), tmp_path / "f32.gguf", all_float32=True)
    del adapted, base
    pairs = pd.read_parquet(out / artifacts.PAIRS).head(5)
    requests = []
    for messages in pairs["messages"]:
        messages = json.loads(messages)
        offered = {}
        for line in messages[-1]["content"].splitlines()[1:]:
            if not line.startswith("near:") and line != "together:":
                name, rest = line.split(" ", 1)
                current, values = rest.split(":")
                offered[name] = [json.loads(v) for v in [current, *values.split()]]
        schema = {
            "type": "object",
            "properties": {n: {"enum": v} for n, v in offered.items()},
            "required": [],
            "additionalProperties": False,
        }
        requests.append(
            ChatRequest(messages, schema, GenerationParams(temperature=0.0, max_tokens=60))
        )
    adapter = Transformers(packaged_model_path(), adapter=out / artifacts.ADAPTER, device="cpu")
    merged = LlamaCpp(tmp_path / "f32.gguf")
    try:
        a = adapter.complete_many(requests)
        b = merged.complete_many(requests)
    finally:
        adapter.close()
        merged.close()
    for req, x, y in zip(requests, a, b, strict=True):
        keys = list(req.schema["properties"])
        assert parse_answer(x.text, keys).values == parse_answer(y.text, keys).values, (
            x.text,
            y.text,
        )


def test_cli_verb_is_registered_and_checks_its_options() -> None:
    runner = CliRunner()
    shown = runner.invoke(cli, ["finetune", "--help"])
    assert shown.exit_code == 0
    for option in (
        "--model",
        "--data",
        "--out",
        "--base",
        "--teacher",
        "--more",
        "--max-queries",
        "--steps",
        "--quick",
    ):
        assert option in shown.output
    zero = runner.invoke(
        cli, ["finetune", "--model", "m", "--data", "d", "--out", "o", "--steps", "0"]
    )
    assert zero.exit_code == 2 and "--steps" in zero.output
    bad = runner.invoke(
        cli, ["finetune", "--model", "m", "--data", "d", "--out", "o", "--teacher", "x"]
    )
    assert bad.exit_code == 2 and "oracle" in bad.output
    assert "--held-rate" in shown.output
    off = runner.invoke(
        cli, ["finetune", "--model", "m", "--data", "d", "--out", "o", "--held-rate", "1"]
    )
    assert off.exit_code == 2 and "--held-rate" in off.output


def test_a_stricter_bar_is_for_the_plausible_teacher_only(task: Task, tmp_path) -> None:
    with pytest.raises(SensecfError, match="held_rate holds the oracle-plausible teacher"):
        finetune(task.model, task.data, tmp_path / "ft", teacher="oracle", held_rate=0.8)
    with pytest.raises(SensecfError, match="held_neighbours holds the oracle-plausible teacher"):
        finetune(task.model, task.data, tmp_path / "ft", teacher="dice", held_neighbours=20)
    with pytest.raises(SensecfError, match="held_neighbours must be a positive integer; got 0"):
        finetune(
            task.model, task.data, tmp_path / "ft", teacher="oracle-plausible", held_neighbours=0
        )
    assert not (tmp_path / "ft").exists()  # refused before anything is written
