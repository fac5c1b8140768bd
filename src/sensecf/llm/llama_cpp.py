"""The embedded default backend: a GGUF model run on the CPU by llama-cpp-python.

With no model path it runs the packaged SmolLM2-135M-Instruct (see :mod:`sensecf.llm.models`);
any other GGUF works too (a fine-tuned export, a Llama-3.1-8B quant). A JSON schema becomes a
grammar, so the decoder can only write answers the grammar admits: ``enum`` is enforced,
``minimum``/``maximum`` are not, and a schema llama.cpp cannot translate falls back (inside
llama-cpp-python, silently) to "any JSON object" — the caller's checks catch what it misses.

Sampling is exactly what :class:`~sensecf.llm.base.GenerationParams` says: temperature and top_p
(llama.cpp's extra top-k and min-p filters are switched off), and ``seed`` seeds the sampler, so a
seed and temperature give the same answer on every run. Temperature 0 is greedy.

An answer schema (an object of ``enum`` features, see
:mod:`~sensecf.llm.answer_grammar`) becomes an exact grammar of its own, in the compact layout,
bounds on the number of keys included; any other schema goes through llama-cpp-python's
converter.

Weights: the packaged model's file is 4-bit (Q4_1), which llama.cpp evaluates slowly on an
x86 CPU (no fast matrix kernel for that type); by default it is widened to F16 when loaded — the
same numbers, written wider (a second of conversion into a temporary file, about 260 MB of
memory). Measured on 2 AVX2 cores: prompt evaluation 190 → 410 tokens/s, decoding 13 → 21 ms a
token; a request is mostly prompt, so each person is about twice as fast. ``weights="file"``
keeps the file as it is (the default for any other model).

Context policy: a prompt that does not fit ``n_ctx`` raises :class:`~sensecf.llm.base.LLMError`
(never truncated: cutting a prompt would silently drop features or examples); when prompt plus
``max_tokens`` overflows, llama.cpp shortens the answer to what fits.

>>> backend = LlamaCpp()  # nothing is loaded until the first call
>>> backend.identity()["model"]
'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import ctypes
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

from sensecf.errors import SensecfError
from sensecf.llm.answer_grammar import answer_rules, to_gbnf
from sensecf.llm.base import ChatRequest, Completion, LLMBackend, LLMError
from sensecf.llm.models import file_digest, packaged_model_path


def default_threads() -> int:
    """Threads for llama.cpp: the usable cores, less one kept free when there are several.

    llama.cpp's workers spin while they wait for each other, so one more busy process on the
    machine (the caller's own work, a test runner) can slow an all-cores run tenfold: measured
    on 2 cores under load, 2 threads gave 2-4 tokens/s where 1 thread gave 8-31.
    """
    return max(1, _cores() - 1)


def _widened(llama_cpp: Any, source: Path, target: Path, verbose: bool) -> Path:
    """``source`` rewritten with F16 weights at ``target`` (llama.cpp's own converter)."""
    from llama_cpp._utils import suppress_stdout_stderr

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_F16
    params.allow_requantize = True  # widening: every value is kept exactly
    params.nthread = _cores()
    with suppress_stdout_stderr(disable=verbose):
        status = llama_cpp.llama_model_quantize(
            str(source).encode(), str(target).encode(), ctypes.byref(params)
        )
    if status != 0 or not target.is_file():
        raise SensecfError(
            f"llama-cpp: could not widen {source.name} to F16 (status {status}); "
            "pass weights='file' to run it as stored"
        )
    return target


def _cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class LlamaCpp(LLMBackend):
    """A GGUF chat model run by llama-cpp-python, loaded on first use.

    Args:
        model_path: a ``.gguf`` file; ``None`` means the packaged SmolLM2-135M-Instruct.
        weights: ``"f16"`` widens the weights to F16 on loading (fast prompt evaluation on a
            CPU, see the module doc); ``"file"`` runs them as stored. ``None``: ``"f16"`` for
            the packaged model, ``"file"`` for any other.
        n_ctx: context window in tokens (prompt plus answer).
        n_threads: CPU threads for decoding (one token at a time); ``None`` means
            :func:`default_threads`.
        n_threads_batch: CPU threads for evaluating a prompt (many tokens at once, where more
            threads pay); ``None`` means every usable core.
        verbose: let llama.cpp print its loading and timing chatter to stderr.
    """

    name = "llama-cpp"
    supports_schema = True

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_threads_batch: int | None = None,
        weights: Literal["f16", "file"] | None = None,
        verbose: bool = False,
    ) -> None:
        path = Path(model_path) if model_path is not None else packaged_model_path()
        if weights is None:
            weights = "f16" if model_path is None else "file"
        if weights not in ("f16", "file"):
            raise SensecfError(f"llama-cpp: weights must be 'f16' or 'file'; got {weights!r}")
        self.weights = weights
        if not path.is_file():
            raise SensecfError(f"llama-cpp: GGUF model file not found: {path}")
        if n_ctx < 256:
            # llama.cpp pads the context to a multiple of 256 and llama-cpp-python 0.3.36 then
            # breaks on prompts longer than a smaller n_ctx (a numpy broadcast error).
            raise SensecfError(f"llama-cpp: n_ctx must be at least 256 tokens; got {n_ctx}")
        self.model_path = path
        self.n_ctx = n_ctx
        for label, value in (("n_threads", n_threads), ("n_threads_batch", n_threads_batch)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise SensecfError(f"llama-cpp: {label} must be a positive integer; got {value!r}")
        self.n_threads = n_threads if n_threads is not None else default_threads()
        self.n_threads_batch = n_threads_batch if n_threads_batch is not None else _cores()
        self.verbose = verbose
        self._llm: Any = None
        self._identity: dict[str, Any] | None = None
        # A llama.cpp context holds one sequence at a time: calls from threads take turns.
        self._lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        """Backend, model file name, size and content hash.

        No machine-specific path, so a cache travels between machines; the hash keeps two
        fine-tuned exports of the same name and size apart.
        """
        if self._identity is None:
            self._identity = {
                "backend": self.name,
                "model": self.model_path.name,
                "model_bytes": self.model_path.stat().st_size,
                "model_sha256": file_digest(self.model_path),
            }
            if self.weights == "f16":  # other numbers than the file's: other answers
                self._identity["weights"] = "f16"
        return dict(self._identity)

    def _model(self) -> Any:
        if self._llm is None:
            try:
                import llama_cpp
            except ImportError as exc:
                raise SensecfError(
                    "the llama-cpp backend needs llama-cpp-python: "
                    "pip install llama-cpp-python  (or: pip install 'sensecf[llm]')"
                ) from exc
            if self.weights == "file":
                self._llm = self._load(llama_cpp, self.model_path, mapped=True)
            else:
                with tempfile.TemporaryDirectory(prefix="sensecf-gguf-") as folder:
                    wide = _widened(
                        llama_cpp, self.model_path, Path(folder) / "f16.gguf", self.verbose
                    )
                    # Read into memory (no mapping), so the temporary copy can go at once.
                    self._llm = self._load(llama_cpp, wide, mapped=False)
        return self._llm

    def _load(self, llama_cpp: Any, path: Path, *, mapped: bool) -> Any:
        try:
            return llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads_batch,
                use_mmap=mapped,
                seed=0,
                verbose=self.verbose,
            )
        except ValueError as exc:  # llama-cpp-python's "Failed to load model from file"
            raise SensecfError(
                f"llama-cpp: could not load {self.model_path} as a GGUF model ({exc})"
            ) from exc

    def _complete(self, request: ChatRequest) -> Completion:
        params = request.params
        kwargs: dict[str, Any] = {
            "messages": request.messages,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "top_k": 0,
            "min_p": 0.0,
            "max_tokens": params.max_tokens,
            "seed": params.seed,
        }
        with self._lock:
            llm = self._model()
            if request.schema is not None:
                rules = answer_rules(request.schema)
                if rules is None:
                    kwargs["response_format"] = {"type": "json_object", "schema": request.schema}
                else:
                    from llama_cpp.llama_grammar import LlamaGrammar

                    kwargs["grammar"] = LlamaGrammar.from_string(to_gbnf(rules), verbose=False)
            start = time.perf_counter()
            try:
                response = llm.create_chat_completion(**kwargs)
            except ValueError as exc:
                if "exceed context window" in str(exc):
                    raise LLMError(
                        f"llama-cpp: the prompt does not fit the context window of {self.n_ctx} "
                        f"tokens of {self.model_path.name} ({exc}); shorten the prompt (fewer "
                        "features or examples) or pass a larger n_ctx"
                    ) from exc
                raise
            seconds = time.perf_counter() - start
        usage = response.get("usage") or {}
        return Completion(
            text=response["choices"][0]["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
        )

    def close(self) -> None:
        """Free the model (safe to call twice; a later call loads it again)."""
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None
