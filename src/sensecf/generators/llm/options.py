"""Which language model an LLM generator talks to: one configuration for Python, YAML and the CLI.

:class:`LLMOptions` names the backend, the model, the endpoint, the call cache, the repair rounds
and whether the oracle search may serve what the model could not. The command line fills it from
its ``--llm-*`` flags, a benchmark or study config from ``llm_*`` keys of a generator's options
(:meth:`LLMOptions.from_settings`), and a notebook directly; every LLM generator is then built
from it by :func:`sensecf.generators.registry.make_generator`.

>>> LLMOptions.from_settings({"llm_backend": "openai", "llm_model": "gpt-4o-mini"}).backend
'openai'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sensecf.errors import SensecfError
from sensecf.llm.artifacts import is_finetuned_dir
from sensecf.llm.base import LLMBackend
from sensecf.llm.factory import BACKENDS, make_backend

__all__ = ["LLM_PREFIX", "LLMOptions"]

# How a generator's options in a config file spell the LLM settings (``llm_model: ...``).
LLM_PREFIX = "llm_"


@dataclass(frozen=True)
class LLMOptions:
    """The language model an LLM generator talks to, where its calls are cached, and its rounds.

    ``backend``: ``llama-cpp`` (the embedded SmolLM2-135M, or the GGUF file ``model``),
    ``openai`` (``model`` served at ``base_url``; key from ``OPENAI_API_KEY``) or
    ``transformers`` (a Hugging Face model folder). ``model`` may also be a folder written by
    ``sensecf finetune``. ``cache``: a SQLite file holding every call, so a rerun makes no new
    ones (``None``: no cache). ``repair_rounds``: further requests after an answer fails.
    ``fallback``: the oracle search serves rows the LLM could not. ``backend_options``: further
    keyword options of the backend (``batch_size``, ``concurrency``, ``device`` ...).

    >>> LLMOptions(repair_rounds=1).backend
    'llama-cpp'
    >>> LLMOptions(backend="gpt")
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: LLM backend must be one of llama-cpp, openai, transformers; got 'gpt'
    """

    backend: str = "llama-cpp"
    model: str | os.PathLike[str] | None = None
    base_url: str | None = None
    cache: str | os.PathLike[str] | None = None
    repair_rounds: int = 3
    fallback: bool = False
    backend_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SensecfError(
                f"LLM backend must be one of {', '.join(BACKENDS)}; got {self.backend!r}"
            )
        rounds = self.repair_rounds
        if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 0:
            raise SensecfError(f"repair_rounds must be an integer ≥ 0; got {rounds!r}")

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], base: LLMOptions | None = None
    ) -> LLMOptions:
        """Options from a config's ``llm_*`` keys (``llm_backend``, ``llm_model``,
        ``llm_base_url``, ``llm_cache``, any other ``llm_<option>`` of the backend) and
        ``repair_rounds``/``fallback``, over ``base`` (default: the embedded model).

        >>> LLMOptions.from_settings({"llm_batch_size": 4}).backend_options
        {'batch_size': 4}
        """
        options = base or cls()
        named = {"backend", "model", "base_url", "cache"}
        changes: dict[str, Any] = {}
        extra = dict(options.backend_options)
        for key, value in settings.items():
            if key in ("repair_rounds", "fallback"):
                changes[key] = value
            elif key.startswith(LLM_PREFIX):
                name = key[len(LLM_PREFIX) :]
                if name in named:
                    changes[name] = value
                else:
                    extra[name] = value
            else:
                raise SensecfError(
                    f"unknown LLM setting {key!r}; expected llm_backend, llm_model, llm_base_url, "
                    "llm_cache, llm_<backend option>, repair_rounds or fallback"
                )
        return replace(options, **changes, backend_options=extra)

    @property
    def finetuned(self) -> bool:
        """Whether ``model`` is a folder written by ``sensecf finetune``."""
        return self.model is not None and is_finetuned_dir(self.model)

    def for_prompting(self) -> LLMOptions:
        """The options a prompted generator uses: a fine-tuned folder speaks its own compact
        format, so prompted methods beside it run the packaged model they were written for.

        >>> LLMOptions(model=None).for_prompting().model is None
        True
        """
        return replace(self, model=None) if self.finetuned else self

    def make_backend(self) -> LLMBackend:
        """A new backend as these options describe it (behind the cache when one is named)."""
        return make_backend(
            self.backend,
            self.model,
            base_url=self.base_url,
            cache=self.cache,
            **self.backend_options,
        )
