"""Any OpenAI-compatible chat endpoint: OpenAI itself, vLLM, Ollama, a llama.cpp server.

This is the path to scale: one server answers many prompts at once, and :meth:`complete_many`
keeps ``concurrency`` requests in flight (a thread pool; a semaphore holds the bound even when
several batches run at once). Retries are done here, not by the ``openai`` client (whose own
retries are off), so they are counted and tested: 429, 408, 409, 5xx, connection errors,
timeouts and malformed bodies are retried with exponential backoff and jitter from a seeded RNG,
honouring ``Retry-After`` (up to ``max_backoff`` seconds); then an :class:`LLMError` names the
backend, the URL and what to check. Other 4xx answers fail at once.

Structured output: ``schema_mode="json_schema"`` sends the schema as a strict
``response_format`` (OpenAI, vLLM); a server that rejects that (HTTP 400/422, or a 500 naming
``response_format``) is asked again with ``json_object_schema`` — llama.cpp's own form,
``{"type": "json_object", "schema": ...}``, which llama-cpp-python's server takes and enforces
as a grammar — then with plain ``json_object`` (JSON mode, schema not sent) and then with no
format. The first mode that works is remembered by the backend for the rest of the run (with a
warning in the log); any mode can also be chosen from the start.

Keys come from the environment variable ``api_key_env`` and never reach logs, errors or
``identity()``. A local server with no key set gets the placeholder key ``"sk-no-key-required"``
(vLLM, Ollama and llama.cpp's server accept any key unless started with one); OpenAI itself
(no ``base_url``) without a key is an error.

>>> backend = OpenAICompatible("qwen2.5-7b", base_url="http://127.0.0.1:8000/v1")
>>> backend.identity()["base_url"]
'http://127.0.0.1:8000/v1'
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timezone
from typing import Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from sensecf.errors import SensecfError
from sensecf.llm.base import ChatRequest, Completion, LLMBackend, LLMError

log = logging.getLogger(__name__)

SchemaMode = Literal["json_schema", "json_object_schema", "json_object", "none"]
# Tried in this order when a server refuses one; the first two send (and enforce) the schema.
_MODES: tuple[SchemaMode, ...] = ("json_schema", "json_object_schema", "json_object", "none")
_ENFORCING: tuple[SchemaMode, ...] = ("json_schema", "json_object_schema")
OPENAI_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "sk-no-key-required"
_RETRY_STATUS = {408, 409, 429}


class _Retryable(Exception):
    """A transient fault: worth another attempt after a pause."""

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class _FormatRejected(Exception):
    """The server answered 400/422 to a request that carried a response_format."""


def _public_url(url: str) -> str:
    """The URL without user info (``user:pass@``), for messages and cache keys."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a server asked us to wait (``retry-after-ms`` or ``Retry-After``), if any.

    >>> retry_after_seconds({"retry-after": "2"})
    2.0
    >>> retry_after_seconds({"retry-after-ms": "250"})
    0.25
    >>> retry_after_seconds({}) is None
    True
    """
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            pass
        if name == "retry-after":  # an HTTP date
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    return None


class OpenAICompatible(LLMBackend):
    """A chat model behind an OpenAI-compatible HTTP API.

    Args:
        model: the model name the server knows (``gpt-4o-mini``, the vLLM ``--served-model-name``).
        base_url: the API root, usually ending in ``/v1``; ``None`` means OpenAI.
        api_key_env: environment variable holding the key.
        timeout: seconds per HTTP attempt.
        max_retries: further attempts after the first, for transient faults.
        concurrency: most requests in flight at once.
        schema_mode: how a JSON schema is sent: ``json_schema`` (strict structured output),
            ``json_object_schema`` (``{"type": "json_object", "schema": ...}``, llama.cpp's
            server), ``json_object`` (JSON mode, schema not sent) or ``none``; a refused mode
            falls back to the next one in that order.
        backoff_base: first backoff in seconds; it doubles per attempt, with jitter.
        max_backoff: longest pause between attempts, ``Retry-After`` included.
        retry_seed: seeds the jitter, so a run's pauses are reproducible.
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 4,
        concurrency: int = 8,
        schema_mode: SchemaMode = "json_schema",
        backoff_base: float = 1.0,
        max_backoff: float = 60.0,
        retry_seed: int = 0,
    ) -> None:
        if not model:
            raise SensecfError("openai backend: a model name is required")
        if schema_mode not in _MODES:
            raise SensecfError(
                f"openai backend: schema_mode must be one of {', '.join(_MODES)}; got {schema_mode!r}"
            )
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise SensecfError(
                "openai backend: concurrency must be >= 1, max_retries >= 0 and timeout > 0; got "
                f"concurrency={concurrency}, max_retries={max_retries}, timeout={timeout}"
            )
        self.model = model
        self.base_url = base_url
        self.url = _public_url(base_url or OPENAI_URL)
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.max_retries = max_retries
        self.concurrency = concurrency
        self.schema_mode: SchemaMode = schema_mode
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.supports_schema = schema_mode in _ENFORCING
        self._mode: SchemaMode = schema_mode  # downgraded when the server rejects a format
        self._rng = random.Random(retry_seed)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._client: Any = None
        self._key: str | None = None
        self.attempts = 0  # HTTP attempts made
        self.retries = 0  # attempts that were retries of a transient fault
        self.failures = 0  # requests given up on

    def identity(self) -> dict[str, Any]:
        """Backend, model, endpoint (without credentials) and the configured schema mode."""
        return {
            "backend": self.name,
            "model": self.model,
            "base_url": self.url,
            "schema_mode": self.schema_mode,
        }

    def stats(self) -> dict[str, Any]:
        """Attempts, retries and failures so far, and the schema mode now in use."""
        with self._lock:
            return {
                "attempts": self.attempts,
                "retries": self.retries,
                "failures": self.failures,
                "schema_mode": self._mode,
            }

    # -- the client -------------------------------------------------------------------------

    def _get_client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    import openai
                except ImportError as exc:
                    raise SensecfError(
                        "the openai backend needs the openai package: pip install openai  "
                        "(or: pip install 'sensecf[llm]')"
                    ) from exc
                key = os.environ.get(self.api_key_env)
                if not key:
                    if self.base_url is None:
                        raise LLMError(
                            f"openai backend: {self.api_key_env} is not set; export your OpenAI "
                            "key, or pass base_url= to use a local OpenAI-compatible server"
                        )
                    key = PLACEHOLDER_KEY
                self._key = key
                self._client = openai.OpenAI(
                    api_key=key, base_url=self.base_url, timeout=self.timeout, max_retries=0
                )
            return self._client

    def _redact(self, text: str) -> str:
        key = self._key
        if key and key != PLACEHOLDER_KEY:
            text = text.replace(key, "[redacted]")
        return text[:500]

    # -- one request ------------------------------------------------------------------------

    def _response_format(self, schema: dict[str, Any] | None, mode: SchemaMode) -> Any:
        if schema is None or mode == "none":
            return None
        if mode == "json_object":
            return {"type": "json_object"}
        if mode == "json_object_schema":
            return {"type": "json_object", "schema": schema}
        return {
            "type": "json_schema",
            "json_schema": {"name": "counterfactual", "schema": schema, "strict": True},
        }

    def _complete(self, request: ChatRequest) -> Completion:
        client = self._get_client()
        with self._lock:
            mode = self._mode
        failed = 0
        while True:
            response_format = self._response_format(request.schema, mode)
            try:
                completion = self._attempt(client, request, response_format)
            except _FormatRejected as exc:
                later = _MODES[_MODES.index(mode) + 1 :]
                if not later:
                    raise LLMError(
                        f"openai backend: {self.url} rejected the request for model "
                        f"{self.model!r}: {exc}"
                    ) from None
                log.warning(
                    "openai backend: %s rejected response_format %s (%s); trying %s",
                    self.url,
                    mode,
                    exc,
                    later[0],
                )
                mode = later[0]
                continue
            except _Retryable as exc:
                failed += 1
                if failed > self.max_retries:
                    with self._lock:
                        self.failures += 1
                    raise LLMError(
                        f"openai backend: no answer from {self.url} (model {self.model!r}) after "
                        f"{failed} attempt(s); last error: {exc}. Is the server running and "
                        f"reachable? Is {self.api_key_env} set and valid?"
                    ) from None
                pause = self._pause(failed, exc.retry_after)
                with self._lock:
                    self.retries += 1
                log.info(
                    "openai backend: %s from %s; retry %d of %d in %.2f s",
                    exc,
                    self.url,
                    failed,
                    self.max_retries,
                    pause,
                )
                time.sleep(pause)
                continue
            if mode != self._mode and request.schema is not None:
                with self._lock:
                    if _MODES.index(mode) > _MODES.index(self._mode):
                        log.warning(
                            "openai backend: %s takes response_format %s; using it from now on",
                            self.url,
                            mode,
                        )
                        self._mode = mode
                        self.supports_schema = mode in _ENFORCING
            return completion

    def _pause(self, failed: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``failed + 1``: the server's word, else backoff."""
        if retry_after is not None:
            return min(retry_after, self.max_backoff)
        with self._lock:
            jitter = self._rng.random()
        delay = min(self.max_backoff, self.backoff_base * 2 ** (failed - 1))
        return delay * (0.5 + 0.5 * jitter)  # "equal jitter": spreads clients, keeps a floor

    def _attempt(self, client: Any, request: ChatRequest, response_format: Any) -> Completion:
        import openai

        params = request.params
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
            "seed": params.seed,
        }
        if response_format is not None:
            kwargs["response_format"] = response_format
        with self._slots:  # held for the HTTP call only, not for backoff pauses
            with self._lock:
                self.attempts += 1
            start = time.perf_counter()
            try:
                response = client.chat.completions.create(**kwargs)
            except openai.APITimeoutError:
                raise _Retryable(f"timed out after {self.timeout:g} s") from None
            except openai.APIConnectionError as exc:
                cause = exc.__cause__
                detail = f" ({type(cause).__name__})" if cause is not None else ""
                raise _Retryable(f"connection error{detail}") from None
            except openai.APIStatusError as exc:
                raise self._status_error(exc, response_format) from None
            except ValueError as exc:  # a 200 whose body is not JSON
                raise _Retryable(f"malformed response body ({type(exc).__name__})") from None
            seconds = time.perf_counter() - start
        return self._parse(response, seconds)

    def _status_error(self, exc: Any, response_format: Any) -> Exception:
        status = int(exc.status_code)
        message = self._redact(str(getattr(exc, "message", "") or ""))
        if status == 500 and response_format is not None and "response_format" in message:
            # llama-cpp-python's server reports a response_format it does not take as a 500
            # validation error: a rejected format, not a fault worth retrying.
            return _FormatRejected(f"HTTP {status}: {message}")
        if status in _RETRY_STATUS or status >= 500:
            return _Retryable(
                f"HTTP {status}: {message}", retry_after_seconds(exc.response.headers)
            )
        if status in (401, 403):
            # The body may quote (part of) the key: leave it out.
            return LLMError(
                f"openai backend: {self.url} refused the credentials (HTTP {status}); check that "
                f"{self.api_key_env} holds a valid key for model {self.model!r}"
            )
        if status == 404:
            return LLMError(
                f"openai backend: {self.url} answered HTTP 404 for model {self.model!r}: {message}. "
                "Check the model name and the base URL (it usually ends in /v1)"
            )
        if status in (400, 422) and response_format is not None:
            return _FormatRejected(f"HTTP {status}: {message}")
        return LLMError(
            f"openai backend: {self.url} rejected the request for model {self.model!r} "
            f"(HTTP {status}): {message}"
        )

    @staticmethod
    def _parse(response: Any, seconds: float) -> Completion:
        """Text and usage from a chat completion; a body of another shape is a transient fault."""
        try:
            message = response.choices[0].message
            text = message.content
        except (AttributeError, IndexError, TypeError, KeyError):
            raise _Retryable(f"malformed response body: {str(response)[:80]!r}") from None
        usage = getattr(response, "usage", None)
        return Completion(
            text=text if isinstance(text, str) else "",
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            seconds=seconds,
        )

    # -- many requests ----------------------------------------------------------------------

    def complete_many(
        self,
        requests: Sequence[ChatRequest],
        *,
        on_result: Callable[[int, Completion | Exception], None] | None = None,
    ) -> list[Completion | Exception]:
        """All requests, ``concurrency`` at a time, answers in request order.

        A request that fails for good yields its :class:`LLMError` in its slot.
        """
        results: list[Completion | Exception | None] = [None] * len(requests)
        if not requests:
            return []

        def run(index: int) -> None:
            result: Completion | Exception
            try:
                result = self._complete(requests[index])
            except LLMError as exc:
                result = exc
            results[index] = result
            if on_result is not None:
                on_result(index, result)

        pool = ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(requests)), thread_name_prefix="sensecf-openai"
        )
        try:
            for future in as_completed([pool.submit(run, i) for i in range(len(requests))]):
                future.result()  # an unexpected error (a bug, a failing callback) stops the batch
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return cast("list[Completion | Exception]", results)

    def close(self) -> None:
        """Close the HTTP connections (safe to call twice)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
