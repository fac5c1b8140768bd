"""The `sensecf` command line: a thin layer over the library.

Each verb reads and writes plain files, prints where it wrote what, and exits with status 2 and a
one-line reason when the input is bad.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from sensecf.cli import console
from sensecf.errors import SensecfError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _user_errors(func: F) -> F:
    """Turn an input error into one line on stderr and exit status 2, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SensecfError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings=CONTEXT)
@click.version_option(package_name="sensecf")
def cli() -> None:
    """Counterfactual explanations for health-risk classifiers on wearable-sensor data.

    \b
    The flow, one verb per stage (each reads and writes plain files):
      sensecf synth     write a synthetic cohort in the AI-READI file layout
      sensecf features  turn AI-READI files into a feature table (+ its spec)
      sensecf train     train and evaluate a classifier on a feature table
      sensecf explain   counterfactuals and intervention texts for flagged people
      sensecf benchmark run counterfactual generators side by side, score them
      sensecf demo      run the whole flow on a synthetic cohort

    Run `sensecf VERB --help` for the options of each verb.
    """


# ---- synth --------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder to write the cohort into (created if missing).",
)
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
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option(
    "--quirks/--no-quirks",
    default=True,
    show_default=True,
    help="Inject the quirks of the real files (sentinels, string values, old keys...).",
)
@_user_errors
def synth(
    out_dir: Path, participants: int, days: int, interval_min: int, seed: int, quirks: bool
) -> None:
    """Write a synthetic cohort in the published AI-READI layout.

    Behaviour (sleep, steps, workouts) drives heart rate, glucose and Garmin stress, so that
    counterfactuals have real structure to find. Same seed, same files.
    """
    cohort = _synth(out_dir, participants, days, interval_min, seed, quirks)
    console.print_cohort(cohort)


def _synth(
    out_dir: Path, participants: int, days: int, interval_min: int, seed: int, quirks: bool = True
) -> Any:
    from sensecf.data.synthetic import CohortConfig, write_synthetic_cohort

    try:
        config = CohortConfig(
            participants=participants,
            days=days,
            interval_min=interval_min,
            seed=seed,
            quirks=quirks,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    start = time.perf_counter()
    cohort = write_synthetic_cohort(out_dir, config, progress=console.progress_enabled())
    console.done(f"wrote a synthetic cohort to {out_dir}", time.perf_counter() - start)
    return cohort


# ---- features -----------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("aireadi_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Feature folder to write (features.parquet, spec.yaml, info.json).",
)
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
@_user_errors
def features(
    aireadi_dir: Path, out_dir: Path, unit: str, target: str, stress_quantile: float
) -> None:
    """Extract a feature table from an AI-READI dataset root (real or synthetic).

    Reads participants.tsv, the CGM and the Garmin files, survives the real files' quirks (bad
    records are skipped and counted), converts UTC to each site's local time, and writes one
    row per person-day (or person) with the feature spec beside it.
    """
    data = _features(aireadi_dir, out_dir, unit, target, stress_quantile)
    console.print_dataset(data)


def _features(
    aireadi_dir: Path,
    out_dir: Path,
    unit: str = "day",
    target: str = "high_stress",
    stress_quantile: float = 0.75,
) -> Any:
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


# ---- train --------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.argument("features_path", metavar="FEATURES", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Model folder to write (model.joblib, spec.yaml, metadata.json, split.parquet).",
)
@click.option(
    "--estimator",
    type=click.Choice(["rf", "gb", "logreg"]),
    default="rf",
    show_default=True,
    help="rf: random forest; gb: gradient boosting; logreg: logistic regression.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option(
    "--test-size",
    default=0.25,
    show_default=True,
    type=float,
    help="Share of groups (people) held out for evaluation.",
)
@_user_errors
def train(features_path: Path, out_dir: Path, estimator: str, seed: int, test_size: float) -> None:
    """Train a classifier on FEATURES and report held-out scores.

    FEATURES is a folder written by `sensecf features`, or a CSV/Parquet table with its spec
    beside it (NAME.spec.yaml or spec.yaml). When the spec names a group column (the person),
    the held-out set holds other people than the training set.
    """
    clf = _train(features_path, out_dir, estimator, seed, test_size)
    console.print_classifier(clf)


def _train(
    features_path: Path,
    out_dir: Path,
    estimator: str = "rf",
    seed: int = 0,
    test_size: float = 0.25,
) -> Any:
    from sensecf.data.dataset import load_dataset
    from sensecf.models import train as train_classifier

    start = time.perf_counter()
    data = load_dataset(features_path)
    clf = train_classifier(data, estimator, seed=seed, test_size=test_size)
    clf.save(out_dir)
    console.done(f"wrote the {estimator} model to {out_dir}", time.perf_counter() - start)
    return clf


