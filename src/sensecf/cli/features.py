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
@click.option(
    "--min-cgm-coverage",
    default=0.70,
    show_default=True,
    type=click.FloatRange(0, 1),
    metavar="FRACTION",
    help="Share of the expected CGM readings a day's CGM features need: below it they are "
    "emptied (or the day dropped with --require-cgm); 0 computes them from any reading.",
)
@click.option(
    "--require-cgm/--no-require-cgm",
    default=False,
    show_default=True,
    help="Drop a day below --min-cgm-coverage instead of keeping it with its CGM features empty.",
)
@click.option(
    "--min-hr-hours",
    default=18.0,
    show_default=True,
    type=click.FloatRange(0, 24),
    metavar="H",
    help="Clock hours with heart-rate data a day needs (0 keeps any day with heart rate).",
)
@click.option(
    "--require-sleep/--no-require-sleep",
    default=False,
    show_default=True,
    help="Drop a day without a sleep record for its night instead of keeping it with its "
    "night-time features empty.",
)
@click.option(
    "--require-stress/--no-require-stress",
    default=True,
    show_default=True,
    help="A day needs valid stress values (a day without them is kept only when the target "
    "does not need them).",
)
@click.option(
    "--features",
    "selected",
    default=None,
    metavar="FEAT[,FEAT...]",
    help="Keep only these features in the table and the spec (e.g. leave out spo2_mean,"
    "spo2_below90_pct for a study without SpO2). Relations over a left-out feature are left "
    "out too. Default: every feature.",
)
@click.option(
    "--require",
    "required",
    default=None,
    metavar="FEAT[,FEAT...]",
    help="Features a day must have a value for: marked required in the spec, and a day "
    "without one is dropped ('missing FEAT'). Default: none; a day missing a stream keeps its "
    "row with that stream's features empty.",
)
def features(
    aireadi_dir: Path,
    out_dir: Path,
    unit: Unit,
    target: Target,
    stress_quantile: float,
    min_cgm_coverage: float,
    min_hr_hours: float,
    require_cgm: bool,
    require_sleep: bool,
    require_stress: bool,
    selected: str | None,
    required: str | None,
) -> None:
    """Extract a feature table from an AI-READI dataset root (real or synthetic).

    Reads participants.tsv, the CGM and the Garmin files, survives the real files' quirks (bad
    records are skipped and counted), converts UTC to each site's local time, and writes one
    row per person-day (or person) with the feature spec beside it. A day the watch was not
    worn (too few heart-rate hours) or without stress values is dropped; a day with too little
    CGM or without a sleep record keeps its row with those features empty, unless
    --require-cgm / --require-sleep. The rules can be relaxed for short recordings; info.json
    records the rules used. A day without some stream keeps its row with that stream's
    features empty, and the summary counts the missing values of each feature and the days
    each rule emptied.
    """
    data = extract_features(
        aireadi_dir,
        out_dir,
        unit,
        target,
        stress_quantile,
        day_rules={
            "min_cgm_coverage": min_cgm_coverage,
            "min_hr_hours": min_hr_hours,
            "require_cgm": require_cgm,
            "require_sleep": require_sleep,
            "require_stress": require_stress,
        },
        features=_names(selected),
        required=_names(required) or (),
    )
    console.print_dataset(data)


def _names(text: str | None) -> list[str] | None:
    """Feature names from a comma list (``None`` when not given)."""
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def extract_features(
    aireadi_dir: Path,
    out_dir: Path,
    unit: Unit = "day",
    target: Target = "high_stress",
    stress_quantile: float = 0.75,
    day_rules: dict[str, Any] | None = None,
    features: list[str] | None = None,
    required: list[str] | tuple[str, ...] = (),
) -> Any:
    """Read the files, write the feature folder and say where (the demo's second step too).

    ``day_rules`` are keyword arguments of :func:`~sensecf.data.aireadi.read_aireadi`
    (``min_cgm_coverage``, ``min_hr_hours``, ``require_cgm``, ``require_sleep``,
    ``require_stress``);
    ``features`` and ``required`` are its feature selection and required features.
    """
    from sensecf.data.aireadi import read_aireadi

    start = time.perf_counter()
    data = read_aireadi(
        aireadi_dir,
        unit=unit,
        target=target,
        stress_quantile=stress_quantile,
        features=features,
        required=required,
        progress=console.progress_enabled(),
        **(day_rules or {}),
    )
    data.save(out_dir)
    console.done(f"wrote {len(data)} rows of features to {out_dir}", time.perf_counter() - start)
    return data
