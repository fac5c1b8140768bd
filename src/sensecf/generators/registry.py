"""Generators by name, as the command line and benchmark configs spell them.

``zero-shot``, ``few-shot`` (LLM), ``fine-tuned`` (a ``sensecf finetune`` folder, given as
``model_dir`` or ``llm_model``), ``nearest-example`` (the few-shot examples, no LLM),
``oracle``, ``dice-random``, ``cfnow-greedy``,
``nice-sparsity`` and so on; any name may end in ``+sparsify`` to report the method after the
sparsify post-step as well.

>>> make_generator("oracle", max_changes=2).max_changes
2
>>> split_name("dice-random+sparsify")
('dice-random', True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sensecf.errors import SensecfError
from sensecf.generators.base import CounterfactualGenerator
from sensecf.generators.sparsify import SUFFIX

if TYPE_CHECKING:  # the packages load only when a generator is made
    from sensecf.generators.cfnow import Strategy
    from sensecf.generators.dice import Method
    from sensecf.generators.llm.generator import Examples
    from sensecf.generators.nice import Optimization


def _finetuned(**options: Any) -> CounterfactualGenerator:
    from sensecf.generators.llm.finetuned import make_finetuned

    return make_finetuned(**options)


def _oracle(**options: Any) -> CounterfactualGenerator:
    from sensecf.generators.oracle import Oracle

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
    """LLM generator options; ``llm_backend``, ``llm_model``, ``llm_base_url`` and ``llm_cache``
    choose the backend (default: the embedded model), unless a ``backend`` object is given."""

    def make(**options: Any) -> CounterfactualGenerator:
        from sensecf.generators.llm import LLMGenerator
        from sensecf.llm.factory import make_backend

        settings = {k[len("llm_") :]: options.pop(k) for k in list(options) if k.startswith("llm_")}
        backend = options.pop("backend", None)
        if backend is None:
            kind = settings.pop("backend", None) or "llama-cpp"
            backend = make_backend(kind, **settings)
        elif settings:
            raise SensecfError(
                f"give either backend= or llm_* settings, not both: {sorted(settings)}"
            )
        options.setdefault("shots", shots)
        return LLMGenerator(backend, examples=examples, **options)

    return make


GENERATORS: dict[str, Callable[..., CounterfactualGenerator]] = {
    "zero-shot": _llm(0, "nearest"),
    "few-shot": _llm(3, "nearest"),
    "few-shot-worked": _llm(3, "worked"),
    "fine-tuned": _finetuned,
    "oracle": _oracle,
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
    name for name in GENERATORS if name not in ("oracle", "nearest-example", *LLM_GENERATORS)
)


def split_name(name: str) -> tuple[str, bool]:
    """The base generator name, and whether ``+sparsify`` was asked for."""
    name = name.strip()
    if name.endswith(SUFFIX):
        return name[: -len(SUFFIX)], True
    return name, False


def make_generator(name: str, **options: Any) -> CounterfactualGenerator:
    """A new, unfitted generator by name, with its options checked at once.

    An unknown option, or a value the generator refuses, is a :class:`SensecfError` here,
    before any data is read.

    >>> make_generator("cfnow-greedy", limit_seconds=1)
    CFNOW(limit_seconds=1)
    >>> make_generator("dice-random", sample_size=0)
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: DiCE option sample_size must be a positive integer; got 0
    """
    base, _ = split_name(name)
    if base not in GENERATORS:
        raise SensecfError(
            f"unknown generator {name!r}; choose from {', '.join(GENERATORS)} "
            f"(any may end in {SUFFIX!r})"
        )
    try:
        generator = GENERATORS[base](**options)
        generator._validate_params()
    except SensecfError:
        raise
    except (TypeError, ValueError) as exc:  # a constructor or check refusing a value
        raise SensecfError(f"bad options for generator {base!r}: {exc}") from None
    return generator
