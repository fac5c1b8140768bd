"""`sensecf features`: turn AI-READI files into a feature table with its spec."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import click

from sensecf.cli import console
from sensecf.cli.options import PATH, out_option

Unit = Literal["day", "person"]
Target = Literal["high_stress", "diabetes"]


@click.command()
@click.argument("aireadi_dir", type=PATH)
@out_option(help="Feature folder to write (features.parquet, spec.yaml, info.json).")
@click.option(
    "--unit",
    type=click.Choice(["day", "person"]),
    default="day",
    show_default=True,
    help="One row per person-day or per person.",
)
@click.option(
    "--target",
    type=click.Choice(["high_stress", "diabetes"]),
    default="high_stress",
    show_default=True,
    help="high_stress: a day (person) whose mean Garmin stress is in the cohort's top "
    "quarter; diabetes: study group other than healthy.",
)
@click.option(
    "--stress-quantile",
    default=0.75,
    show_default=True,
    type=float,
    help="Quantile of mean stress above which a row is labelled high stress.",
)
def features(
    aireadi_dir: Path, out_dir: Path, unit: Unit, target: Target, stress_quantile: float
) -> None:
    """Extract a feature table from an AI-READI dataset root (real or synthetic).

    Reads participants.tsv, the CGM and the Garmin files, survives the real files' quirks (bad
    records are skipped and counted), converts UTC to each site's local time, and writes one
    row per person-day (or person) with the feature spec beside it.
    """
    data = extract_features(aireadi_dir, out_dir, unit, target, stress_quantile)
    console.print_dataset(data)


def extract_features(
    aireadi_dir: Path,
    out_dir: Path,
    unit: Unit = "day",
    target: Target = "high_stress",
    stress_quantile: float = 0.75,
) -> Any:
    """Read the files, write the feature folder and say where (the demo's second step too)."""
    from sensecf.data.aireadi import read_aireadi

    start = time.perf_counter()
    data = read_aireadi(
        aireadi_dir,
        unit=unit,
        target=target,
        stress_quantile=stress_quantile,
        progress=console.progress_enabled(),
    )
    data.save(out_dir)
    console.done(f"wrote {len(data)} rows of features to {out_dir}", time.perf_counter() - start)
    return data
