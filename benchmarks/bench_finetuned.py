"""What the benchmark table leaves out for LLM methods: does the answer depend on the person?

Reads a `sensecf benchmark` output folder and prints, per method, the people explained, the
share of distinct first answers among them (a model that learned one template for everyone
scores near 1 / people), the first-answer validity, the median seconds per person, and the
mean number of features a first answer changes.

    python benchmarks/bench_finetuned.py runs/bench
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sensecf.data.constraints import count_changes
from sensecf.results import CounterfactualResult


def answer_stats(result: CounterfactualResult) -> dict[str, float]:
    """Per-method figures from one saved result (first answers: round 0, sample 0)."""
    cfs, queries = result.cfs, result.queries
    names = result.spec.feature_names
    first = cfs
    if "round" in cfs.columns:
        first = cfs[(cfs["round"] == 0) & (cfs["sample"] == 0)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a `sensecf benchmark --out` folder")
    args = parser.parse_args()
    rows = []
    for folder in sorted((args.out / "results").iterdir()):
        if (folder / "result.json").is_file():
            rows.append({"method": folder.name, **answer_stats(CounterfactualResult.load(folder))})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
