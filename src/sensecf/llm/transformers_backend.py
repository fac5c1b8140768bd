"""A Hugging Face causal LM, optionally with a PEFT (LoRA) adapter, on the CPU or a GPU.

The base model is a local folder saved by ``save_pretrained``, a ``.gguf`` file (transformers
dequantises it to a normal model; needs the ``gguf`` package), or a Hub id (used from the local
Hugging Face cache or downloaded). With no model it is the packaged SmolLM2-135M-Instruct GGUF,
the base the fine-tuning step trains adapters on. The prompt is built by the tokenizer's chat
template (:func:`sensecf.llm.chat.render_chat`: a system turn the template refuses is folded
into the first user turn; a checkpoint with no template gets a documented default).

Requests run in batches (:meth:`Transformers.complete_many`): grouped by prompt length, padded
on the left, one ``generate`` per batch, ``batch_size`` rows at a time (default 16 on the CPU,
32 on a GPU, where a single sequence leaves the device idle). The batch's common prompt start
is evaluated once and read once per decoding step for all rows
(:mod:`sensecf.llm.prefix_attention`); the rows' own parts follow it in a preallocated cache,
and each row stops at its own ``max_tokens``. A request's JSON schema is
enforced while decoding (``supports_schema = True``) by a grammar matcher of its own
(llguidance, see :mod:`sensecf.llm.constrained`), so every answer parses and keeps to the
schema's ``enum`` values. Temperature 0 is greedy decoding; above 0 each row samples with its
own temperature and top_p (no top-k) from a generator seeded by its ``params.seed``, so an
answer does not depend on the other requests of its batch, and the caller's global RNG state
is never touched.

Decoding depends on the request alone: the checkpoint's own generation settings (a
``repetition_penalty``, ``num_beams``, ``top_k``) are dropped when the model loads, keeping
only its end-of-sequence, padding and start tokens. Nothing is compiled: transformers would
compile the decoding step by itself on a GPU when a static cache is passed, and every new
batch shape would compile again (minutes for a 7B model), so compilation is switched off.
A model with a sliding window (Mistral-7B v0.1, BioMistral) decodes its batches with
transformers' own cache (the preallocated, shared-prefix one is for full attention).

Defaults: ``device="auto"`` (CUDA when available, else the CPU); float32 weights on the CPU;
on a GPU the checkpoint's own dtype, or bfloat16 when it names none, float16 instead of
bfloat16 on a card without bfloat16 (T4, V100).

>>> backend = Transformers()  # nothing is loaded until the first call
>>> backend.identity()["model"]
'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from sensecf.errors import SensecfError
from sensecf.llm.base import ChatRequest, Completion, LLMBackend, LLMError
from sensecf.llm.chat import encode_chat, note_template
from sensecf.llm.models import file_digest, packaged_model_path
from sensecf.llm.prefix_attention import install as install_prefix_attention
from sensecf.llm.prefix_attention import shared_prefix as shared_prefix_attention

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_INSTALL = (
    "pip install torch transformers peft gguf llguidance  (or: pip install 'sensecf[finetune]')"
)
DEFAULT_BATCH_SIZE = {"cpu": 16, "cuda": 32}  # by device type; others take the CPU's


def _weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)


class Transformers(LLMBackend):
    """A causal LM run by ``transformers``' ``generate``, loaded on first use.

    Args:
        model: a folder, a ``.gguf`` file, or a Hub id; ``None`` means the packaged SmolLM2 GGUF.
        adapter: a folder saved by PEFT's ``save_pretrained`` (``adapter_config.json`` and
            ``adapter_model.safetensors``), applied on top of the base model.
        device: ``"auto"`` (default: CUDA when available, else the CPU), ``"cpu"``,
            ``"cuda"``, ``"cuda:1"`` or ``"mps"``.
        dtype: torch dtype name for the weights; ``None`` means float32 on the CPU, and
            elsewhere the checkpoint's own dtype, or bfloat16 when it names none (float16
            where the card has no bfloat16): :func:`default_dtype`.
        batch_size: most requests decoded together; ``None`` means
            :data:`DEFAULT_BATCH_SIZE` for the device type (16 on the CPU, 32 on CUDA).
        revision: the Hub revision, for a Hub id.
        model_kwargs: more keyword arguments for ``from_pretrained`` (e.g. a quantisation
            config); they are part of the identity.
    """

    name = "transformers"
    supports_schema = True

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        adapter: str | Path | None = None,
        device: str = "auto",
        dtype: str | None = None,
        batch_size: int | None = None,
        revision: str | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ) -> None:
        path = Path(model) if model is not None else packaged_model_path()
        self.gguf_file: str | None = None
        if path.suffix == ".gguf":
            if not path.is_file():
                raise SensecfError(f"transformers backend: GGUF model file not found: {path}")
            self.source, self.gguf_file = str(path.parent), path.name
        elif path.exists():
            if not (path / "config.json").is_file():
                raise SensecfError(
                    f"transformers backend: {path} is not a saved model folder (no config.json)"
                )
            self.source = str(path)
        else:
            self.source = str(model)  # a Hub id such as "HuggingFaceTB/SmolLM2-135M-Instruct"
        self.adapter = Path(adapter) if adapter is not None else None
        if self.adapter is not None and not (self.adapter / "adapter_config.json").is_file():
            raise SensecfError(
                f"transformers backend: {self.adapter} is not a PEFT adapter folder "
                "(no adapter_config.json)"
            )
        if batch_size is not None and (
            not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
        ):
            raise SensecfError(
                f"transformers backend: batch_size must be a positive integer or None; "
                f"got {batch_size!r}"
            )
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.revision = revision
        self.model_kwargs = dict(model_kwargs or {})
        self._model: Any = None
        self._tokenizer: Any = None
        self._identity: dict[str, Any] | None = None
        self._grammars_: Any = None  # llguidance's view of the tokenizer, built on first schema
        # The batch size used when batch_size is None; set for the device when the model loads.
        self.default_batch_size_ = DEFAULT_BATCH_SIZE["cpu"]
        self._lock = threading.Lock()  # one generate at a time: the model is shared state

    # -- identity ---------------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """Base model name and content hash, adapter folder name and hash; no absolute paths.

        Hashing reads the weights once per instance (about 1 s per 500 MB).
        """
        if self._identity is None:
            ident: dict[str, Any] = {"backend": self.name}
            source = Path(self.source)
            if self.gguf_file is not None:
                gguf = source / self.gguf_file
                ident["model"] = self.gguf_file
                ident["model_sha256"] = file_digest(gguf)
            elif source.is_dir():
                ident["model"] = source.name
                ident["model_sha256"] = file_digest(source / "config.json", *_weight_files(source))
            else:
                ident["model"] = self.source
                ident["revision"] = self.revision or "main"
            if self.adapter is not None:
                weights = _weight_files(self.adapter)
                ident["adapter"] = self.adapter.name
                ident["adapter_sha256"] = file_digest(
                    self.adapter / "adapter_config.json", *weights
                )
            if self.model_kwargs:
                ident["model_kwargs"] = {k: str(v) for k, v in sorted(self.model_kwargs.items())}
            self._identity = ident
        return dict(self._identity)

    # -- loading ----------------------------------------------------------------------------

    def _torch_device(self) -> str:
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return self.device

    def _load(self) -> tuple[Any, Any]:
        if self._model is not None:
            return self._model, self._tokenizer
        try:
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise SensecfError(f"the transformers backend needs: {_INSTALL}") from exc
        device = self._torch_device()
        common: dict[str, Any] = {"revision": self.revision} if self.revision else {}
        if self.gguf_file is not None:
            common["gguf_file"] = self.gguf_file
        where = self.gguf_file or self.source
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.source, **common)
            config = AutoConfig.from_pretrained(self.source, **common)
            dtype = getattr(torch, self.dtype) if self.dtype else None
            if dtype is None:
                dtype = default_dtype(device, _checkpoint_dtype(config))
            # A PEFT wrapper may replace it below: both are torch modules.
            model: torch.nn.Module = AutoModelForCausalLM.from_pretrained(
                self.source, config=config, dtype=dtype, **common, **self.model_kwargs
            )
        except (OSError, ValueError) as exc:
            raise SensecfError(f"transformers backend: could not load {where}: {exc}") from exc
        install_prefix_attention(model)
        if self.adapter is not None:
            try:
                from peft import PeftModel
            except ImportError as exc:
                raise SensecfError(f"a PEFT adapter needs peft: {_INSTALL}") from exc
            try:
                model = PeftModel.from_pretrained(model, str(self.adapter))
            except (OSError, ValueError, RuntimeError) as exc:
                raise SensecfError(
                    f"transformers backend: could not apply the adapter {self.adapter} to "
                    f"{where}: {exc}"
                ) from exc
        note_template(tokenizer, f"the tokenizer of {where}")
        _plain_generation_config(_base_model(model))
        if not {"device_map", "quantization_config"} & set(self.model_kwargs):
            model.to(device)  # a quantised or device-mapped model is already placed
        model.eval()
        kind = next(model.parameters()).device.type
        self.default_batch_size_ = DEFAULT_BATCH_SIZE.get(kind, DEFAULT_BATCH_SIZE["cpu"])
        self._model, self._tokenizer = model, tokenizer
        return model, tokenizer

    # -- generation -------------------------------------------------------------------------

    def _complete(self, request: ChatRequest) -> Completion:
        [answer] = self._run([request], None)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def complete_many(
        self,
        requests: Sequence[ChatRequest],
        *,
        on_result: Callable[[int, Completion | Exception], None] | None = None,
    ) -> list[Completion | Exception]:
        """All requests in batches of ``batch_size``, grouped by prompt length.

        Requests are sorted by prompt length, padded on the left and decoded by one
        ``generate`` per batch; each row keeps its own schema, ``max_tokens``, temperature,
        top_p and seed, so an answer is the one :meth:`complete` gives for that request alone
        (greedy: equal up to floating-point ties). ``on_result(index, answer)`` is called for
        each answer as its batch ends. A prompt that does not fit the context yields an
        :class:`~sensecf.llm.base.LLMError` in its place; the others are answered.
        """
        return self._run(list(requests), on_result)

    def _run(
        self,
        requests: list[ChatRequest],
        on_result: Callable[[int, Completion | Exception], None] | None,
    ) -> list[Completion | Exception]:
        results: list[Completion | Exception | None] = [None] * len(requests)

        def deliver(index: int, answer: Completion | Exception) -> None:
            results[index] = answer
            if on_result is not None:
                on_result(index, answer)

        with self._lock:
            model, tokenizer = self._load()
            limit = getattr(model.config, "max_position_embeddings", None)
            encoded: dict[int, list[int]] = {}
            matchers: dict[int, Any] = {}
            for index, request in enumerate(requests):
                ids = self._encode(tokenizer, request)
                n_tokens = len(ids) + request.params.max_tokens
                if limit is not None and n_tokens > limit:
                    deliver(
                        index,
                        LLMError(
                            f"transformers: the prompt ({len(ids)} tokens) plus max_tokens "
                            f"({request.params.max_tokens}) exceeds the model's context of "
                            f"{limit} tokens; shorten the prompt or lower max_tokens"
                        ),
                    )
                    continue
                try:
                    matchers[index] = self._matcher(model, tokenizer, request.schema)
                except SensecfError as exc:
                    deliver(index, LLMError(f"transformers: {exc}"))
                    continue
                encoded[index] = ids
            size = self.batch_size or self.default_batch_size_
            for batch in _batches(encoded, size):
                answers = self._generate(model, tokenizer, batch, encoded, matchers, requests)
                for index, answer in zip(batch, answers, strict=True):
                    deliver(index, answer)
        return cast("list[Completion | Exception]", results)

    @staticmethod
    def _encode(tokenizer: Any, request: ChatRequest) -> list[int]:
        return encode_chat(tokenizer, request.messages)

    def _generate(
        self,
        model: Any,
        tokenizer: Any,
        batch: list[int],
        encoded: dict[int, list[int]],
        matchers: dict[int, Any],
        requests: list[ChatRequest],
    ) -> list[Completion | Exception]:
        """One ``generate`` for the requests ``batch`` (indexes), padded on the left."""
        import torch
        from transformers import LogitsProcessorList

        from sensecf.llm.constrained import RowControl, RowSettings

        device = next(model.parameters()).device
        budgets = [requests[i].params.max_tokens for i in batch]
        config = self._generation_config(model, tokenizer, max(budgets))
        eos = _eos_ids(config)
        prompts = [encoded[i] for i in batch]
        # The prompts' common start (a generator's shared system message) is evaluated once;
        # each row's own part follows it, padded on the left (see _prefilled).
        shared = shared_prefix(prompts) if len(batch) > 1 else 0
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        width = shared + max(len(p) - shared for p in prompts)
        ids = torch.full((len(batch), width), config.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        rows: list[RowSettings] = []
        for row, index in enumerate(batch):
            prompt = encoded[index]
            ids[row, :shared] = torch.tensor(prompt[:shared], dtype=torch.long)
            attention[row, :shared] = 1
            ids[row, width - len(prompt) + shared :] = torch.tensor(
                prompt[shared:], dtype=torch.long
            )
            attention[row, width - len(prompt) + shared :] = 1
            params = requests[index].params
            rows.append(
                RowSettings(
                    matchers.get(index),
                    params.temperature,
                    params.top_p,
                    params.seed,
                    max_tokens=params.max_tokens,
                )
            )
        vocab = self._grammars_.vocab_size if self._grammars_ is not None else 0
        control = RowControl(rows, width, eos, device, vocab_size=vocab)
        start = time.perf_counter()
        try:
            with torch.inference_mode():
                length = width + config.max_new_tokens
                cache = self._prefilled(model, prompts, shared, width, length)
                with shared_prefix_attention(model, shared if cache is not None else 0):
                    output = model.generate(
                        input_ids=ids.to(device),
                        attention_mask=attention.to(device),
                        generation_config=config,
                        logits_processor=LogitsProcessorList([control] if control.needed else []),
                        **({} if cache is None else {_cache_keyword(model): cache}),
                    )
        except RuntimeError as exc:  # the rest of the run goes on
            memory = "out of memory" in str(exc).lower()
            hint = "; a smaller batch_size may help" if memory else ""
            return [
                LLMError(
                    f"transformers: generate failed for a batch of {len(batch)} on {device} "
                    f"({exc}){hint}"
                )
                for _ in batch
            ]
        share = (time.perf_counter() - start) / len(batch)
        answers: list[Completion | Exception] = []
        for row, index in enumerate(batch):
            new = output[row, width:].tolist()[: requests[index].params.max_tokens]
            ends = [k for k, token in enumerate(new) if token in eos]
            new = new[: ends[0] + 1] if ends else new
            answers.append(
                Completion(
                    text=tokenizer.decode(new, skip_special_tokens=True),
                    prompt_tokens=len(encoded[index]),
                    completion_tokens=len(new),
                    seconds=share,
                )
            )
        return answers

    @staticmethod
    def _prefilled(
        model: Any, prompts: list[list[int]], shared: int, width: int, length: int
    ) -> Any:
        """A preallocated cache of ``length`` positions holding every prompt but its last token,
        laid out as the left-padded batch is (the ``shared`` common start first, each row's own
        part ending at ``width - 1``); ``None`` where the model's cache layout does not allow it.

        The common start is evaluated once; the own parts in groups of similar length
        (:func:`length_groups`): padding them all to the longest (117 to 279 tokens in a batch
        of 16 few-shot prompts) would spend 40% of the prompt work on padding, evaluating them
        one by one leaves the matrix products too small to be efficient. Preallocated because
        the default cache grows by concatenation, and at 16 rows of ~900 positions copying it
        every decoding step took longer than the model's matrix products.
        """
        import torch
        from transformers import DynamicCache, StaticCache

        cache: Any = StaticCache(config=model.config, max_cache_len=length)
        layers = getattr(cache, "layers", None)  # per-layer caches: transformers 4.56 and later
        if not layers or any(
            getattr(layer, "is_sliding", False) or not hasattr(layer, "lazy_initialization")
            for layer in layers
        ):
            return None
        device = next(model.parameters()).device
        keyword = _cache_keyword(model)
        named = inspect.signature(_base_model(model).forward).parameters
        # Only the cache is wanted: skip the output projection of every prompt token.
        keep = {"logits_to_keep": 1} if "logits_to_keep" in named else {}

        def allocate(evaluated: Any) -> None:
            """Size the cache after an evaluated one; copy the common start into every row."""
            for layer, done in zip(layers, evaluated.layers, strict=True):
                keys, values = done.keys[:1], done.values[:1]
                shape = (len(prompts), *keys.shape[1:])
                layer.lazy_initialization(keys.expand(shape), values.expand(shape))
                layer.keys[:, :, :shared] = keys[:, :, :shared]
                layer.values[:, :, :shared] = values[:, :, :shared]

        start: Any = DynamicCache(config=model.config)
        if shared:
            ids = torch.tensor([prompts[0][:shared]], dtype=torch.long, device=device)
            model(input_ids=ids, use_cache=True, **keep, **{keyword: start})
            allocate(start)
        owns = [prompt[shared:-1] for prompt in prompts]
        for group in length_groups([len(own) for own in owns]):
            longest = max(len(owns[row]) for row in group)
            if longest == 0:
                continue
            ids = torch.zeros((len(group), longest), dtype=torch.long)
            attention = torch.zeros((len(group), shared + longest), dtype=torch.long)
            attention[:, :shared] = 1
            for j, row in enumerate(group):
                n = len(owns[row])
                if n:
                    ids[j, longest - n :] = torch.tensor(owns[row], dtype=torch.long)
                    attention[j, shared + longest - n :] = 1
            positions = (attention.cumsum(-1) - 1).clamp(min=0)[:, shared:]
            running: Any = DynamicCache(config=model.config)
            for index, layer in enumerate(start.layers if shared else []):
                shape = (len(group), *layer.keys.shape[1:])
                running.update(layer.keys.expand(shape), layer.values.expand(shape), index)
            model(
                input_ids=ids.to(device),
                attention_mask=attention.to(device),
                position_ids=positions.to(device),
                use_cache=True,
                **keep,
                **{keyword: running},
            )
            if not layers[0].is_initialized:
                allocate(running)
            for layer, done in zip(layers, running.layers, strict=True):
                for j, row in enumerate(group):
                    n = len(owns[row])
                    if n:  # the row's own part ends just before its last prompt token
                        taken = slice(shared + longest - n, shared + longest)
                        layer.keys[row, :, width - 1 - n : width - 1] = done.keys[j, :, taken]
                        layer.values[row, :, width - 1 - n : width - 1] = done.values[j, :, taken]
        if layers[0].is_initialized:  # else one-token prompts: generate evaluates them itself
            for layer in layers:
                layer.cumulative_length.fill_(width - 1)
        return cache

    def _matcher(self, model: Any, tokenizer: Any, schema: dict[str, Any] | None) -> Any:
        """A fresh grammar matcher for ``schema``, or None without one."""
        if schema is None:
            return None
        if self._grammars_ is None:
            from sensecf.llm.constrained import Grammars

            config = self._generation_config(model, tokenizer, 1)
            self._grammars_ = Grammars(tokenizer, _eos_ids(config))
        return self._grammars_.matcher(schema)

    @staticmethod
    def _generation_config(model: Any, tokenizer: Any, max_tokens: int) -> Any:
        from transformers import GenerationConfig

        base = getattr(model, "generation_config", None) or GenerationConfig()
        eos = base.eos_token_id if base.eos_token_id is not None else tokenizer.eos_token_id
        first_eos = eos[0] if isinstance(eos, list) else eos
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else first_eos
        # The answer depends on GenerationParams alone: generate fills what this config leaves
        # unset from the model's own config, which _plain_generation_config emptied at loading.
        # Always greedy: sampling is done per row by RowControl (Gumbel noise from the row's own
        # seed), so a batch can mix settings. Never compiled (see the module).
        return GenerationConfig(
            max_new_tokens=max_tokens,
            eos_token_id=eos,
            pad_token_id=pad,
            bos_token_id=base.bos_token_id,
            do_sample=False,
            num_beams=1,
            repetition_penalty=1.0,
            disable_compile=True,
        )

    def close(self) -> None:
        """Drop the model (safe to call twice; a later call loads it again)."""
        with self._lock:
            self._model = None
            self._tokenizer = None
            self._grammars_ = None


def default_dtype(device: str, checkpoint_dtype: str | None, *, bf16: bool | None = None) -> Any:
    """The weights' dtype when none is asked for: float32 on the CPU; elsewhere the
    checkpoint's own, or bfloat16 when it names none (half the memory, the GPU's fast path);
    float16 in place of bfloat16 on a card without it (``bf16``: whether the card has it;
    ``None`` asks torch about the current CUDA device).

    >>> default_dtype("cpu", "bfloat16"), default_dtype("cuda", None, bf16=True)
    (torch.float32, torch.bfloat16)
    >>> default_dtype("cuda:1", "bfloat16", bf16=False), default_dtype("cuda", "float32", bf16=True)
    (torch.float16, torch.float32)
    """
    import torch

    if device == "cpu":
        return torch.float32
    wanted = getattr(torch, checkpoint_dtype) if checkpoint_dtype else torch.bfloat16
    if wanted == torch.bfloat16 and not (supports_bf16() if bf16 is None else bf16):
        return torch.float16
    return wanted


def supports_bf16() -> bool:
    """Whether the current CUDA device computes in bfloat16 (Ampere and later; not T4/V100)."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def _plain_generation_config(model: Any) -> None:
    """Keep only the token ids of ``model``'s generation config.

    ``generate`` fills every setting its config leaves unset from the model's own, so a
    checkpoint's ``repetition_penalty`` or ``num_beams`` would change greedy answers.
    """
    from transformers import GenerationConfig

    own = getattr(model, "generation_config", None)
    if own is None:
        return
    model.generation_config = GenerationConfig(
        bos_token_id=own.bos_token_id,
        eos_token_id=own.eos_token_id,
        pad_token_id=own.pad_token_id,
    )


