"""Per-person limits: which methods keep to them, and how often the others break them.

On the default synthetic cohort and a random forest, ten flagged people get limits: five shift
workers who cannot sleep more (the sleep stages kept as they are, at most two changes) and five
people who will not walk much more (steps at most 1,000 above today's, active minutes kept, one
change). The oracle and the few-shot LLM (the embedded model) are held to them; DiCE ignores
them. Every method is scored by one metric suite that knows the limits, and the oracle is also
run without them, to show what it breaks when it is not told. Prints, per method: queries
answered, validity and the violations of the person's limits (``viol_limits``) and of the
spec's own rules.

    python benchmarks/bench_limits.py [--people 10] [--n-cfs 1] [--out DIR]

The limits file is written to ``--out`` (``limits.csv``) in the form ``sensecf explain
--limits`` and ``sensecf benchmark --limits`` read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import sensecf as scf
from sensecf.data.limits import PersonLimits
from sensecf.evaluation.metrics import MetricSuite
from sensecf.generators.registry import make_generator

SLEEP = "sleep_deep_min;sleep_light_min;sleep_rem_min"


def limits_table(queries: scf.Dataset) -> pd.DataFrame:
    """Half shift workers (sleep kept, two changes), half who will not walk much more."""
    frame = queries.frame
    half = len(frame) // 2
    return pd.DataFrame(
        {
            "person_id": frame["person_id"].to_numpy(),
            "keep": [SLEEP] * half + ["active_min"] * (len(frame) - half),
            "steps_max": [np.nan] * half + list(frame["steps"].to_numpy()[half:] + 1000),
            "max_changes": [2] * half + [1] * (len(frame) - half),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--n-cfs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-limits-"))
    out.mkdir(parents=True, exist_ok=True)

    data = scf.datasets.synthetic_cohort()
    model = scf.train(data, "rf", seed=0)
    train_rows, test_rows = model.split_data(data)
    flagged = scf.select_queries(model, test_rows)
    first = np.flatnonzero(~flagged.frame["person_id"].duplicated().to_numpy())[: args.people]
    queries = flagged.subset(first)  # one flagged day of each person
    table = limits_table(queries)
    table.to_csv(out / "limits.csv", index=False)
    limits = PersonLimits.read(out / "limits.csv", data.spec, data)
    print(f"{len(queries)} people, limits in {out / 'limits.csv'}")

    suite = MetricSuite(limits=limits).fit(model, train_rows)
    rows = []
    runs = [("oracle", True), ("oracle", False), ("few-shot", True), ("dice-random", True)]
    for name, told in runs:
        generator = make_generator(name)
        start = time.perf_counter()
        try:
            generator.fit(model, train_rows)
            result = generator.generate(queries, n_cfs=args.n_cfs, limits=limits if told else None)
        finally:
            backend = getattr(generator, "backend", None)
            if backend is not None:
                backend.close()
        seconds = time.perf_counter() - start
        summary = suite.summarise(result).iloc[0]
        label = name if told else f"{name} (limits not given)"
        rows.append(
            {
                "method": label,
                "limits": result.info.get("limits", "not given"),
                "answered": f"{int((result.queries['n_cfs'] > 0).sum())}/{len(queries)}",
                "CFs": int(summary["n_cfs"]),
                "validity": round(float(summary["validity"]), 2),
                "viol_limits": int(summary["viol_limits"]),
                "spec violations": int(summary["viol_total"] - summary["viol_limits"]),
                "CFs breaking a limit or rule": int(summary["n_violating"]),
                "seconds": round(seconds, 1),
            }
        )
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