# ---- explain ------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Model folder written by `sensecf train` (the classifier to explain).",
)
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(path_type=Path),
    help="FEATURES holding the rows to explain (a feature folder or a table with its spec).",
)
@click.option(
    "--rows",
    default="flagged",
    show_default=True,
    help="'flagged' (rows the model puts in the risk class), 'all', or comma-separated values "
    "of the first id column (e.g. person ids).",
)
@click.option("--limit", type=int, help="Explain at most N of those rows (seeded sample).")
@click.option(
    "--generator",
    default="few-shot",
    show_default=True,
    help="zero-shot, few-shot, few-shot-worked (LLM), oracle, or a baseline (dice-random, "
    "dice-genetic, dice-kdtree, cfnow-greedy, cfnow-random, nice-sparsity, nice-proximity, "
    "nice-plausibility); add +sparsify to undo needless changes afterwards.",
)
@click.option("--n-cfs", default=1, show_default=True, type=int, help="Counterfactuals per row.")
@click.option(
    "--llm-backend",
    type=click.Choice(["llama-cpp", "openai", "transformers"]),
    default="llama-cpp",
    show_default=True,
    help="llama-cpp runs the embedded SmolLM2-135M (or --llm-model GGUF) on the CPU; openai "
    "talks to any OpenAI-compatible server (key from OPENAI_API_KEY); transformers loads a "
    "Hugging Face model folder.",
)
@click.option("--llm-model", help="GGUF file, model name (openai) or model folder.")
@click.option("--llm-base-url", help="Endpoint of an OpenAI-compatible server (openai backend).")
@click.option(
    "--llm-cache",
    type=click.Path(path_type=Path),
    help="SQLite file caching every LLM call [OUT/llm-cache.sqlite]; a rerun makes no new calls.",
)
@click.option("--repair-rounds", default=3, show_default=True, type=int, help="LLM repair rounds.")
@click.option(
    "--fallback", is_flag=True, help="Let the oracle search serve rows the LLM could not."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for cfs.parquet/.csv/.json, interventions.csv, queries.parquet, result.json.",
)
@click.option("--show", default=5, show_default=True, type=int, help="People to print.")
@_user_errors
def explain(
    model_dir: Path,
    data_path: Path,
    rows: str,
    limit: int | None,
    generator: str,
    n_cfs: int,
    llm_backend: str,
    llm_model: str | None,
    llm_base_url: str | None,
    llm_cache: Path | None,
    repair_rounds: int,
    fallback: bool,
    seed: int,
    out_dir: Path,
    show: int,
) -> None:
    """Counterfactual explanations for flagged people: what small change flips the model?

    Each counterfactual is checked by the classifier and by the spec (fixed features kept,
    allowed directions, bounds, steps), and comes with a plain-language intervention text.
    LLM generators answer in JSON constrained per person, are verified, and get repair rounds
    with a changed context when an answer fails.
    """
    from sensecf.data.dataset import load_dataset
    from sensecf.generators.base import select_queries
    from sensecf.generators.registry import LLM_GENERATORS, make_generator, split_name
    from sensecf.generators.sparsify import sparsify_result
    from sensecf.models import load_model
    from sensecf.report import intervention_table

    start = time.perf_counter()
    model = load_model(model_dir)
    data = load_dataset(data_path)
    reference = _reference_rows(model, data)
    wanted = (
        rows if rows in ("flagged", "all") else [r.strip() for r in rows.split(",") if r.strip()]
    )
    queries = select_queries(model, data, rows=wanted, limit=limit, seed=seed)
    if len(queries) == 0:
        raise click.UsageError(f"no rows to explain: the model flags none of the {len(data)} rows")
    base, sparse = split_name(generator)
    options: dict[str, Any] = {}
    if base in LLM_GENERATORS:
        options = {
            "llm_backend": llm_backend,
            "llm_model": llm_model,
            "llm_base_url": llm_base_url,
            "llm_cache": llm_cache or out_dir / "llm-cache.sqlite",
            "repair_rounds": repair_rounds,
            "fallback": fallback,
        }
    gen = make_generator(base, **options).fit(model, reference)
    try:
        result = gen.generate(queries, n_cfs=n_cfs, seed=seed, progress=console.progress_enabled())
    finally:
        backend = getattr(gen, "backend", None)
        stats = backend.stats() if hasattr(backend, "stats") else None
        if backend is not None:
            backend.close()
    if sparse:
        result = sparsify_result(result, model)
    _write_explanations(result, intervention_table(result), out_dir)
    console.print_explanations(result, intervention_table(result, sep="\n"), show)
    if stats is not None:
        console.line(
            f"LLM calls: {stats['calls']} to the backend, {stats['hits']} answered from the cache"
        )
    console.done(
        f"wrote {len(result.cfs)} counterfactuals for {len(result.queries)} rows to {out_dir}",
        time.perf_counter() - start,
    )


def _reference_rows(model: Any, data: Any) -> Any:
    """The model's training rows within ``data`` (few-shot examples and neighbours come from
    them); all of ``data`` when it is not the table the model was trained on."""
    from sensecf.errors import DataError

    try:
        train_rows, _ = model.split_data(data)
    except DataError:
        return data
    return train_rows if len(train_rows) else data


