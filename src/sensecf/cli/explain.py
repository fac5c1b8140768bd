"""`sensecf explain`: counterfactuals and intervention texts for flagged people.

The work is :func:`sensecf.explanation.explain`; this verb reads the folders, parses the options,
saves the :class:`~sensecf.explanation.Explanation` and prints it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sensecf.cli import console
from sensecf.cli.options import (
    data_option,
    held_neighbours_option,
    held_rate_option,
    inlier_rate_option,
    limit_option,
    limits_option,
    llm_options,
    min_proba_option,
    model_option,
    n_cfs_option,
    out_option,
    plausibility_option,
    seed_option,
)
from sensecf.cli.spec import target_option

if TYPE_CHECKING:
    from sensecf.generators.llm.options import LLMOptions


@click.command()
@model_option()
@data_option(
    help="FEATURES holding the rows to explain (a feature folder or a table with its spec)."
)
@click.option(
    "--rows",
    default="flagged",
    show_default=True,
    help="'flagged' (rows the model puts in the risk class), 'all', or comma-separated values "
    "of the first id column (e.g. person ids).",
)
@limit_option(help="Explain at most N of those rows (seeded sample).")
@click.option(
    "--generator",
    default="few-shot",
    show_default=True,
    help="zero-shot, few-shot, few-shot-worked (LLM), nearest-example (the few-shot examples, no "
    "LLM), oracle, oracle-plausible (the oracle held to the plausibility detector), or a baseline (dice-random, "
    "dice-genetic, dice-kdtree, cfnow-greedy, cfnow-random, nice-sparsity, nice-proximity, "
    "nice-plausibility); add +sparsify to undo needless changes afterwards.",
)
@n_cfs_option(default=1, show_default=True, help="Counterfactuals per row.")
@llm_options
@seed_option()
@out_option(
    help="Folder for cfs.parquet/.csv/.json, interventions.csv, queries.parquet, "
    "rejected.parquet (the LLM answers withheld, with the reason), result.json."
)
@click.option("--show", default=5, show_default=True, type=int, help="People to print.")
@min_proba_option()
@limits_option()
@plausibility_option()
@inlier_rate_option()
@held_rate_option()
@held_neighbours_option()
@target_option
def explain(
    model_dir: Path,
    data_path: Path,
    rows: str,
    limit: int | None,
    generator: str,
    n_cfs: int,
    llm: LLMOptions,
    seed: int,
    out_dir: Path,
    show: int,
    min_proba: float | None,
    limits_path: Path | None,
    plausibility: str | None,
    inlier_rate: float | None,
    held_rate: float | None,
    held_neighbours: int | None,
    target: str | None,
) -> None:
    """Counterfactual explanations for flagged people: what small change flips the model?

    Each counterfactual is checked by the classifier and by the spec (fixed features kept,
    allowed directions, bounds, steps), and comes with a plain-language intervention text.
    LLM generators answer in JSON constrained per person, are verified, and get repair rounds
    with a changed context when an answer fails; an answer still refused after the last round
    is withheld (rejected.parquet, with the reason), never offered. A plain table (no spec
    beside it) is read with the model's spec. --limits holds each person to their own limits
    (features to keep, tighter bounds, a cap on changes).
    """
    from sensecf.cli.spec import load_for_verb
    from sensecf.data.limits import PersonLimits
    from sensecf.explanation import explain as explain_rows
    from sensecf.explanation import withheld_line
    from sensecf.interventions import intervention_table
    from sensecf.models import load_model
    from sensecf.runs import LLM_CACHE

    start = time.perf_counter()
    model = load_model(model_dir)
    data = load_for_verb(data_path, target, model.spec)
    limits = PersonLimits.read(limits_path, data.spec, data) if limits_path else None
    wanted = (
        rows if rows in ("flagged", "all") else [r.strip() for r in rows.split(",") if r.strip()]
    )
    if llm.cache is None:
        llm = replace(llm, cache=out_dir / LLM_CACHE)
    explanation = explain_rows(
        model,
        data,
        generator,
        rows=wanted,
        limit=limit,
        n_cfs=n_cfs,
        seed=seed,
        llm=llm,
        progress=console.progress_enabled(),
        min_proba=min_proba,
        limits=limits,
        plausibility=plausibility or "none",
        inlier_rate=inlier_rate,
        held_rate=held_rate,
        held_neighbours=held_neighbours,
    )
    explanation.save(out_dir)
    result = explanation.result
    console.print_explanations(result, intervention_table(result, sep="\n"), show)
    withheld = len(result.rejected)
    if withheld:
        console.line(withheld_line(result.rejected))
    stats = explanation.llm_stats
    if stats is not None and "calls" in stats:
        console.line(
            f"LLM calls: {stats['calls']} to the backend, {stats['hits']} answered from the cache"
        )
    console.done(
        f"wrote {len(result.cfs)} counterfactuals for {len(result.queries)} rows to {out_dir}",
        time.perf_counter() - start,
    )
