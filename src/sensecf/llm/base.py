"""The one small interface every LLM backend implements.

Chat messages, an optional JSON schema and sampling parameters go in; text, token usage and
latency come out. Backends: ``llama-cpp`` (the embedded default), ``openai`` (any compatible
endpoint) and ``transformers`` (a Hugging Face model, optionally with a PEFT adapter). Every
call can go through :class:`~sensecf.llm.cache.CachedBackend`, so a rerun makes no new calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sensecf.errors import SensecfError

Messages = list[dict[str, str]]


class LLMError(SensecfError):
    """A backend could not answer (down, timing out, refusing) after its retries were spent."""


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings; part of the cache key, so a change means new calls.

    >>> GenerationParams(temperature=0.7).as_dict()["temperature"]
    0.7
    """

    temperature: float = 0.0
    max_tokens: int = 256
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must lie in [0, 2]; got {self.temperature}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be a positive integer; got {self.max_tokens}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must lie in (0, 1]; got {self.top_p}")

    def as_dict(self) -> dict[str, Any]:
        """Plain dict, for cache keys and logs."""
        return asdict(self)


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion to make: messages, an optional JSON schema, sampling settings."""

    messages: Messages
    schema: dict[str, Any] | None = None
    params: GenerationParams = field(default_factory=GenerationParams)


@dataclass(frozen=True)
class Completion:
    """What a backend answered, with its cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False


class LLMBackend:
    """Base class. Subclasses set ``name`` and implement :meth:`_complete`.

    ``identity()`` names everything besides the request that changes an answer (backend,
    model, and e.g. an adapter): it is part of every cache key. Secrets never belong in it.
    """

    name: str = "backend"
    supports_schema: bool = False

    def identity(self) -> dict[str, Any]:
        """What, besides the request, determines an answer (for the cache key)."""
        return {"backend": self.name}

    def complete(
        self,
        messages: Messages,
        *,
        schema: dict[str, Any] | None = None,
        params: GenerationParams | None = None,
    ) -> Completion:
        """One chat completion; ``schema`` constrains the answer where the backend can."""
        return self._complete(ChatRequest(messages, schema, params or GenerationParams()))

    def complete_many(
        self,
        requests: Sequence[ChatRequest],
        *,
        on_result: Callable[[int, Completion | Exception], None] | None = None,
    ) -> list[Completion | Exception]:
        """Several completions; a backend that can run them concurrently overrides this.

        A request that fails yields its exception in its place, so one fault loses one answer.
        ``on_result(index, answer)``, when given, is called as each answer arrives (in any
        order, possibly from a worker thread), so a cache can store it before the batch ends.
        """
        out: list[Completion | Exception] = []
        for index, request in enumerate(requests):
            result: Completion | Exception
            try:
                result = self._complete(request)
            except LLMError as exc:
                result = exc
            out.append(result)
            if on_result is not None:
                on_result(index, result)
        return out

    def _complete(self, request: ChatRequest) -> Completion:
        raise NotImplementedError

    def close(self) -> None:
        """Release the model or connection (safe to call twice)."""

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
