"""A Hugging Face causal LM, optionally with a PEFT (LoRA) adapter, on the CPU or a GPU.

The base model is a local folder saved by ``save_pretrained``, a ``.gguf`` file (transformers
dequantises it to a normal model; needs the ``gguf`` package), or a Hub id (used from the local
Hugging Face cache or downloaded). With no model it is the packaged SmolLM2-135M-Instruct GGUF,
the base the fine-tuning step trains adapters on. The prompt is built by the tokenizer's chat
template.

The decoder does not enforce a JSON schema here (``supports_schema = False``): the caller's
parser and checks handle the answer. Temperature 0 is greedy decoding; above 0 it samples with
the given temperature and top_p (no top-k), seeded from ``params.seed`` inside
``torch.random.fork_rng`` so the caller's global RNG state is left as it was.

>>> backend = Transformers()  # nothing is loaded until the first call
>>> backend.identity()["model"]
'SmolLM2-135M-Instruct.Q4_1.gguf'
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sensecf.errors import SensecfError
from sensecf.llm.base import ChatRequest, Completion, LLMBackend, LLMError
from sensecf.llm.models import file_digest, packaged_model_path

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_INSTALL = "pip install torch transformers peft gguf  (or: pip install 'sensecf[finetune]')"


def _weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)


class Transformers(LLMBackend):
    """A causal LM run by ``transformers``' ``generate``, loaded on first use.

    Args:
        model: a folder, a ``.gguf`` file, or a Hub id; ``None`` means the packaged SmolLM2 GGUF.
        adapter: a folder saved by PEFT's ``save_pretrained`` (``adapter_config.json`` and
            ``adapter_model.safetensors``), applied on top of the base model.
        device: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``, ``"mps"``, or ``"auto"`` (CUDA
            when available, else the CPU).
        dtype: torch dtype name for the weights; ``None`` means float32 on the CPU and the
            checkpoint's own dtype elsewhere.
        revision: the Hub revision, for a Hub id.
        model_kwargs: more keyword arguments for ``from_pretrained`` (e.g. a quantisation
            config); they are part of the identity.
    """

    name = "transformers"
    supports_schema = False

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        adapter: str | Path | None = None,
        device: str = "cpu",
        dtype: str | None = None,
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
        self.device = device
        self.dtype = dtype
        self.revision = revision
        self.model_kwargs = dict(model_kwargs or {})
        self._model: Any = None
        self._tokenizer: Any = None
        self._identity: dict[str, Any] | None = None
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
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise SensecfError(f"the transformers backend needs: {_INSTALL}") from exc
        device = self._torch_device()
        dtype: Any = getattr(torch, self.dtype) if self.dtype else None
        if dtype is None:
            dtype = torch.float32 if device == "cpu" else "auto"
        common: dict[str, Any] = {"revision": self.revision} if self.revision else {}
        if self.gguf_file is not None:
            common["gguf_file"] = self.gguf_file
        where = self.gguf_file or self.source
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.source, **common)
            model = AutoModelForCausalLM.from_pretrained(
                self.source, dtype=dtype, **common, **self.model_kwargs
            )
        except (OSError, ValueError) as exc:
            raise SensecfError(f"transformers backend: could not load {where}: {exc}") from exc
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
        if not getattr(tokenizer, "chat_template", None):
            raise SensecfError(
                f"transformers backend: the tokenizer of {where} has no chat template; "
                "use an instruct/chat model or save a tokenizer with one"
            )
        if not {"device_map", "quantization_config"} & set(self.model_kwargs):
            model.to(device)  # a quantised or device-mapped model is already placed
        model.eval()
        self._model, self._tokenizer = model, tokenizer
        return model, tokenizer

    # -- generation -------------------------------------------------------------------------

    def _complete(self, request: ChatRequest) -> Completion:
        import torch

        params = request.params
        with self._lock:
            model, tokenizer = self._load()
            prompt = tokenizer.apply_chat_template(
                request.messages, tokenize=False, add_generation_prompt=True
            )
            device = next(model.parameters()).device
            # The template already holds the special tokens: adding BOS again would double it.
            encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(device)
            n_prompt = int(encoded["input_ids"].shape[1])
            limit = getattr(model.config, "max_position_embeddings", None)
            if limit is not None and n_prompt + params.max_tokens > limit:
                raise LLMError(
                    f"transformers: the prompt ({n_prompt} tokens) plus max_tokens "
                    f"({params.max_tokens}) exceeds the model's context of {limit} tokens; "
                    "shorten the prompt or lower max_tokens"
                )
            config = self._generation_config(model, tokenizer, params)
            devices = [device.index or 0] if device.type == "cuda" else []
            start = time.perf_counter()
            with torch.random.fork_rng(devices=devices), torch.inference_mode():
                torch.manual_seed(params.seed)
                output = model.generate(**encoded, generation_config=config)
            seconds = time.perf_counter() - start
        new_tokens = output[0, n_prompt:]
        return Completion(
            text=tokenizer.decode(new_tokens, skip_special_tokens=True),
            prompt_tokens=n_prompt,
            completion_tokens=int(new_tokens.shape[0]),
            seconds=seconds,
        )

    @staticmethod
    def _generation_config(model: Any, tokenizer: Any, params: Any) -> Any:
        from transformers import GenerationConfig

        base = getattr(model, "generation_config", None) or GenerationConfig()
        eos = base.eos_token_id if base.eos_token_id is not None else tokenizer.eos_token_id
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        # A fresh config, so checkpoint defaults (top_k=50, a repetition penalty) cannot creep in:
        # the answer depends on GenerationParams alone.
        settings: dict[str, Any] = {
            "max_new_tokens": params.max_tokens,
            "eos_token_id": eos,
            "pad_token_id": pad,
            "bos_token_id": base.bos_token_id,
        }
        if params.temperature > 0:
            settings.update(
                do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0
            )
        else:
            settings.update(do_sample=False)
        return GenerationConfig(**settings)

    def close(self) -> None:
        """Drop the model (safe to call twice; a later call loads it again)."""
        with self._lock:
            self._model = None
            self._tokenizer = None
