"""Backends by name, as the command line's ``--llm-*`` options and benchmark configs give them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sensecf.errors import SensecfError
from sensecf.llm.base import LLMBackend

BACKENDS = ("llama-cpp", "openai", "transformers")


def make_backend(
    kind: str = "llama-cpp",
    model: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    cache: str | os.PathLike | None = None,
    **options: Any,
) -> LLMBackend:
    """A backend by name, wrapped in the persistent call cache when ``cache`` names a file.

    ``llama-cpp``: ``model`` is a GGUF file (default: the packaged SmolLM2-135M-Instruct).
    ``openai``: ``model`` is the served model's name, ``base_url`` the endpoint (default
    OpenAI's); the key comes from ``OPENAI_API_KEY``; ``concurrency=`` requests in flight.
    ``transformers``: ``model`` is a local Hugging Face folder or GGUF file; ``adapter=`` a PEFT
    adapter folder, ``device=``, ``dtype=``, ``batch_size=`` (see
    :class:`~sensecf.llm.transformers_backend.Transformers`). A folder written by
    ``sensecf finetune`` works with both local backends: its merged GGUF, or its base and
    adapter.

    >>> make_backend("gpt", cache=None)
    Traceback (most recent call last):
    ...
    sensecf.errors.SensecfError: unknown LLM backend 'gpt'; choose from llama-cpp, openai, transformers
    """
    if kind not in BACKENDS:
        raise SensecfError(f"unknown LLM backend {kind!r}; choose from {', '.join(BACKENDS)}")
    if base_url is not None and kind != "openai":
        raise SensecfError(f"base_url is for the openai backend, not {kind}", option="llm.base_url")
    if model is not None and kind != "openai":
        from sensecf.llm.artifacts import backend_source, is_finetuned_dir

        if is_finetuned_dir(model):  # a `sensecf finetune` folder: its GGUF, or base + adapter
            model, extra = backend_source(kind, model)
            options = {**extra, **options}
    backend: LLMBackend
    if kind == "llama-cpp":
        from sensecf.llm.llama_cpp import LlamaCpp

        backend = LlamaCpp(Path(model) if model is not None else None, **options)
    elif kind == "openai":
        from sensecf.llm.openai_backend import OpenAICompatible

        if model is None:
            raise SensecfError("the openai backend needs a model name", option="llm.model")
        backend = OpenAICompatible(str(model), base_url, **options)
    else:
        from sensecf.llm.transformers_backend import Transformers

        backend = Transformers(model, **options)
    if cache is None:
        return backend
    from sensecf.llm.cache import CachedBackend

    return CachedBackend(backend, Path(cache))
