"""`sensecf synth`: write a synthetic cohort in the AI-READI file layout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from sensecf.cli import console
from sensecf.cli.options import out_option, seed_option


@click.command()
@out_option(help="Folder to write the cohort into (created if missing).")
@click.option("--participants", default=200, show_default=True, type=int, help="Number of people.")
@click.option(
    "--days",
    default=10,
    show_default=True,
    type=int,
    help="Complete local days of wear per person.",
)
@click.option(
    "--interval-min",
    default=5,
    show_default=True,
    type=int,
    help="Sampling interval of the Garmin streams in minutes (CGM is always 5).",
)
@seed_option()
@click.option(
    "--quirks/--no-quirks",
    default=True,
    show_default=True,
    help="Inject the quirks of the real files (sentinels, string values, old keys...).",
)
@click.option(
    "--missing-streams",
    default="0",
    show_default=True,
    metavar="SHARE|STREAM=SHARE,...",
    help="Leave files out, as real downloads do: the share (0 to below 1) of persons without "
    "a stream's file, one share for every stream (0.1) or per stream (spo2=0.2,cgm=0.1). "
    "Streams: cgm, heart_rate (hr), oxygen_saturation (spo2), physical_activity (activity), "
    "calorie (calories), respiratory_rate (resp), sleep, stress.",
)
@click.option(
    "--cgm-stops",
    default=0.0,
    show_default=True,
    type=float,
    metavar="SHARE",
    help="Share (0 to below 1) of persons whose CGM stops partway through the study (between "
    "a quarter and three quarters of the way), leaving the later days without glucose.",
)
def synth(
    out_dir: Path,
    participants: int,
    days: int,
    interval_min: int,
    seed: int,
    quirks: bool,
    missing_streams: str,
    cgm_stops: float,
) -> None:
    """Write a synthetic cohort in the published AI-READI layout.

    Behaviour (sleep, steps, workouts) drives heart rate, glucose and Garmin stress, so that
    counterfactuals have real structure to find. Same seed, same files (gaps included).
    """
    from sensecf.data.synthetic.gaps import parse_stream_shares

    try:
        shares = parse_stream_shares(missing_streams)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--missing-streams") from None
    cohort = write_cohort(
        out_dir,
        participants,
        days,
        interval_min,
        seed,
        quirks,
        missing_streams=shares,
        cgm_stops=cgm_stops,
    )
    console.print_cohort(cohort)


def write_cohort(
    out_dir: Path,
    participants: int,
    days: int,
    interval_min: int,
    seed: int,
    quirks: bool = True,
    *,
    missing_streams: float | dict[str, float] = 0.0,
    cgm_stops: float = 0.0,
) -> Any:
    """Write the cohort and say where (the demo's first step too)."""
    from sensecf.data.synthetic import CohortConfig, write_synthetic_cohort

    try:
        config = CohortConfig(
            participants=participants,
            days=days,
            interval_min=interval_min,
            seed=seed,
            quirks=quirks,
            missing_streams=missing_streams,
            cgm_stops=cgm_stops,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    start = time.perf_counter()
    cohort = write_synthetic_cohort(out_dir, config, progress=console.progress_enabled())
    console.done(f"wrote a synthetic cohort to {out_dir}", time.perf_counter() - start)
    return cohort
