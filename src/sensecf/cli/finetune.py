"""`sensecf finetune`: teach a language model to write counterfactuals for a classifier."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from sensecf.cli import console
from sensecf.cli.options import (
    PATH,
    data_option,
    execution_options,
    held_neighbours_option,
    held_rate_option,
    model_option,
    out_option,
    seed_option,
)


@click.command()
@execution_options
@model_option(required=False, help="Model folder written by `sensecf train` (the classifier).")
@data_option(
    required=False,
    help="FEATURES the model was trained on: pairs come from its training split.",
)
@out_option(required=False, help="Fine-tuned model folder to write (FT_DIR).")
@click.option(
    "--base",
    help="Base model: a GGUF file, or a Hugging Face folder/id (e.g. Llama-3.1-8B, "
    "BioMistral-7B: QLoRA on a GPU) [the packaged SmolLM2-135M GGUF].",
)
@click.option(
    "--teacher",
    type=click.Choice(["oracle", "oracle-plausible", "llm", "dice"]),
    help="Where the target counterfactuals come from (only valid, violation-free ones are "
    "kept) [oracle]: oracle (several distinct minimal ones per person), oracle-plausible (the "
    "oracle held to the plausibility detector the benchmark judges by: every target an "
    "IsolationForest inlier among the desired class), llm (the few-shot LLM, verified), dice.",
)
@held_rate_option(
    help="With --teacher oracle-plausible: hold the teacher to a stricter bar on the same "
    "detector, the IsolationForest score only a share R of held-out real rows reach (e.g. 0.8) "
    "[the detector's calibration, 0.95]."
)
@held_neighbours_option(
    help="With --teacher oracle-plausible: hold the teacher also as near to real people of "
    "the desired class as held-out real people are (mean distance to the K nearest real "
    "rows, e.g. 20); the prompt's lines then offer only changes that meet that bar too [none]."
)
@click.option(
    "--more",
    "more_path",
    type=click.Path(exists=True, path_type=Path),
    help="FEATURES of further people (same spec, none of the model's held-out people): their "
    "flagged rows become pairs too, e.g. a second synthetic cohort.",
)
@click.option(
    "--max-queries",
    type=click.IntRange(min=1),
    help="Flagged training rows the teacher explains (per source) [160; a Hugging Face base: "
    "400; --quick: 12]. More pairs cost teacher time (about a second a row with the oracle on "
    "2 cores).",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    help="LoRA optimizer steps [160, about 2 s each on 2 cores, stopping after 7 minutes with a "
    "checkpoint; a Hugging Face base: 300 of 8 pairs; --quick: 4].",
)
@click.option(
    "--lr",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Learning rate [2e-3; a Hugging Face base: 2e-4].",
)
@click.option("--rank", type=click.IntRange(min=1), help="LoRA rank [8; a Hugging Face base: 16].")
@click.option(
    "--target-modules",
    help="Comma-separated module names the adapter is put on, or all-linear "
    "[q_proj,v_proj; a Hugging Face base: every attention and MLP projection].",
)
@click.option(
    "--last-layers",
    type=click.IntRange(min=0),
    help="Adapt only the top N transformer layers, 0 for all [8; a Hugging Face base: all].",
)
@click.option(
    "--export",
    type=click.Choice(["auto", "gguf", "hf", "none"]),
    help="What to write besides adapter/: gguf (model.gguf, for a GGUF base), hf (merged/, "
    "the adapter merged into a Hugging Face base), none; auto follows the base [auto].",
)
@click.option("--quick", is_flag=True, default=None, help="A few pairs and steps: a fast check.")
@seed_option(default=None, show_default=False, help="Random seed [0].")
@click.option(
    "--config",
    "config_path",
    type=PATH,
    help="YAML file with any of: model, data, out, base, teacher, held_rate, held_neighbours, "
    "more, max_queries, steps, quick, export, seed, and train (a mapping of training "
    "settings: lr, rank, alpha, dropout, target_modules, last_layers, batch_size, max_length, warmup, save_every, time_budget_s, "
    "quantize_4bit, gradient_checkpointing). Options given on the command line win.",
)
def finetune(
    model_dir: Path | None,
    data_path: Path | None,
    out_dir: Path | None,
    base: str | None,
    teacher: str | None,
    held_rate: float | None,
    held_neighbours: int | None,
    more_path: Path | None,
    max_queries: int | None,
    steps: int | None,
    lr: float | None,
    rank: int | None,
    target_modules: str | None,
    last_layers: int | None,
    export: str | None,
    quick: bool | None,
    seed: int | None,
    config_path: Path | None,
    execution: Any,
) -> None:
    """Fine-tune a language model (LoRA) to propose counterfactuals for MODEL's flagged rows.

    Builds supervised pairs (compact prompt -> the teacher's changes) from the training split's
    flagged rows, trains a LoRA adapter and checks it on held-out people, and writes a model
    card with the command that serves it. The packaged model trains on the CPU (within 15
    minutes on 2 cores) and is merged into a GGUF for the llama-cpp backend. A Hugging Face base
    trains on a GPU (QLoRA in 4-bit NF4 when bitsandbytes is installed: pip install
    'sensecf[gpu]') and is merged into a Hugging Face folder, FT_DIR/merged, for
    `--llm-backend transformers`. A rerun reuses the pairs and resumes training. Serve it with
    `--generators fine-tuned --llm-model FT_DIR` in explain and benchmark.
    """
    from sensecf.data.loaders import load_dataset
    from sensecf.finetuning.run import PROFILES, profile_for
    from sensecf.finetuning.run import finetune as run_finetune
    from sensecf.finetuning.settings import FinetuneSettings
    from sensecf.models import load_model

    saved = FinetuneSettings.from_yaml(config_path).model_dump() if config_path else {}
    train = {
        "lr": lr,
        "rank": rank,
        "target_modules": target_modules,
        "last_layers": last_layers,
    }
    overrides = {
        "model": model_dir,
        "data": data_path,
        "out": out_dir,
        "base": base,
        "teacher": teacher,
        "held_rate": held_rate,
        "held_neighbours": held_neighbours,
        "more": more_path,
        "max_queries": max_queries,
        "steps": steps,
        "export": export,
        "quick": quick,
        "seed": seed,
    }
    merged = {**saved, **{k: v for k, v in overrides.items() if v is not None}}
    merged["train"] = {
        **saved.get("train", {}),
        **{k: v for k, v in train.items() if v is not None},
    }
    settings = FinetuneSettings.build(merged, source="sensecf finetune")
    model_dir = _required(settings.model, "--model")
    data_path = _required(settings.data, "--data")
    out_dir = _required(settings.out, "--out")

    start = time.perf_counter()
    model = load_model(model_dir)
    data = load_dataset(data_path)
    more = load_dataset(settings.more, spec=data.spec) if settings.more is not None else None
    profile = PROFILES[profile_for(settings.base, quick=settings.quick)]
    if settings.max_queries is not None:
        profile = replace(profile, max_queries=settings.max_queries)
    profile = replace(profile, train=settings.train_config(profile.train))
    with console.news():
        run = run_finetune(
            model,
            data,
            out_dir,
            base=settings.base,
            teacher=settings.teacher,
            held_rate=settings.held_rate,
            held_neighbours=settings.held_neighbours,
            more=more,
            profile=profile,
            export=settings.export,
            seed=settings.seed,
            progress=console.progress_enabled(),
            execution=execution,
        )
    held = run.heldout
    if held.get("queries"):
        console.line(
            f"held-out people: first-answer validity {held['first_answer_validity']:.2f} on "
            f"{held['queries']} queries, distinct answers {held['distinct_answer_share']:.2f}"
        )
    console.done(f"wrote the fine-tuned model to {out_dir}", time.perf_counter() - start)


def _required(value: Path | None, flag: str) -> Path:
    if value is None:
        raise click.UsageError(f"{flag} is required (on the command line or in --config)")
    return value
