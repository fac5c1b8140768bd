"""`sensecf benchmark`: run counterfactual generators side by side and score them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sensecf.cli import console
from sensecf.cli.options import (
    PATH,
    data_option,
    execution_options,
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
from sensecf.generators.registry import GENERATORS, LLM_GENERATORS

if TYPE_CHECKING:
    from sensecf.generators.llm.options import LLMOptions


@click.command()
@model_option(required=False)
@data_option(
    required=False,
    help="FEATURES the model was trained on: queries come from its held-out rows (a plain "
    "table without a spec beside it is read with the model's spec).",
)
@click.option(
    "--generators",
    help="Comma-separated generator names (default: oracle and every baseline). Any name may "
    "end in +sparsify to also report it after greedy reversion. Known: "
    + ", ".join(GENERATORS)
    + f" (LLM: {', '.join(LLM_GENERATORS)}; nearest-example returns the few-shot examples "
    "without an LLM).",
)
@limit_option(help="Explain at most N flagged rows (seeded sample) [50].")
@n_cfs_option(help="Counterfactuals per query [3].")
@seed_option(default=None, show_default=False, help="Random seed [0].")
@out_option(required=False, help="Folder for tables and raw CFs.")
@min_proba_option(
    help="Safety margin: the oracle and the LLM methods search until P(desired class) reaches "
    "P (DiCE, NICE, CFNOW keep their own rule), and the summary reports validity at P beside "
    "validity at the decision rule [the decision threshold]."
)
@plausibility_option(
    help="iforest holds every generator that can be held to the plausibility detector (an "
    "IsolationForest on the desired class's training rows, calibrated on the held-out rows): "
    "its counterfactuals must be inliers. The oracle asked for runs as oracle-plausible; the "
    "plain oracle still runs as the reference for the fewest changes and what plausibility "
    "costs [none]."
)
@inlier_rate_option()
@held_rate_option()
@held_neighbours_option()
@target_option
@limits_option()
@click.option(
    "--reference",
    help="Method every other is compared with, query by query (paired over the same queries, "
    "by person; Holm-adjusted): it must be one of the run's methods [oracle].",
)
@llm_options
@execution_options
@click.option(
    "--config",
    "config_path",
    type=PATH,
    help="YAML file with any of: model, data, out, generators (list, or name -> options), "
    "n_cfs, limit, rows, queries_from, seed, by, min_proba, target, reference, limits, "
    "plausibility, inlier_rate, held_rate, held_neighbours. Options given on the command line "
    "win.",
)
def benchmark(
    model_dir: Path | None,
    data_path: Path | None,
    generators: str | None,
    limit: int | None,
    n_cfs: int | None,
    seed: int | None,
    out_dir: Path | None,
    min_proba: float | None,
    plausibility: str | None,
    inlier_rate: float | None,
    held_rate: float | None,
    held_neighbours: int | None,
    target: str | None,
    limits_path: Path | None,
    reference: str | None,
    llm: LLMOptions,
    config_path: Path | None,
    execution: Any,
) -> None:
    """Run counterfactual generators side by side and score them with one metric suite.

    Every method explains the same flagged rows of the same model and is scored on coverage,
    validity, sparsity (against the oracle's minimal number of changes), proximity,
    plausibility, constraint violations, diversity and cost. Writes summary.md / summary.csv
    (one row per method, and per true class), scores.parquet (one row per counterfactual),
    per_query.parquet, cfs.parquet and results/<method>/. A rerun with the same settings, model
    and data reuses finished methods. LLM methods (the --llm-* options) cache every call in
    OUT/llm-cache.sqlite, so a killed run makes only the missing calls again; the summary shows
    what the language model adds (first-answer validity, copies of the examples, cost).
    With --min-proba every method whose search can searches to that margin, and the summary
    reports validity at it beside validity at the decision rule. Every method is compared
    with the --reference on each headline measure over the queries both were asked
    (comparisons.csv); a ★ marks a method only where it beats every other at the
    Holm-adjusted level. With --limits the oracle and the LLM methods hold each person to
    their own limits, and the summary counts every method's breaks of them (viol_limits).
    Beside every method's inlier rates, plausibility.json keeps the held-out real rows' own
    (the reference); --held-rate holds the plausible methods to a stricter bar than the one
    they are judged by, --held-neighbours the oracle also to a neighbour bar; where oracle
    and oracle-plausible both run,
    plausibility_price.csv says what plausibility costs and plausibility_frontier.csv follows
    five people's fewest changes as the detector's threshold tightens.
    """
    from sensecf.cli.spec import load_for_verb
    from sensecf.evaluation.benchmark import (
        CATALOG,
        BenchmarkConfig,
        benchmark_best,
        run_benchmark,
        summary_table,
    )
    from sensecf.evaluation.comparisons import comparisons_text
    from sensecf.models import load_model

    saved = BenchmarkConfig.from_yaml(config_path).model_dump() if config_path else {}
    overrides = {
        "model": model_dir,
        "data": data_path,
        "out": out_dir,
        "generators": generators,
        "limit": limit,
        "n_cfs": n_cfs,
        "seed": seed,
        "min_proba": min_proba,
        "target": target,
        "reference": reference,
        "limits": limits_path,
        "plausibility": plausibility,
        "inlier_rate": inlier_rate,
        "held_rate": held_rate,
        "held_neighbours": held_neighbours,
    }
    merged = {**saved, **{k: v for k, v in overrides.items() if v is not None}}
    config = BenchmarkConfig.build(merged, source="sensecf benchmark")
    config.reference_name()  # a reference that is not one of the methods: refused before any work
    model_dir = _required(config.model, "--model")
    data_path = _required(config.data, "--data")
    out_dir = _required(config.out, "--out")
    start = time.perf_counter()
    model = load_model(model_dir)
    data = load_for_verb(data_path, config.target, model.spec)
    with console.news():
        result = run_benchmark(
            model,
            data,
            config,
            out_dir=out_dir,
            progress=console.progress_enabled(),
            llm=llm,
            execution=execution,
        )
    best = benchmark_best(result.per_query, CATALOG.view("headline"), seed=config.seed)
    console.print_frame(
        summary_table(result.summary, by=config.by, best=best),
        "Benchmark summary (★: better than every other method, Holm-adjusted)",
    )
    if not result.comparisons.empty:
        shown = comparisons_text(result.comparisons)
        console.print_frame(
            shown.drop(columns=["p", "needed"]),
            f"Paired comparisons against {result.comparisons['reference'].iloc[0]}",
        )
    console.done(f"wrote the benchmark to {out_dir}", time.perf_counter() - start)


def _required(value: Path | None, flag: str) -> Path:
    if value is None:
        raise click.UsageError(f"{flag} is required (on the command line or in --config)")
    return value
