"""`sensecf report`: one self-contained HTML report from a run folder."""

from __future__ import annotations

import time
from pathlib import Path

import click

from sensecf.cli import console
from sensecf.cli.options import PATH


@click.command()
@click.argument("run_dir", metavar="RUN_DIR", type=PATH)
@click.option(
    "--out",
    "out_file",
    type=PATH,
    help="HTML file to write [RUN_DIR/report.html].",
)
def report(run_dir: Path, out_file: Path | None) -> None:
    """Write one HTML report of RUN_DIR: the cohort and the model, the benchmark table, plots,
    the augmentation study, the fine-tune loss, intervention cards, settings and versions.

    RUN_DIR is any folder the verbs wrote into (a demo's, or one of `train`, `explain`,
    `benchmark`, `augment`, `finetune`); the report has the sections whose files are there.
    The file is self-contained (figures embedded, nothing fetched when it is opened) and
    prints cleanly.
    """
    from sensecf.report.html import write_report

    start = time.perf_counter()
    path = write_report(run_dir, out_file)
    console.done(f"wrote the report to {path}", time.perf_counter() - start)
