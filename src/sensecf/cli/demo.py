"""`sensecf demo`: the whole flow on a synthetic cohort, each step the verb of its stage."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from sensecf.cli import console
from sensecf.cli.augment import augment
from sensecf.cli.benchmark import benchmark
from sensecf.cli.explain import explain
from sensecf.cli.features import extract_features
from sensecf.cli.options import out_option, seed_option
from sensecf.cli.report import report
from sensecf.cli.synth import write_cohort
from sensecf.cli.train import train_model
from sensecf.data.io import write_json
from sensecf.progress import peak_memory_mb

# Which stages a run finished, and with which settings: a rerun keeps what still matches.
RECORD = "demo.json"


# Gaps as a real download has them, so every stage shows how it handles a feature nobody
# measured: a tenth of the people without an SpO2, calorie or respiration file, a twentieth
# without sleep records, and a twentieth whose CGM stops partway.
DEMO_GAPS = {"spo2": 0.1, "calories": 0.1, "resp": 0.1, "sleep": 0.05}
DEMO_CGM_STOPS = 0.05


@click.command()
@out_option(
    required=False,
    default=Path("runs/demo"),
    show_default=True,
    help="Folder for everything the demo writes.",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A small cohort (40 people x 5 days) and fewer people explained, for a fast look.",
)
@click.option(
    "--fresh",
    is_flag=True,
    help="Run every stage again instead of keeping the finished ones in --out.",
)
@seed_option()
def demo(out_dir: Path, quick: bool, fresh: bool, seed: int) -> None:
    """Run the whole flow on the embedded synthetic cohort.

    synth (with gaps: some people lack a stream's file) -> features -> train -> explain (few-shot with the embedded LLM) -> benchmark (the
    LLM beside the nearest-example control, the oracle, DiCE and NICE) -> augment (oracle rows
    against SMOTE, ADASYN and random oversampling under label scarcity) -> report. No network,
    no keys, no GPU. Writes cohort/, features/, model/, explain/, benchmark/, augment/ and
    report.html under --out, and ends with the report's path.

    Every stage is kept once it finishes (recorded in demo.json with the settings): a rerun
    with the same settings goes straight to the stages still to do, with no LLM call for the
    finished ones. --fresh starts over.
    """
    started = time.perf_counter()
    settings = {
        "quick": quick,
        "seed": seed,
        "gaps": {**DEMO_GAPS, "cgm_stops": DEMO_CGM_STOPS},
        "augment_seeds": 2 if quick else 5,
    }
    runner = _Stages(out_dir, settings, fresh=fresh)
    participants, days, interval = (40, 5, 15) if quick else (200, 10, 5)
    ctx = click.get_current_context()
    common = {"model_dir": out_dir / "model", "data_path": out_dir / "features", "seed": seed}

    runner.run(
        "cohort",
        lambda: write_cohort(
            out_dir / "cohort",
            participants,
            days,
            interval,
            seed,
            missing_streams=DEMO_GAPS,
            cgm_stops=DEMO_CGM_STOPS,
        ),
    )
    runner.run(
        "features",
        lambda: console.print_dataset(extract_features(out_dir / "cohort", out_dir / "features")),
    )
    runner.run(
        "model",
        lambda: console.print_classifier(
            train_model(out_dir / "features", out_dir / "model", "rf", seed)
        ),
    )
    runner.run(
        "explain",
        lambda: ctx.invoke(
            explain, **common, generator="few-shot+sparsify", limit=3, out_dir=out_dir / "explain"
        ),
    )
    runner.run(
        "benchmark",
        lambda: ctx.invoke(
            benchmark,
            **common,
            generators="oracle,nearest-example,few-shot+sparsify,dice-genetic,"
            "nice-sparsity+sparsify",
            limit=4 if quick else 6,
            n_cfs=1,
            out_dir=out_dir / "benchmark",
            config_path=None,
            # the methods side by side, one per core (a quick run stays in one process: its
            # units are too small to pay for starting workers)
            jobs=1 if quick else -1,
        ),
    )
    runner.run(
        "augment",
        lambda: ctx.invoke(
            augment,
            data_path=out_dir / "features",
            out_dir=out_dir / "augment",
            quick=True,
            # Five seeds give the scarcity loss and each comparison an interval; on two cores
            # they take the time three took one after another.
            seeds=str(settings["augment_seeds"]),
            jobs=1 if quick else -1,
            # each oracle query may take seconds (proving a flip infeasible included): a cap
            # keeps the stage to minutes on the 2-core machine
            max_queries=40,
        ),
    )
    # The report is cheap and reads whatever is there: it is always written anew.
    runner.run("report", lambda: ctx.invoke(report, run_dir=out_dir, out_file=None), keep=False)
    # The last line: what the run cost, and where to look.
    console.line(
        f"demo finished in {_duration(time.perf_counter() - started)}, peak memory "
        f"{peak_memory_mb():.0f} MB; wrote the report to {out_dir / 'report.html'}"
    )


def _duration(seconds: float) -> str:
    """``2 min 43 s`` or ``9.8 s``.

    >>> _duration(163.2), _duration(9.84)
    ('2 min 43 s', '9.8 s')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


class _Stages:
    """Runs the demo's stages in order, each once per settings, with a line per stage."""

    names = ("cohort", "features", "model", "explain", "benchmark", "augment", "report")

    def __init__(self, out_dir: Path, settings: dict[str, Any], *, fresh: bool) -> None:
        self.out_dir = out_dir
        self.settings = settings
        record = {} if fresh else _read_record(out_dir / RECORD)
        # A stage counts as done only if every stage before it was done with these settings.
        self.done: list[str] = record.get("done", []) if record.get("settings") == settings else []
        self.seconds: dict[str, float] = record.get("seconds", {}) if self.done else {}
        self.redo = False

    def run(self, name: str, step: Callable[[], Any], *, keep: bool = True) -> None:
        index = self.names.index(name) + 1
        label = f"[{index}/{len(self.names)}] {name}"
        if keep and not self.redo and name in self.done:
            console.line(f"{label}: kept from the earlier run in {self.out_dir}")
            return
        self.redo = True  # a stage run again makes every later one stale
        self.done = [n for n in self.done if self.names.index(n) < self.names.index(name)]
        console.line(f"{label} ...")
        start = time.perf_counter()
        step()
        self.seconds[name] = round(time.perf_counter() - start, 1)
        if keep:
            self.done.append(name)
        write_json(
            self.out_dir / RECORD,
            {"settings": self.settings, "done": self.done, "seconds": self.seconds},
        )


def _read_record(path: Path) -> dict[str, Any]:
    """The stages an earlier run finished; nothing when there is no record or it is unreadable."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}