def _write_explanations(result: Any, interventions: Any, out_dir: Path) -> None:
    from sensecf.data.io import write_table, write_text

    result.save(out_dir)
    write_table(result.cfs, out_dir / "cfs.csv")
    write_text(out_dir / "cfs.json", result.cfs.to_json(orient="records", indent=1) + "\n")
    write_table(interventions, out_dir / "interventions.csv")


# ---- benchmark ----------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.option(
    "--model",
    "model_dir",
    type=click.Path(path_type=Path),
    help="Model folder written by `sensecf train` (the classifier to explain).",
)
@click.option(
    "--data",
    "data_path",
    type=click.Path(path_type=Path),
    help="FEATURES the model was trained on: queries come from its held-out rows.",
)
@click.option(
    "--generators",
    help="Comma-separated generator names (default: oracle and every baseline). Any name may "
    "end in +sparsify to also report it after greedy reversion. Known: "
    "oracle, dice-random, dice-genetic, dice-kdtree, cfnow-greedy, cfnow-random, "
    "nice-sparsity, nice-proximity, nice-plausibility.",
)
@click.option("--limit", type=int, help="Explain at most N flagged rows (seeded sample) [50].")
@click.option("--n-cfs", type=int, help="Counterfactuals per query [3].")
@click.option("--seed", type=int, help="Random seed [0].")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), help="Folder for tables and raw CFs."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="YAML file with any of: model, data, out, generators (list, or name -> options), "
    "n_cfs, limit, rows, queries_from, seed, by. Options given on the command line win.",
)
@_user_errors
def benchmark(
    model_dir: Path | None,
    data_path: Path | None,
    generators: str | None,
    limit: int | None,
    n_cfs: int | None,
    seed: int | None,
    out_dir: Path | None,
    config_path: Path | None,
) -> None:
    """Run counterfactual generators side by side and score them with one metric suite.

    Every method explains the same flagged rows of the same model and is scored on coverage,
    validity, sparsity (against the oracle's minimal number of changes), proximity,
    plausibility, constraint violations, diversity and cost. Writes summary.md / summary.csv
    (one row per method, and per true class), scores.parquet (one row per counterfactual),
    per_query.parquet, cfs.parquet and results/<method>/. A rerun with the same settings reuses
    finished methods.
    """
    from sensecf.data.dataset import load_dataset
    from sensecf.evaluation.benchmark import BenchmarkConfig, run_benchmark, summary_table
    from sensecf.models import load_model

    config = BenchmarkConfig.from_yaml(config_path) if config_path else BenchmarkConfig()
    overrides = {
        "model": model_dir,
        "data": data_path,
        "out": out_dir,
        "generators": generators,
        "limit": limit,
        "n_cfs": n_cfs,
        "seed": seed,
    }
    merged = {**config.model_dump(), **{k: v for k, v in overrides.items() if v is not None}}
    config = BenchmarkConfig.build(merged, source="sensecf benchmark")
    for key, flag in (("model", "--model"), ("data", "--data"), ("out", "--out")):
        if getattr(config, key) is None:
            raise click.UsageError(f"{flag} is required (on the command line or in --config)")
    start = time.perf_counter()
    model = load_model(config.model)
    data = load_dataset(config.data)
    result = run_benchmark(
        model,
        data,
        config,
        out_dir=config.out,
        progress=console.progress_enabled(),
        log=console.line,
    )
    console.print_frame(summary_table(result.summary, by=config.by), "Benchmark summary")
    console.done(f"wrote the benchmark to {config.out}", time.perf_counter() - start)


# ---- demo ---------------------------------------------------------------------------------
@cli.command(context_settings=CONTEXT)
@click.option(
    "--out",
    "out_dir",
    default=Path("runs/demo"),
    show_default=True,
    type=click.Path(path_type=Path),
    help="Folder for everything the demo writes.",
)
@click.option("--quick", is_flag=True, help="A small cohort (40 people x 5 days), for a fast look.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed.")
@_user_errors
def demo(out_dir: Path, quick: bool, seed: int) -> None:
    """Run the whole flow on the embedded synthetic cohort.

    synth -> features -> train -> explain (few-shot with the embedded LLM) -> benchmark (the
    LLM beside the oracle, DiCE and NICE, on six more). No network, no keys, no GPU. Writes cohort/,
    features/, model/, explain/ and benchmark/ under --out.
    """
    participants, days, interval = (40, 5, 15) if quick else (200, 10, 5)
    _synth(out_dir / "cohort", participants, days, interval, seed)
    data = _features(out_dir / "cohort", out_dir / "features")
    console.print_dataset(data)
    clf = _train(out_dir / "features", out_dir / "model", "rf", seed)
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
        generators="oracle,few-shot+sparsify,dice-genetic,nice-sparsity+sparsify",
        limit=4 if quick else 6,
        n_cfs=1,
        out_dir=out_dir / "benchmark",
        config_path=None,
    )


from sensecf.cli import augment as _augment  # noqa: E402, F401  (registers `sensecf augment`)


def main() -> None:
    """Entry point of the `sensecf` command."""
    cli(prog_name="sensecf")


if __name__ == "__main__":
    main()
