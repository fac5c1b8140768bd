"""Throughput of the LLM backends on the generator's own prompts: answers/s and tokens/s.

Builds the synthetic cohort, trains a random forest, and records the first-round requests the
few-shot LLM generator makes for ``--people`` flagged people (prompt, per-person enum schema,
greedy); then answers the same requests with the packaged SmolLM2-135M through

- ``transformers`` (the GGUF loaded as a float32 model on the CPU, or ``--device``), one at a
  time and in batches of each ``--batch-sizes`` value, constrained by the schemas;
- ``llama-cpp`` (the embedded default, one sequence at a time, its own grammar),

and prints per run: seconds, answers/s, completion tokens/s, prompt tokens, and how many
answers parse and keep to their schema's enums. Model loading is excluded (one warm-up call).

    python benchmarks/bench_backends.py                         # 16 people, batches of 1, 8, 16
    python benchmarks/bench_backends.py --people 32 --batch-sizes 1,32 --backends transformers
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import pandas as pd

import sensecf as scf
from sensecf.data.spec import DatasetSpec
from sensecf.generators import select_queries
from sensecf.generators.llm import LLMGenerator
from sensecf.llm.base import ChatRequest, Completion, LLMBackend
from sensecf.llm.constrained import admits


class Recorder(LLMBackend):
    """Keeps every request and answers an empty change (so nothing else is computed)."""

    name = "recorder"
    supports_schema = True

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    def _complete(self, request: ChatRequest) -> Completion:
        self.requests.append(request)
        return Completion(text="{}")


def generator_requests(
    people: int,
    seed: int = 0,
    *,
    participants: int = 200,
    days: int = 10,
    shots: int = 3,
) -> tuple[list[ChatRequest], DatasetSpec]:
    """The few-shot generator's first requests for ``people`` flagged test rows of the
    synthetic cohort, and the spec they were written for."""
    data = scf.datasets.synthetic_cohort(participants=participants, days=days, seed=0)
    clf = scf.train(data, "rf", seed=seed)
    train_rows, test_rows = clf.split_data(data)
    queries = select_queries(clf, test_rows, limit=people, seed=seed)
    recorder = Recorder()
    LLMGenerator(recorder, shots=shots, repair_rounds=0).fit(clf, train_rows).generate(
        queries, seed=seed
    )
    return recorder.requests, clf.spec


def measure(
    label: str, backend: LLMBackend, requests: Sequence[ChatRequest], batched: bool
) -> dict:
    """Answer ``requests`` (in one ``complete_many`` or one by one) and time it."""
    start = time.perf_counter()
    if batched:
        answers = backend.complete_many(requests)
    else:
        answers = [backend.complete(r.messages, schema=r.schema, params=r.params) for r in requests]
    wall = time.perf_counter() - start
    done = [a for a in answers if isinstance(a, Completion)]
    tokens = sum(a.completion_tokens for a in done)
    row = {
        "run": label,
        "answers": len(done),
        "seconds": round(wall, 1),
        "answers_per_s": round(len(done) / wall, 3),
        "tokens_per_s": round(tokens / wall, 1),
        "completion_tokens": tokens,
        "prompt_tokens": sum(a.prompt_tokens for a in done),
        "admissible": sum(
            admits(r.schema or {}, a.text)
            for r, a in zip(requests, answers, strict=True)
            if isinstance(a, Completion)
        ),
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=16)
    parser.add_argument("--batch-sizes", default="1,8,16", help="1 means one at a time")
    parser.add_argument("--backends", default="transformers,llama-cpp")
    parser.add_argument("--device", default="auto", help="transformers device")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    kinds = [k.strip() for k in args.backends.split(",") if k.strip()]

    requests, _ = generator_requests(args.people, args.seed)
    print(
        f"{len(requests)} requests from the few-shot generator; max_tokens "
        f"{requests[0].params.max_tokens}; every one with its own enum schema",
        flush=True,
    )
    rows = []
    if "transformers" in kinds:
        from sensecf.llm.transformers_backend import Transformers

        backend = Transformers(device=args.device)
        backend.complete(requests[0].messages, schema=requests[0].schema, params=requests[0].params)
        where = next(backend._model.parameters())
        print(f"transformers on {where.device} ({where.dtype})", flush=True)
        for size in sizes:
            backend.batch_size = size
            label = "transformers, one at a time" if size == 1 else f"transformers, batch {size}"
            rows.append(measure(label, backend, requests, batched=size > 1))
        backend.close()
    if "llama-cpp" in kinds:
        from sensecf.llm.llama_cpp import LlamaCpp

        backend = LlamaCpp()
        backend.complete(requests[0].messages, schema=requests[0].schema, params=requests[0].params)
        rows.append(measure("llama-cpp, one at a time", backend, requests, batched=False))
        backend.close()
    table = pd.DataFrame(rows).set_index("run")
    base = table["answers_per_s"].iloc[0]
    table["speed-up"] = (table["answers_per_s"] / base).round(2)
    print("\n" + table.to_string())


if __name__ == "__main__":
    main()
