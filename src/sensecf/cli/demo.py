"""`sensecf demo`: the whole flow on a synthetic cohort, each step the verb of its stage."""

from __future__ import annotations

from pathlib import Path

import click

from sensecf.cli import console
from sensecf.cli.benchmark import benchmark
from sensecf.cli.explain import explain
from sensecf.cli.features import extract_features
from sensecf.cli.options import out_option, seed_option
from sensecf.cli.report import report
from sensecf.cli.synth import write_cohort
from sensecf.cli.train import train_model


@click.command()
@out_option(
    required=False,
    default=Path("runs/demo"),
    show_default=True,
    help="Folder for everything the demo writes.",
)
@click.option("--quick", is_flag=True, help="A small cohort (40 people x 5 days), for a fast look.")
@seed_option()
def demo(out_dir: Path, quick: bool, seed: int) -> None:
    """Run the whole flow on the embedded synthetic cohort.

    synth -> features -> train -> explain (few-shot with the embedded LLM) -> benchmark (the
    LLM beside the nearest-example control, the oracle, DiCE and NICE, on six more) -> report.
    No network, no keys, no GPU. Writes cohort/, features/, model/, explain/, benchmark/ and
    report.html under --out, and ends with the report's path.
    """
    participants, days, interval = (40, 5, 15) if quick else (200, 10, 5)
    write_cohort(out_dir / "cohort", participants, days, interval, seed)
    data = extract_features(out_dir / "cohort", out_dir / "features")
    console.print_dataset(data)
    clf = train_model(out_dir / "features", out_dir / "model", "rf", seed)
    console.print_classifier(clf)
    ctx = click.get_current_context()
    common = {"model_dir": out_dir / "model", "data_path": out_dir / "features", "seed": seed}
    ctx.invoke(
        explain,
        **common,
        generator="few-shot+sparsify",
        limit=3,
        out_dir=out_dir / "explain",
    )
    ctx.invoke(
        benchmark,
        **common,
        generators="oracle,nearest-example,few-shot+sparsify,dice-genetic,nice-sparsity+sparsify",
        limit=4 if quick else 6,
        n_cfs=1,
        out_dir=out_dir / "benchmark",
        config_path=None,
    )
    ctx.invoke(report, run_dir=out_dir, out_file=None)