def _checkpoint_dtype(config: Any) -> str | None:
    """The dtype a checkpoint's config names, if any (``dtype``; ``torch_dtype`` before
    transformers 5, read only there since reading it later warns)."""
    value = config.dtype if hasattr(config, "dtype") else getattr(config, "torch_dtype", None)
    return None if value is None else str(value).removeprefix("torch.")


def _base_model(model: Any) -> Any:
    """The transformers model under a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _cache_keyword(model: Any) -> str:
    """The name the model's forward takes a cache under (transformers 5 renamed
    ``past_key_values`` to ``cache``)."""
    named = inspect.signature(_base_model(model).forward).parameters
    return "cache" if "cache" in named else "past_key_values"


def _eos_ids(config: Any) -> list[int]:
    """The generation config's end-of-answer token ids, as a list."""
    eos = config.eos_token_id
    return [int(t) for t in eos] if isinstance(eos, list) else [int(eos)]


# Shorter common starts are not worth a separate forward pass.
MIN_SHARED_PREFIX = 16


def shared_prefix(prompts: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all ``prompts`` share, leaving each at least one of its own.

    >>> shared_prefix([[1, 2, 3, 4], [1, 2, 3, 9, 9], [1, 2, 5]]), shared_prefix([[1, 2], [1, 2]])
    (2, 1)
    """
    if not prompts:
        return 0
    first = prompts[0]
    limit = min(len(p) for p in prompts) - 1
    n = 0
    while n < limit and all(p[n] == first[n] for p in prompts):
        n += 1
    return n


# Own parts are grouped while padding wastes at most this share of a group's work.
GROUP_PADDING = 0.15
GROUP_ROWS = 8


def length_groups(lengths: Sequence[int]) -> list[list[int]]:
    """Consecutive row indexes grouped so that padding each group to its longest wastes at
    most :data:`GROUP_PADDING` of it, :data:`GROUP_ROWS` rows at most (``lengths`` ascending).

    >>> length_groups([117, 118, 121, 144, 162, 172, 279])
    [[0, 1, 2, 3], [4, 5], [6]]
    """
    groups: list[list[int]] = []
    for row, n in enumerate(lengths):
        if groups:
            group = groups[-1]
            members = [lengths[r] for r in group] + [n]
            padded = max(members) * len(members)
            if len(group) < GROUP_ROWS and padded - sum(members) <= GROUP_PADDING * padded:
                group.append(row)
                continue
        groups.append([row])
    return groups


def _batches(encoded: dict[int, list[int]], size: int) -> list[list[int]]:
    """Request indexes in batches of at most ``size``, of similar prompt lengths.

    Sorting by prompt length keeps the left padding (wasted work) of each batch small. Rows of
    one batch may differ in ``max_tokens``: each is ended at its own budget, so the batch
    decodes together (a batch per budget would repeat the shared prefix and the decode loop).

    >>> _batches({0: [1] * 9, 1: [1] * 2, 2: [1] * 5, 3: [1] * 3}, 2)
    [[1, 3], [2, 0]]
    """
    ordered = sorted(encoded, key=lambda i: (len(encoded[i]), i))
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]
