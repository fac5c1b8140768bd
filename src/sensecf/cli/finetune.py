"""`sensecf finetune`: teach a language model to write counterfactuals for a classifier."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from sensecf.cli import console
from sensecf.cli.options import data_option, model_option, out_option, seed_option


@click.command()
@model_option()
@data_option(help="FEATURES the model was trained on: pairs come from its training split.")
@out_option(help="Fine-tuned model folder to write (FT_DIR).")
@click.option(
    "--base",
    help="Base model: a GGUF file or a Hugging Face folder/id [the packaged SmolLM2-135M GGUF].",
)
@click.option(
    "--teacher",
    type=click.Choice(["oracle", "llm", "dice"]),
    default="oracle",
    show_default=True,
    help="Where the target counterfactuals come from (only valid, violation-free ones are kept).",
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
    help="Flagged training rows the teacher explains (per source) [160; --quick: 12]. More pairs "
    "cost teacher time (about a second a row with the oracle on 2 cores).",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    help="LoRA optimizer steps [160, about 2 s each on 2 cores; --quick: 4]. The default run "
    "also stops training after 7 minutes (with a checkpoint: a rerun resumes).",
)
@click.option("--quick", is_flag=True, help="A few pairs and steps: a fast check of the flow.")
@seed_option()
def finetune(
    model_dir: Path,
    data_path: Path,
    out_dir: Path,
    base: str | None,
    teacher: str,
    more_path: Path | None,
    max_queries: int | None,
    steps: int | None,
    quick: bool,
    seed: int,
) -> None:
    """Fine-tune a language model (LoRA) to propose counterfactuals for MODEL's flagged rows.

    Builds supervised pairs (compact prompt -> the teacher's changes) from the training split's
    flagged rows, trains a LoRA adapter (CPU by default: within 15 minutes on 2 cores with the
    packaged model), merges it into a GGUF for the llama-cpp backend, checks it on held-out
    people and writes a model card. A rerun reuses the pairs and resumes training. Serve it
    with `--generators fine-tuned --llm-model FT_DIR` in explain and benchmark.
    """
    from sensecf.data.loaders import load_dataset
    from sensecf.finetuning.run import PROFILES
    from sensecf.finetuning.run import finetune as run_finetune
    from sensecf.models import load_model

    start = time.perf_counter()
    model = load_model(model_dir)
    data = load_dataset(data_path)
    more = load_dataset(more_path, spec=data.spec) if more_path is not None else None
    profile = PROFILES["quick" if quick else "default"]
    if max_queries is not None:
        profile = replace(profile, max_queries=max_queries)
    if steps is not None:
        profile = replace(profile, train=replace(profile.train, steps=steps))
    with console.news():
        run = run_finetune(
            model,
            data,
            out_dir,
            base=base,
            teacher=teacher,
            more=more,
            profile=profile,
            seed=seed,
            progress=console.progress_enabled(),
        )
    held = run.heldout
    if held.get("queries"):
        console.line(
            f"held-out people: first-answer validity {held['first_answer_validity']:.2f} on "
            f"{held['queries']} queries, distinct answers {held['distinct_answer_share']:.2f}"
        )
    console.done(f"wrote the fine-tuned model to {out_dir}", time.perf_counter() - start)
