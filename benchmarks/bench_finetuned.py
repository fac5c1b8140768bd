"""What the benchmark table leaves out for LLM methods: does the answer depend on the person?

Reads a `sensecf benchmark` output folder and prints, per method, the people explained, the
share of distinct first answers among them (a model that learned one template for everyone
scores near 1 / people), the first-answer validity, the median seconds per person, and the
mean number of features a first answer changes.

With ``--ft-dir`` (the fine-tuned folder the benchmark served) it also prints how much of the
fine-tuned model's first answers is read off its prompt: the share that is exactly the first
line's first value (the cheapest single change that reaches the goal), and the share that is
some line's first value; and, for a model asked in a typical format, how many people were
offered the plausible oracle's answers together (no typical single change serves them) and the
share of their first answers that are the oracle's first answer, whole. A high share says the
model learned to read its prompt, which is what its format asks of it; the rest is its own
choice. For the people offered the oracle's answer, a copy is the oracle's work, not the
model's.

    python benchmarks/bench_finetuned.py runs/bench --ft-dir runs/ft
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sensecf.data.constraints import count_changes
from sensecf.generators.llm.schema import plain_number
from sensecf.results import CounterfactualResult


def answer_stats(result: CounterfactualResult) -> dict[str, float]:
    """Per-method figures from one saved result (first answers: round 0, sample 0 of an LLM
    method; each person's first row of any other)."""
    cfs, queries = result.cfs, result.queries
    names = result.spec.feature_names
    if "round" in cfs.columns:
        first = cfs[(cfs["round"] == 0) & (cfs["sample"] == 0)]
    else:
        first = cfs.groupby("query_id", sort=False).head(1)
    X = queries.set_index("query_id").loc[first["query_id"], names].to_numpy(dtype=float)
    C = first[names].to_numpy(dtype=float)
    moved = ~np.isclose(X, C, equal_nan=True)
    # an answer is its set of changes (feature and new value), not the whole row
    answers = {
        tuple((n, round(float(c), 6)) for n, c, m in zip(names, row, mask, strict=True) if m)
        for row, mask in zip(C, moved, strict=True)
    }
    n = len(queries)
    return {
        "people": n,
        "first answers": len(first),
        "distinct share": len(answers) / max(1, len(first)),
        "first-answer validity": float(first["valid"].sum()) / max(1, n),
        "median s/person": float(np.median(queries["seconds"])) if n else float("nan"),
        # derived features follow their inputs: not changes a person makes
        "changes per first answer": float(count_changes(result.spec, X, C).mean())
        if len(first)
        else float("nan"),
    }


def prompt_reading(result: CounterfactualResult, bench_dir: Path, ft_dir: Path) -> dict[str, float]:
    """Shares of the fine-tuned first answers that are the first line's first value, or some
    line's first value, of the prompt the generator wrote for that person; in a typical format,
    the people offered the oracle's answers together and the share of their first answers that
    are its first answer whole."""
    import yaml

    from sensecf.data.loaders import load_dataset
    from sensecf.evaluation.metrics import share_detector
    from sensecf.generators.llm.finetuned import FineTunedGenerator
    from sensecf.models import load_model

    config = yaml.safe_load((bench_dir / "config.yaml").read_text())
    model = load_model(config["model"])
    train_rows, test_rows = model.split_data(load_dataset(config["data"]))
    gen = FineTunedGenerator(model_dir=ft_dir)
    share_detector(gen, model, train_rows, test_rows)  # the lines it was served with
    gen.fit(model, train_rows)
    names, spec = result.spec.feature_names, result.spec
    cfs = result.cfs
    first = cfs[(cfs["round"] == 0) & (cfs["sample"] == 0)]
    X = result.queries.set_index("query_id").loc[first["query_id"], names].to_numpy(dtype=float)
    batch = gen._prepare(X, 1, spec.desired_class, np.random.default_rng(0))
    inputs = [gen.prompt_input(batch, i) for i in range(len(X))]  # as the first requests
    together = batch.together or [[] for _ in X]
    step = {n: float(spec.feature(n).step) for n in names}
    top = some = offered = whole = 0
    C = first[names].to_numpy(dtype=float)
    for ctx, x, c, moves in zip(inputs, X, C, together, strict=True):
        answer = {
            n: plain_number(v, step[n])
            for n, q, v in zip(names, x, c, strict=True)
            if n in ctx.offered and not np.isclose(q, v, equal_nan=True)
        }
        leads = [(n, values[1]) for n, values in ctx.offered.items()]
        top += bool(leads) and answer == dict(leads[:1])
        some += len(answer) == 1 and next(iter(answer.items())) in leads
        if moves:  # the oracle's answers, the first offered whole by the first request
            offered += 1
            whole += answer == {
                names[j]: plain_number(v, step[names[j]]) for j, v in moves[0].items()
            }
    n = max(1, len(first))
    shares = {"first line, first value": top / n, "a line's first value": some / n}
    if gen.format_.typical:
        shares["people offered the oracle's answers"] = offered
        shares["their first answers that are the oracle's, whole"] = whole / max(1, offered)
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a `sensecf benchmark --out` folder")
    parser.add_argument("--ft-dir", type=Path, help="the fine-tuned folder it served")
    args = parser.parse_args()
    rows = []
    for folder in sorted((args.out / "results").iterdir()):
        if (folder / "result.json").is_file():
            rows.append({"method": folder.name, **answer_stats(CounterfactualResult.load(folder))})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    tuned = args.out / "results" / "fine-tuned"
    if args.ft_dir is not None and (tuned / "result.json").is_file():
        shares = prompt_reading(CounterfactualResult.load(tuned), args.out, args.ft_dir)
        print("\nfine-tuned first answers read off the prompt:")
        for label, share in shares.items():
            print(f"  {label}: {share:.2f}" if isinstance(share, float) else f"  {label}: {share}")


if __name__ == "__main__":
    main()
