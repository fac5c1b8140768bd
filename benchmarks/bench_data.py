"""Time and peak memory of the data stages: writing a synthetic cohort and extracting features.

Each stage runs in a fresh process; the peak resident memory printed is that process's own
(for the parallel extraction, the largest of the main process and its workers).

    python benchmarks/bench_data.py                      # 200 people x 10 days at 5 minutes
    python benchmarks/bench_data.py --participants 50 --days 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sensecf.progress import peak_memory_mb


def _stage(args: argparse.Namespace) -> dict:
    start = time.perf_counter()
    if args.stage == "generate":
        from sensecf.data.synthetic import CohortConfig, write_synthetic_cohort

        config = CohortConfig(
            participants=args.participants,
            days=args.days,
            interval_min=args.interval_min,
            seed=args.seed,
        )
        write_synthetic_cohort(Path(args.root), config)
        size = sum(p.stat().st_size for p in Path(args.root).rglob("*") if p.is_file())
        note = f"{size / 2**20:.0f} MB of files"
    else:
        from sensecf.data.aireadi import read_aireadi

        data = read_aireadi(args.root, workers=args.workers)
        note = f"{len(data)} person-day rows"
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_memory_mb(), "note": note}


def _run(stage: str, args: argparse.Namespace, workers: int | None = None) -> dict:
    command = [
        sys.executable,
        __file__,
        "--stage",
        stage,
        "--root",
        args.root,
        "--participants",
        str(args.participants),
        "--days",
        str(args.days),
        "--interval-min",
        str(args.interval_min),
        "--seed",
        str(args.seed),
    ]
    if workers is not None:
        command += ["--workers", str(workers)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--interval-min", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stage", choices=["generate", "extract"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(_stage(args)))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="sensecf-bench-") as root:
        args.root = root
        rows.append(("generate cohort", _run("generate", args)))
        rows.append(("extract, 1 process", _run("extract", args, workers=1)))
        rows.append(("extract, default", _run("extract", args)))
    print(f"cohort: {args.participants} people x {args.days} days at {args.interval_min} min")
    print(f"{'stage':<22}{'seconds':>10}{'peak RSS (MB)':>16}  notes")
    for name, row in rows:
        print(f"{name:<22}{row['seconds']:>10.1f}{row['peak_mb']:>16.0f}  {row['note']}")


if __name__ == "__main__":
    main()
