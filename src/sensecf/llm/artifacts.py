"""What a fine-tuned model folder (FT_DIR) holds, by name, and how a backend is pointed at it.

::

    FT_DIR/
      format.json        the prompt/answer format (sensecf.generators.llm.compact)
      train_config.json  the training settings, the base model, the teacher, the data
      adapter/           the LoRA adapter (PEFT save_pretrained)
      checkpoints/       the latest training state, for resuming
      model.gguf         the merged model for llama-cpp, from a GGUF base (sensecf.finetuning.export)
      merged/            the merged model as a Hugging Face folder, from a Hugging Face base
      chat_template.jinja  the chat template the prompts were rendered with (Hugging Face base)
      pairs.parquet      the supervised pairs; loss.csv, loss.png, heldout.json, README.md

>>> gguf_path("runs/ft").name
'model.gguf'
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sensecf.errors import SensecfError

FORMAT = "format.json"
CONFIG = "train_config.json"
ADAPTER = "adapter"
CHECKPOINTS = "checkpoints"
GGUF = "model.gguf"
MERGED = "merged"
CHAT_TEMPLATE = "chat_template.jinja"
PAIRS = "pairs.parquet"
LOSS_CSV = "loss.csv"
LOSS_PNG = "loss.png"
HELDOUT = "heldout.json"
CARD = "README.md"


def is_finetuned_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder written by ``sensecf finetune`` (it holds ``format.json``)."""
    return Path(path).is_dir() and (Path(path) / FORMAT).is_file()


def gguf_path(model_dir: str | os.PathLike) -> Path:
    """The merged GGUF of a fine-tuned folder (it may not exist yet)."""
    return Path(model_dir) / GGUF


def read_config(model_dir: str | os.PathLike) -> dict[str, Any]:
    """The saved training config of a fine-tuned folder."""
    path = Path(model_dir) / CONFIG
    if not path.is_file():
        raise SensecfError(f"{model_dir} holds no {CONFIG}: not a finished fine-tune")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def backend_source(kind: str, model_dir: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The model path and extra backend options that serve a fine-tuned folder.

    ``llama-cpp``: the merged ``model.gguf``, widened to F16 weights on loading (its untouched
    tensors keep the base's Q4_1 blocks, which llama.cpp evaluates at half the speed of F16 on a
    CPU); ``transformers``: the merged Hugging Face folder ``merged/`` when there is one, else
    the base model the adapter was trained on, with ``adapter=``.
    """
    folder = Path(model_dir)
    if kind == "llama-cpp":
        path = gguf_path(folder)
        if not path.is_file():
            if (folder / MERGED).is_dir():
                raise SensecfError(
                    f"{folder} was fine-tuned from a Hugging Face base: it holds {MERGED}/, not "
                    f"{GGUF} (the GGUF export is for GGUF bases); serve it with "
                    "--llm-backend transformers"
                )
            raise SensecfError(
                f"{folder} holds no {GGUF}: the export step did not run (rerun `sensecf finetune`)"
                " or serve the adapter with --llm-backend transformers"
            )
        return path, {"weights": "f16"}
    if kind == "transformers":
        if (folder / MERGED / "config.json").is_file():
            return folder / MERGED, {}
        base = read_config(folder).get("base")
        if not base:
            raise SensecfError(f"{folder}/{CONFIG} names no base model")
        return Path(base), {"adapter": folder / ADAPTER}
    raise SensecfError(f"a fine-tuned folder is served by llama-cpp or transformers, not {kind}")
