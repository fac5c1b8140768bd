"""Options several verbs share, each declared once.

A shared option is a factory: called with no arguments it gives the common form; keyword
arguments change what differs between verbs (whether it is required, its default, its help),
never the flag or the name the verb receives it under.

>>> import click
>>> @click.command()
... @model_option()
... @seed_option(default=None, show_default=False, help="Random seed [0].")
... def verb(model_dir, seed):
...     pass
>>> [p.name for p in verb.params], verb.params[0].required
(['model_dir', 'seed'], True)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from sensecf.errors import SensecfError
from sensecf.llm.factory import BACKENDS

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]

PATH = click.Path(path_type=Path)


def _shared(*decls: str, **common: Any) -> Callable[..., Decorator[Any]]:
    """A factory of one click option whose keyword arguments may be overridden per verb."""

    def option(**overrides: Any) -> Decorator[Any]:
        return click.option(*decls, **{**common, **overrides})

    return option


model_option = _shared(
    "--model",
    "model_dir",
    required=True,
    type=PATH,
    help="Model folder written by `sensecf train` (the classifier to explain).",
)
data_option = _shared("--data", "data_path", required=True, type=PATH)
out_option = _shared("--out", "out_dir", required=True, type=PATH)
limit_option = _shared("--limit", type=int)
n_cfs_option = _shared("--n-cfs", type=int)
seed_option = _shared("--seed", default=0, show_default=True, type=int, help="Random seed.")
limits_option = _shared(
    "--limits",
    "limits_path",
    type=PATH,
    help="Per-person limits (CSV/Parquet): a row per person or person-day keyed by the id "
    "columns, with keep (features to keep, ';'-separated), max_changes and <feature>_min / "
    "<feature>_max. The oracle and the LLM methods honour them; the others are measured "
    "against them (viol_limits).",
)
min_proba_option = _shared(
    "--min-proba",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    metavar="P",
    help="Safety margin: search until P(desired class) reaches P [the decision threshold].",
)

plausibility_option = _shared(
    "--plausibility",
    type=click.Choice(["none", "iforest"]),
    help="iforest holds every generator that can be held to the plausibility detector (an "
    "IsolationForest on the desired class's training rows, calibrated on held-out real rows): "
    "its counterfactuals must be inliers; the oracle runs as oracle-plausible [none].",
)
inlier_rate_option = _shared(
    "--inlier-rate",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    metavar="R",
    help="The detector's calibration: the share of held-out real rows of the desired class it "
    "calls inliers [0.95].",
)
held_rate_option = _shared(
    "--held-rate",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    metavar="R",
    help="Hold the plausible generators to a stricter bar on the same detector: the "
    "IsolationForest score only a share R of held-out real rows reach (e.g. 0.8), while the "
    "metrics still judge at --inlier-rate, so answers sit inside the typical region rather "
    "than on its edge [the --inlier-rate bar].",
)
held_neighbours_option = _shared(
    "--held-neighbours",
    type=click.IntRange(min=1),
    metavar="K",
    help="Also hold the oracle-plausible answers as near to real people of the desired class "
    "as held-out real people are: the mean distance (standard units, over the features a "
    "person sets) to the K nearest real rows, and that distance relative to how near those "
    "rows sit to their own K nearest, each no larger than the share --held-rate (else "
    "--inlier-rate) of held-out rows reach. The IsolationForest cannot see how far past its "
    "training range a value lies, nor a row at the edge of a tight group; this bar can "
    "(e.g. 10) [none].",
)


# The flag that sets each library option an error may name (SensecfError.option).
FLAGS = {
    "llm.backend": "--llm-backend",
    "llm.model": "--llm-model",
    "llm.base_url": "--llm-base-url",
    "llm.cache": "--llm-cache",
    "llm.repair_rounds": "--repair-rounds",
    "llm.fallback": "--fallback",
    "jobs": "--jobs",
    "ray": "--ray",
}


def error_line(exc: SensecfError) -> str:
    """An input error as the command line prints it: the library's message, and the flag that
    sets the option it names.

    >>> error_line(SensecfError("base_url is for the openai backend", option="llm.base_url"))
    'error: base_url is for the openai backend (set by --llm-base-url)'
    """
    flag = FLAGS.get(exc.option or "")
    return f"error: {exc}" + (f" (set by {flag})" if flag else "")


def llm_options(func: F) -> F:
    """The options of an LLM generator (``--llm-*``, ``--repair-rounds``, ``--fallback``),
    handed to the verb as one ``llm`` argument: a :class:`sensecf.generators.llm.options.LLMOptions`.

    ``--llm-cache`` left out gives ``cache=None``; the verb chooses where the cache goes.
    """

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        llm_backend: str,
        llm_model: str | None,
        llm_base_url: str | None,
        llm_cache: Path | None,
        repair_rounds: int,
        fallback: bool,
        **kwargs: Any,
    ) -> Any:
        from sensecf.generators.llm.options import LLMOptions

        kwargs["llm"] = LLMOptions(
            backend=llm_backend,
            model=llm_model,
            base_url=llm_base_url,
            cache=llm_cache,
            repair_rounds=repair_rounds,
            fallback=fallback,
        )
        return func(*args, **kwargs)

    decorators = [
        click.option(
            "--llm-backend",
            type=click.Choice(list(BACKENDS)),
            default="llama-cpp",
            show_default=True,
            help="llama-cpp runs the embedded SmolLM2-135M (or --llm-model GGUF) on the CPU; "
            "openai talks to any OpenAI-compatible server (key from OPENAI_API_KEY); "
            "transformers loads a Hugging Face model folder.",
        ),
        click.option("--llm-model", help="GGUF file, model name (openai) or model folder."),
        click.option(
            "--llm-base-url", help="Endpoint of an OpenAI-compatible server (openai backend)."
        ),
        click.option(
            "--llm-cache",
            type=PATH,
            help="SQLite file caching every LLM call [OUT/llm-cache.sqlite]; a rerun makes no "
            "new calls.",
        ),
        click.option(
            "--repair-rounds",
            default=3,
            show_default=True,
            type=click.IntRange(min=0),
            help="LLM repair rounds.",
        ),
        click.option(
            "--fallback", is_flag=True, help="Let the oracle search serve rows the LLM could not."
        ),
    ]
    decorated: Any = wrapper
    for decorator in reversed(decorators):  # so --help lists them in the order above
        decorated = decorator(decorated)
    return cast(F, decorated)


def execution_options(func: F) -> F:
    """Where a verb's independent units run (``--jobs``, ``--ray``), handed to the verb as one
    ``execution`` argument: a :class:`sensecf.execution.Execution`."""

    @click.option(
        "--jobs",
        type=int,
        default=1,
        show_default=True,
        help="Worker processes on this machine (-1: one per core). Results are the same as "
        "with 1; only this process writes files.",
    )
    @click.option(
        "--ray",
        "ray_address",
        metavar="auto|local|HOST:PORT",
        help="Run the units on a Ray cluster (pip install 'sensecf[ray]'): auto joins the one "
        "`ray start --head` started, local starts one for this run; --jobs caps the workers.",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, jobs: int, ray_address: str | None, **kwargs: Any) -> Any:
        from sensecf.execution import Execution

        return func(*args, execution=Execution(jobs=jobs, ray=ray_address), **kwargs)

    return cast(F, wrapper)
