"""Generators by name, as the command line and benchmark configs spell them.

``zero-shot``, ``few-shot`` (LLM, built from one
:class:`~sensecf.generators.llm.options.LLMOptions`), ``fine-tuned`` (a ``sensecf finetune``
folder, given as ``model_dir`` or the LLM options' model), ``nearest-example`` (the few-shot
examples, no LLM), ``oracle``, ``oracle-plausible`` (the oracle held to the plausibility
detector), ``dice-random``, ``cfnow-greedy``, ``nice-sparsity`` and so on; any name may end in ``+sparsify`` to report the method after the
sparsify post-step as well.

>>> make_generator("oracle", max_changes=2).max_changes
2
>>> split_name("dice-random+sparsify")
('dice-random', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sensecf.errors import SensecfError
from sensecf.generators.base import CounterfactualGenerator
from sensecf.generators.llm.options import LLM_PREFIX, LLMOptions
from sensecf.generators.sparsify import SUFFIX

if TYPE_CHECKING:  # the packages load only when a generator is made
    from sensecf.generators.cfnow import Strategy
    from sensecf.generators.dice import Method
    from sensecf.generators.llm.generator import Examples
    from sensecf.generators.nice import Optimization


def _finetuned(**options: Any) -> CounterfactualGenerator:
    from sensecf.generators.llm.finetuned import FineTunedGenerator

    return FineTunedGenerator(**options)


def _oracle(**options: Any) -> CounterfactualGenerator:
    from sensecf.generators.oracle import Oracle

    return Oracle(**options)


def _oracle_plausible(**options: Any) -> CounterfactualGenerator:
    from sensecf.generators.oracle import Oracle

    options.setdefault("plausibility", "iforest")
    return Oracle(**options)


def _dice(method: Method) -> Callable[..., CounterfactualGenerator]:
    def make(**options: Any) -> CounterfactualGenerator:
        from sensecf.generators.dice import DiCE

        return DiCE(method, **options)

    return make


def _cfnow(strategy: Strategy) -> Callable[..., CounterfactualGenerator]:
    def make(**options: Any) -> CounterfactualGenerator:
        from sensecf.generators.cfnow import CFNOW

        return CFNOW(strategy, **options)

    return make


def _nice(optimization: Optimization) -> Callable[..., CounterfactualGenerator]:
    def make(**options: Any) -> CounterfactualGenerator:
        from sensecf.generators.nice import NICE

        return NICE(optimization, **options)

    return make


def _nearest(**options: Any) -> CounterfactualGenerator:
    from sensecf.generators.nearest import NearestExample

    return NearestExample(**options)


def _llm(shots: int, examples: Examples) -> Callable[..., CounterfactualGenerator]:
    def make(**options: Any) -> CounterfactualGenerator:
        from sensecf.generators.llm import LLMGenerator

        options.setdefault("shots", shots)
        return LLMGenerator(examples=examples, **options)

    return make


GENERATORS: dict[str, Callable[..., CounterfactualGenerator]] = {
    "zero-shot": _llm(0, "nearest"),
    "few-shot": _llm(3, "nearest"),
    "few-shot-worked": _llm(3, "worked"),
    "fine-tuned": _finetuned,
    "oracle": _oracle,
    "oracle-plausible": _oracle_plausible,
    "nearest-example": _nearest,
    "dice-random": _dice("random"),
    "dice-genetic": _dice("genetic"),
    "dice-kdtree": _dice("kdtree"),
    "cfnow-greedy": _cfnow("greedy"),
    "cfnow-random": _cfnow("random"),
    "nice-sparsity": _nice("sparsity"),
    "nice-proximity": _nice("proximity"),
    "nice-plausibility": _nice("plausibility"),
}

LLM_GENERATORS = ("zero-shot", "few-shot", "few-shot-worked", "fine-tuned")
BASELINES = tuple(
    name
    for name in GENERATORS
    if name not in ("oracle", "oracle-plausible", "nearest-example", *LLM_GENERATORS)
)


# Held to plausibility, a generator reports itself under this registry name.
HELD_NAMES = {"oracle": "oracle-plausible"}


def held_name(name: str, plausibility: str = "none") -> str:
    """The name a generator is asked for under when a run holds every generator that can be
    held to ``plausibility`` (``none``: the name as given; ``+sparsify`` is kept).

    >>> held_name("oracle+sparsify", "iforest"), held_name("oracle"), held_name("dice-random", "iforest")
    ('oracle-plausible+sparsify', 'oracle', 'dice-random')
    """
    if plausibility == "none":
        return name
    base, sparse = split_name(name)
    return HELD_NAMES.get(base, base) + (SUFFIX if sparse else "")


def held_options(
    name: str,
    options: dict[str, Any] | None = None,
    *,
    llm: LLMOptions | None = None,
    plausibility: str = "none",
    inlier_rate: float | None = None,
    held_rate: float | None = None,
    held_neighbours: int | None = None,
) -> dict[str, Any]:
    """``options`` for generator ``name`` with a run's plausibility settings added where the
    generator takes them: ``plausibility`` for every generator whose parameters have one, and
    ``inlier_rate`` (the detector's calibration; ``None``: the generator's own) and
    ``held_rate`` (a stricter bar the answers are held to; ``None``: the calibration's) and
    ``held_neighbours`` (a neighbour bar over that many nearest real rows; ``None``: none) for
    every generator then held to plausibility that takes them. What ``options`` set already
    wins.

    Whether a generator takes them is read from its parameters, so a generator that gains a
    ``plausibility`` parameter is held from then on.

    >>> held_options("oracle", {"time_limit": 3}, plausibility="iforest", inlier_rate=0.9)
    {'time_limit': 3, 'plausibility': 'iforest', 'inlier_rate': 0.9}
    >>> held_options("dice-random", plausibility="iforest"), held_options("oracle", inlier_rate=0.9)
    ({}, {})
    """
    options = dict(options or {})
    if plausibility == "none" and all(v is None for v in (inlier_rate, held_rate, held_neighbours)):
        return options
    params = _make(name, llm, options, build_backend=False).get_params()
    if plausibility != "none" and "plausibility" in params:
        options.setdefault("plausibility", plausibility)
    held = options.get("plausibility", params.get("plausibility", "none")) != "none"
    for key, value in (
        ("inlier_rate", inlier_rate),
        ("held_rate", held_rate),
        ("held_neighbours", held_neighbours),
    ):
        if held and value is not None and key in params:
            options.setdefault(key, value)
    return options


def split_name(name: str) -> tuple[str, bool]:
    """The base generator name, and whether ``+sparsify`` was asked for."""
    name = name.strip()
    if name.endswith(SUFFIX):
        return name[: -len(SUFFIX)], True
    return name, False


def make_generator(
    name: str, *, llm: LLMOptions | None = None, **options: Any
) -> CounterfactualGenerator:
    """A new, unfitted generator by name, with its options checked at once.

    An unknown option, or a value the generator refuses, is a :class:`SensecfError` here,
    before any data is read. An LLM generator (``zero-shot``, ``few-shot``, ``few-shot-worked``,
    ``fine-tuned``) talks to the backend ``llm`` describes (default: the embedded model), with
    its ``repair_rounds`` and ``fallback``; ``llm_*`` options (as a config file spells them:
    ``llm_model``, ``llm_cache`` ...) refine it, and options given here win over ``llm``'s
    rounds. The backend built here is the caller's to close (``generator.backend.close()``); a
    ``backend=`` object given instead is used as it is, and ``llm`` is then ignored.
    ``fine-tuned`` serves the folder ``model_dir`` (default: ``llm.model``). A run that gives one
    ``llm`` to prompted and fine-tuned methods alike passes the prompted ones
    :meth:`LLMOptions.for_prompting` (the benchmark does).

    >>> make_generator("cfnow-greedy", limit_seconds=1)
    CFNOW(limit_seconds=1)
    >>> make_generator("dice-random", sample_size=0)
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: DiCE option sample_size must be a positive integer; got 0
    >>> make_generator("few-shot", llm=LLMOptions(repair_rounds=1)).repair_rounds
    1
    """
    return _make(name, llm, options, build_backend=True)


def check_generator(name: str, *, llm: LLMOptions | None = None, **options: Any) -> None:
    """Check a generator's name and options as :func:`make_generator` does, without building
    a backend or loading any model (what a run checks at the door, before any work).

    >>> check_generator("few-shot", shots=-1)
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: bad options for generator 'few-shot': `shots` must be an integer ≥ 0; got -1
    """
    _make(name, llm, options, build_backend=False)


def with_llm_backend(
    name: str, options: dict[str, Any], *, llm: LLMOptions | None = None
) -> dict[str, Any]:
    """An LLM generator's options with its backend built (``backend``) and its rounds filled
    in, as :func:`make_generator` would: for a run that asks many generators of one kind and
    loads the model once. The backend is the caller's to close.

    >>> options = with_llm_backend("few-shot", {"repair_rounds": 1})
    >>> sorted(options), options["backend"].name
    (['backend', 'fallback', 'repair_rounds'], 'llama-cpp')
    >>> options["backend"].close()
    """
    base, _ = split_name(name)
    if base not in LLM_GENERATORS:
        raise SensecfError(
            f"{name!r} is not an LLM generator; those are {', '.join(LLM_GENERATORS)}"
        )
    return _with_llm(base, llm, options, build_backend=True)


def _make(
    name: str, llm: LLMOptions | None, options: dict[str, Any], *, build_backend: bool
) -> CounterfactualGenerator:
    base, _ = split_name(name)
    if base not in GENERATORS:
        raise SensecfError(
            f"unknown generator {name!r}; choose from {', '.join(GENERATORS)} "
            f"(any may end in {SUFFIX!r})"
        )
    if llm is not None and not isinstance(llm, LLMOptions):
        raise SensecfError(f"llm must be an LLMOptions; got {type(llm).__name__}")
    if base in LLM_GENERATORS:
        options = _with_llm(base, llm, options, build_backend)
    try:
        generator = GENERATORS[base](**options)
        generator._validate_params()
    except SensecfError:
        raise
    except (TypeError, ValueError) as exc:  # a constructor or check refusing a value
        raise SensecfError(f"bad options for generator {base!r}: {exc}") from None
    return generator


def _with_llm(
    base: str, llm: LLMOptions | None, options: dict[str, Any], build_backend: bool
) -> dict[str, Any]:
    """An LLM generator's options with its rounds and backend filled in from ``llm``."""
    options = dict(options)
    settings = {k: options.pop(k) for k in list(options) if k.startswith(LLM_PREFIX)}
    if "backend" in options:  # a backend object given is used as it is; ``llm`` does not apply
        if settings:
            raise SensecfError(
                f"give either backend= or llm_* settings, not both: {sorted(settings)}"
            )
        return options
    llm = LLMOptions.from_settings(settings, base=llm)
    if base == "fine-tuned":
        model_dir = options.setdefault("model_dir", llm.model)
        if llm.base_url is not None or llm.backend == "openai":
            raise SensecfError(
                "a fine-tuned model folder is served locally, not from base_url",
                option="llm.base_url",
            )
        llm = replace(llm, model=model_dir)
    options = {"repair_rounds": llm.repair_rounds, "fallback": llm.fallback, **options}
    if not build_backend or (base == "fine-tuned" and llm.model is None):
        return {"backend": None, **options}  # checked without a model; fine-tuned asks a folder
    return {**options, "backend": llm.make_backend()}
