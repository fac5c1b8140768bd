"""One fine-tuning run, start to end: pairs, LoRA, export, held-out check, model card.

:func:`finetune` is what ``sensecf finetune`` runs. It writes the model folder (see
:mod:`~sensecf.llm.artifacts`) step by step, so a rerun reuses the pairs it built and
resumes training from the last checkpoint. Three profiles: ``default`` (sized for ≤ 15 minutes
on a 2-core CPU with the packaged model), ``hf`` (a 7–8B Hugging Face base on one GPU: QLoRA,
rank 16 on every linear layer of every block, learning rate 2e-4, gradient checkpointing) and
``quick`` (a handful of steps, for tests); ``auto`` picks ``hf`` for a Hugging Face base and
``default`` for a GGUF.

What is exported follows the base (``export="auto"``): a GGUF base gives ``model.gguf`` (the
llama-cpp backend's), a Hugging Face base gives ``merged/``, a Hugging Face folder with the
adapter merged into the base's full-precision weights (the transformers backend's), and
``chat_template.jinja``, the template the prompts were rendered with, for a server such as vLLM.

>>> PROFILES["quick"].train.steps, PROFILES["default"].per_query, PROFILES["hf"].train.lr
(4, 3, 0.0002)
>>> profile_for("Llama-3.1-8B"), profile_for("model.gguf"), profile_for("x.gguf", quick=True)
('hf', 'default', 'quick')
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sensecf.data.constraints import count_changes
from sensecf.data.dataset import Dataset
from sensecf.errors import SensecfError
from sensecf.execution import Execution
from sensecf.finetuning.pairs import ORACLE_TEACHERS, build_pairs, read_rows, split_pairs
from sensecf.finetuning.training import TrainConfig, TrainResult, train_lora
from sensecf.generators.llm.compact import TYPICAL_LINES, CompactFormat
from sensecf.generators.oracle.generator import NODE_LIMIT
from sensecf.llm import artifacts
from sensecf.models.classifier import TrainedClassifier
from sensecf.models.plausibility import check_rate

logger = logging.getLogger(__name__)


@dataclass
class Profile:
    """How much a run does: ``train`` settings, teacher CFs ``per_query``, ``max_queries``
    flagged training rows used (``None``: all), ``heldout_share`` of people kept out of
    training for the check, ``heldout_max`` of their queries checked, ``teacher_nodes`` the
    oracle teacher's branch-and-bound nodes per solve (counted work, not seconds: the same
    pairs on any machine)."""

    train: TrainConfig = field(default_factory=TrainConfig)
    per_query: int = 3
    max_queries: int | None = None
    heldout_share: float = 0.1
    heldout_max: int = 40
    teacher_nodes: int = NODE_LIMIT


ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

PROFILES = {
    "default": Profile(
        train=TrainConfig(steps=160, time_budget_s=420.0, last_layers=8), max_queries=160
    ),
    # QLoRA as commonly run on a 7-8B model and one GPU: no time budget, every block adapted.
    "hf": Profile(
        train=TrainConfig(
            rank=16,
            alpha=32,
            dropout=0.05,
            target_modules=ALL_LINEAR,
            lr=2e-4,
            steps=300,
            batch_size=8,
            max_length=768,  # a SentencePiece vocabulary spells numbers digit by digit
            save_every=50,
            gradient_checkpointing=True,
        ),
        max_queries=400,
    ),
    "quick": Profile(
        train=TrainConfig(steps=4, batch_size=2, save_every=2, max_length=320),
        per_query=2,
        max_queries=12,
        heldout_share=0.25,
        heldout_max=4,
        teacher_nodes=200,
    ),
}


EXPORTS = ("auto", "gguf", "hf", "none")


def profile_for(base: str | os.PathLike | None, *, quick: bool = False) -> str:
    """The profile ``auto`` means: ``quick`` when asked, ``default`` for a GGUF base (``None``:
    the packaged one), ``hf`` for a Hugging Face folder or id."""
    if quick:
        return "quick"
    if base is None or Path(base).suffix == ".gguf":
        return "default"
    return "hf"


def export_kind(base: Path, export: str) -> str:
    """What ``export`` writes for ``base``: ``gguf``, ``hf`` or ``none``; refused up front when
    it cannot be done.

    >>> export_kind(Path("m.gguf"), "auto"), export_kind(Path("Llama-3.1-8B"), "auto")
    ('gguf', 'hf')
    >>> export_kind(Path("Llama-3.1-8B"), "gguf")
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: the GGUF export is for GGUF bases (it rewrites the base's own GGUF with the merged weights); Llama-3.1-8B is a Hugging Face model: use export 'hf' (merged/), and llama.cpp's convert_hf_to_gguf.py on merged/ for a GGUF
    """
    if export not in EXPORTS:
        raise SensecfError(f"export must be one of {', '.join(EXPORTS)}; got {export!r}")
    is_gguf = base.suffix == ".gguf"
    if export == "auto":
        return "gguf" if is_gguf else "hf"
    if export == "gguf" and not is_gguf:
        raise SensecfError(
            "the GGUF export is for GGUF bases (it rewrites the base's own GGUF with the merged "
            f"weights); {base.name} is a Hugging Face model: use export 'hf' ({artifacts.MERGED}/), "
            f"and llama.cpp's convert_hf_to_gguf.py on {artifacts.MERGED}/ for a GGUF"
        )
    if export == "hf" and is_gguf:
        raise SensecfError(
            f"the merged Hugging Face folder is for Hugging Face bases; {base.name} is a GGUF: "
            "use export 'gguf' (model.gguf)"
        )
    return export


@dataclass
class FinetuneRun:
    """What a run wrote and measured."""

    out_dir: Path
    pairs: int
    train_pairs: int
    heldout: dict[str, Any]
    train: TrainResult
    seconds: dict[str, float]


def finetune(
    model: TrainedClassifier,
    data: Dataset,
    out_dir: str | os.PathLike,
    *,
    base: str | os.PathLike | None = None,
    teacher: str = "oracle",
    more: Dataset | None = None,
    profile: str | Profile = "auto",
    export: str = "auto",
    seed: int = 0,
    progress: bool = True,
    execution: Execution | None = None,
    held_rate: float | None = None,
    held_neighbours: int | None = None,
) -> FinetuneRun:
    """Fine-tune ``base`` (default: the packaged SmolLM2 GGUF) to explain ``model``'s flags.

    Pairs come from ``data``'s training split and from ``more`` people's rows, when given
    (``teacher``: oracle, oracle-plausible, dice or llm); a share of
    their people is held out for the check; the adapter is trained, exported (``export``:
    ``auto`` follows the base, see the module; ``none`` keeps the adapter alone), checked on the
    held-out people through the ``fine-tuned`` generator, and described in ``README.md``.
    ``profile``: a name of :data:`PROFILES`, ``auto`` (:func:`profile_for`) or a
    :class:`Profile`. Progress news goes to this module's logger (the CLI prints it).
    ``execution`` says where the teacher's queries run (:func:`build_pairs`); training runs here.
    ``held_rate``: the ``oracle-plausible`` teacher held to a stricter bar on the detector
    (see :class:`~sensecf.generators.oracle.Oracle`), ``held_neighbours`` to a neighbour bar
    too; both refused for any other teacher. A model taught by ``oracle-plausible`` is asked
    in a ``typical`` format: its prompt's lines offer only single changes that keep the person
    typical by the bar the teacher met; to a person no such change serves, the changes of the
    oracle's answers held to that bar (the model reads them off its prompt), and where there
    are none, the plain single changes (``format.json`` keeps it, so it is served so too).
    """
    from sensecf.llm.models import packaged_model_path

    for label, value in (("held_rate", held_rate), ("held_neighbours", held_neighbours)):
        if value is not None and teacher != "oracle-plausible":
            raise SensecfError(
                f"{label} holds the oracle-plausible teacher to a stricter bar; the teacher is "
                f"{teacher!r}"
            )
    if held_rate is not None:
        check_rate("held_rate", held_rate)
    if held_neighbours is not None and (
        isinstance(held_neighbours, bool)
        or not isinstance(held_neighbours, int)
        or held_neighbours < 1
    ):
        raise SensecfError(f"held_neighbours must be a positive integer; got {held_neighbours!r}")

    if isinstance(profile, str):
        name = profile_for(base) if profile == "auto" else profile
        if name not in PROFILES:
            raise SensecfError(
                f"profile must be auto or one of {', '.join(PROFILES)}; got {profile!r}"
            )
        prof = PROFILES[name]
    else:
        prof = profile
    prof = replace(prof, train=replace(prof.train, seed=seed))
    base_path = Path(base) if base is not None else packaged_model_path()
    kind = export_kind(base_path, export)  # refused before any work
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spec = model.spec
    fmt = CompactFormat(
        target=spec.classes[spec.flagged_class],
        typical=teacher == "oracle-plausible",
        typical_rate=held_rate,
        typical_neighbours=held_neighbours,
    )
    fmt.save(out)
    seconds: dict[str, float] = {}

    start = time.perf_counter()
    pairs = _pairs(
        model,
        data,
        more,
        out,
        fmt,
        teacher,
        prof,
        seed,
        progress,
        execution,
        {"held_rate": held_rate, "held_neighbours": held_neighbours},
    )
    seconds["pairs"] = time.perf_counter() - start
    fit, held = split_pairs(pairs, prof.heldout_share, seed)
    logger.info(
        f"pairs: {len(pairs)} from {pairs['person'].nunique()} people; "
        f"{len(fit)} to train, {held['person'].nunique()} people held out"
    )

    start = time.perf_counter()
    peft_model, _, result = train_lora(
        fit, out, base=base_path, config=prof.train, progress=progress
    )
    seconds["train"] = time.perf_counter() - start
    config = {
        "weights": _training_weights(peft_model),
        "export": kind,
        "base": str(base_path.resolve()) if base_path.exists() else str(base),
        "teacher": teacher,
        "held_rate": held_rate,
        "held_neighbours": held_neighbours,
        "seed": seed,
        "train": asdict(prof.train),
        "pairs": len(pairs),
        "train_pairs": len(fit),
        "heldout_people": int(held["person"].nunique()),
        "classifier": model.estimator_name,
        "dataset": model.dataset_source,
    }
    (out / artifacts.CONFIG).write_text(json.dumps(config, indent=2) + "\n")

    start = time.perf_counter()
    if kind == "gguf":
        from sensecf.finetuning.export import export_gguf

        export_gguf(peft_model, base_path, artifacts.gguf_path(out))
    # The training copy (4-bit on a GPU, maybe) is not needed any more: free its memory
    # before the merge and the held-out check load the model again.
    del peft_model
    _release_device_memory()
    _export(base_path, out, kind)
    seconds["export"] = time.perf_counter() - start

    start = time.perf_counter()
    heldout = evaluate_heldout(model, data, out, held, prof.heldout_max, seed)
    seconds["heldout"] = time.perf_counter() - start
    (out / artifacts.HELDOUT).write_text(json.dumps(heldout, indent=2) + "\n")
    run = FinetuneRun(out, len(pairs), len(fit), heldout, result, seconds)
    write_card(run, config, fmt)
    return run


def _training_weights(peft_model: Any) -> str:
    """How the base's weights were held in training: ``4-bit NF4`` or their dtype."""
    base = peft_model.get_base_model()
    if getattr(base, "is_loaded_in_4bit", False):
        return "4-bit NF4"
    return str(next(base.parameters()).dtype).removeprefix("torch.")


def _release_device_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _export(base: Path, out: Path, kind: str) -> None:
    """The Hugging Face side of the export (the GGUF is written from the trained model): the
    chat template for servers and, for ``hf``, ``merged/``; what an earlier run exported from
    another adapter is removed."""
    import shutil

    from sensecf.finetuning.export import export_merged
    from sensecf.llm.chat import served_template

    if kind != "gguf":
        artifacts.gguf_path(out).unlink(missing_ok=True)
    if kind != "hf":
        shutil.rmtree(out / artifacts.MERGED, ignore_errors=True)
    if base.suffix == ".gguf":
        return
    from transformers import AutoTokenizer

    template = served_template(AutoTokenizer.from_pretrained(str(base)))
    (out / artifacts.CHAT_TEMPLATE).write_text(template)
    if kind == "hf":
        # A fresh full-precision copy of the base, not the 4-bit one QLoRA trained on.
        merged = export_merged(base, out / artifacts.ADAPTER, out / artifacts.MERGED)
        # The merged tokenizer renders prompts as training did, with any server.
        (merged / artifacts.CHAT_TEMPLATE).write_text(template)
        logger.info(f"merged the adapter into {base.name}: {merged}")


def _pairs(
    model: TrainedClassifier,
    data: Dataset,
    more: Dataset | None,
    out: Path,
    fmt: CompactFormat,
    teacher: str,
    prof: Profile,
    seed: int,
    progress: bool,
    execution: Execution | None = None,
    held: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """The pairs of ``out/pairs.parquet`` when made with these settings, else built anew."""
    path = out / artifacts.PAIRS
    key = json.dumps(
        {
            "teacher": teacher,
            # only where set, so pairs made before the options existed are still reused
            **{k: v for k, v in (held or {}).items() if v is not None},
            "per_query": prof.per_query,
            "teacher_nodes": prof.teacher_nodes,  # the teacher's answers depend on its budget
            "max_queries": prof.max_queries,
            "format": asdict(fmt),
            **({"typical_lines": TYPICAL_LINES} if fmt.typical else {}),
            "seed": seed,
            "model": model.created_at,
            "rows": len(data),
            "more": len(more) if more is not None else 0,
        },
        sort_keys=True,
    )
    stamp = out / "pairs.key"
    if path.is_file() and stamp.is_file() and stamp.read_text() == key:
        logger.info(f"↺ reused the pairs in {path}")
        return pd.read_parquet(path)
    options: dict[str, Any] = (
        {"node_limit": prof.teacher_nodes} if teacher in ORACLE_TEACHERS else {}
    )
    options.update({k: v for k, v in (held or {}).items() if v is not None})
    built = build_pairs(
        model,
        data,
        fmt=fmt,
        teacher=teacher,
        per_query=prof.per_query,
        more=more,
        max_queries=prof.max_queries,
        teacher_options=options,
        seed=seed,
        progress=progress,
        execution=execution,
    )
    if not len(built):
        raise SensecfError(
            f"the {teacher} teacher gave no usable pair ({built.counts}); "
            "the model flags too few training rows, or none can be flipped"
        )
    logger.info(f"pairs: {built.counts}")
    built.frame.to_parquet(path, index=False)
    stamp.write_text(key)
    return built.frame


def evaluate_heldout(
    model: TrainedClassifier,
    data: Dataset,
    out: Path,
    held: pd.DataFrame,
    limit: int,
    seed: int,
) -> dict[str, Any]:
    """The fine-tuned generator's first answers on held-out people's queries (no repair).

    logger = logging.getLogger(__name__)

        First-answer validity (over the queries), the admissible first answers, mean features
        they change, and the share of distinct answers among them (a model that learned one template for
        everyone scores near 0).
    """
    from sensecf.generators.llm.finetuned import FineTunedGenerator
    from sensecf.llm.factory import make_backend

    if not len(held):
        return {"queries": 0}
    spec = model.spec
    rows = held.drop_duplicates(["origin", "query"])
    rows = rows.sample(n=min(limit, len(rows)), random_state=seed) if len(rows) > limit else rows
    X = read_rows(rows["row"])
    frame = pd.DataFrame(X, columns=spec.feature_names)
    kind = "llama-cpp" if artifacts.gguf_path(out).is_file() else "transformers"
    backend = make_backend(kind, out)
    train_rows, _ = model.split_data(data)
    try:
        gen = FineTunedGenerator(backend, model_dir=out, repair_rounds=0).fit(model, train_rows)
        result = gen.generate(frame, n_cfs=1, seed=seed)
    finally:
        backend.close()
    cfs = result.cfs
    first = cfs[cfs["round"] == 0] if "round" in cfs else cfs
    C = first[spec.feature_names].to_numpy(dtype=float)
    Q = X[first["query_id"].to_numpy(dtype=int)]
    moved = ~np.isclose(Q, C, equal_nan=True)
    # an answer is its set of changes (feature and value), not the whole row
    answers = {
        tuple((n, float(v)) for n, v, m in zip(spec.feature_names, r, mk, strict=True) if m)
        for r, mk in zip(C, moved, strict=True)
    }
    # derived features move with their inputs: not changes a person makes
    counts = count_changes(spec, Q, C)
    n = len(rows)
    return {
        "queries": n,
        "backend": kind,
        "first_answer_validity": float(first["valid"].sum()) / n if n else 0.0,
        "answered": len(first),
        "distinct_answer_share": len(answers) / max(1, len(first)),
        "mean_changes": float(counts.mean()) if len(first) else None,
        "target_changes": float(held["n_changes"].mean()),
    }


def write_card(run: FinetuneRun, config: dict[str, Any], fmt: CompactFormat) -> Path:
    """``README.md``: base, data, teacher, steps, loss, the held-out figures, how to serve it."""
    losses = run.train.losses
    held = run.heldout
    k = max(1, min(10, len(losses) // 2))
    first = np.mean(losses[:k]) if losses else float("nan")
    last = np.mean(losses[-k:]) if losses else float("nan")
    tc = config["train"]
    lines = [
        "# Fine-tuned counterfactual model",
        "",
        f"- base: `{Path(config['base']).name}`",
        f"- classifier explained: {config['classifier']} on {config['dataset'] or 'its table'}",
        f"- teacher: {config['teacher']}{_held_text(config.get('held_rate'), config.get('held_neighbours'))}; pairs: "
        f"{run.pairs} ({run.train_pairs} trained on, "
        f"{config['heldout_people']} people held out)",
        f"- LoRA r={tc['rank']}, alpha={tc['alpha']} on {', '.join(tc['target_modules'])}"
        f"{_layers_text(tc['last_layers'])} of the base held in {config['weights']}; "
        f"lr {tc['lr']}, {run.train.steps} steps of {tc['batch_size']} "
        f"(resumed from step {run.train.resumed_from}), max {tc['max_length']} tokens, seed {tc['seed']}",
        f"- loss (answer tokens, mean of the first and last {k} steps): {first:.3f} → {last:.3f}"
        " (loss.csv, loss.png)",
        "- seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in run.seconds.items()),
        "",
        "## Held-out people (first answers, no repair)",
        "",
        "| measure | value |",
        "|---|---|",
    ]
    for key, value in held.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        lines.append(f"| {key} | {shown} |")
    lines += [
        "",
        "## Format",
        "",
        f"Compact prompt (format.json, version {fmt.version}): the flagged probability and the "
        "goal, then one line per feature whose smallest change reaches the goal alone, cheapest "
        "first (current value: that change, then farther ones); for a person no single change "
        "serves, the features that help together. "
        + (
            "Where some single change also keeps the person typical of the desired class "
            "(the detector the teacher was held to), only such changes are listed; where none "
            "does, the changes of the plausible oracle's answers held to that bar, which the "
            "model reads off its prompt. "
            if fmt.typical
            else ""
        )
        + f"{fmt.examples} nearest desired-class example(s) as changes. Answer: the changes as JSON.",
        "",
        "## Serving",
        "",
        *_serving_lines(run.out_dir, config),
        "",
    ]
    path = run.out_dir / artifacts.CARD
    path.write_text("\n".join(lines))
    return path


def _held_text(rate: float | None, neighbours: int | None = None) -> str:
    """The teacher's stricter bar, as the model card says it ('' without one).

    >>> _held_text(0.8), _held_text(None)
    (' (held to the IsolationForest bar 80% of held-out real rows reach)', '')
    >>> _held_text(None, 20)
    ' (held as near to its 20 nearest real rows as held-out real rows are, in distance and relative to their own)'
    """
    parts = []
    if rate is not None:
        parts.append(f"held to the IsolationForest bar {rate:.0%} of held-out real rows reach")
    if neighbours is not None:
        parts.append(
            f"held as near to its {neighbours} nearest real rows as held-out real rows are, "
            "in distance and relative to their own"
        )
    return f" ({'; '.join(parts)})" if parts else ""


def _layers_text(last_layers: int | None) -> str:
    return "" if last_layers is None else f" (top {last_layers} layers)"


def _serving_lines(out: Path, config: dict[str, Any]) -> list[str]:
    """The card's serving section: the commands that work for what this run wrote."""
    bench = (
        "sensecf benchmark --model MODEL_DIR --data FEATURES --generators fine-tuned,oracle "
        f"--llm-model {out}"
    )
    base = config["base"]
    if config["export"] == "gguf":
        return [
            "```bash",
            f"{bench} --out OUT",
            "```",
            "",
            "`model.gguf` (the base GGUF with the merged tensors) is served by the llama-cpp "
            "backend (the default); `--llm-backend transformers` serves the base with `adapter/`.",
        ]
    served = (
        f"`{artifacts.MERGED}/` (the adapter merged into the base's full-precision weights)"
        if config["export"] == "hf"
        else f"the base `{Path(base).name}` with `{artifacts.ADAPTER}/`"
    )
    rank = config["train"]["rank"]
    return [
        "```bash",
        f"{bench} --llm-backend transformers --out OUT",
        "```",
        "",
        f"The transformers backend serves {served}, on a GPU when there is one. The adapter was "
        f"trained on the base held in {config['weights']}; it is served on the full-precision "
        "base. A GGUF export is for GGUF bases only: for llama.cpp, convert "
        f"`{artifacts.MERGED}/` with llama.cpp's `convert_hf_to_gguf.py`.",
        "",
        "A vLLM server takes the base and the adapter (or `merged/` alone), with the chat "
        f"template the prompts were rendered with (`{artifacts.CHAT_TEMPLATE}`):",
        "",
        "```bash",
        f"vllm serve {base} --enable-lora --max-lora-rank {max(16, rank)} "
        f"--lora-modules counterfactual={out / artifacts.ADAPTER} "
        f"--chat-template {out / artifacts.CHAT_TEMPLATE}",
        "```",
        "",
        'and, from Python, `FineTunedGenerator(make_backend("openai", "counterfactual", '
        f'base_url="http://HOST:8000/v1"), model_dir="{out}")`.',
    ]
