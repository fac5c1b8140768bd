"""Fine-tuning a language model to write counterfactuals: pairs, LoRA training, GGUF export.

One concept a module:

- :mod:`~sensecf.finetuning.pairs` — supervised pairs from a teacher, split by person;
- :mod:`~sensecf.finetuning.training` — LoRA training (PEFT), checkpoints, the loss curve;
- :mod:`~sensecf.finetuning.export` — the merged model written back to a GGUF for llama-cpp;
- :mod:`~sensecf.finetuning.run` — the whole run behind ``sensecf finetune``.

What inference reads from a fine-tuned folder lives below this package, beside its users: the
compact prompt/answer format saved with the model in :mod:`sensecf.generators.llm.compact`,
and the folder's file names in :mod:`sensecf.llm.artifacts`.

The fine-tuned model serves as the ``fine-tuned`` generator
(:class:`~sensecf.generators.llm.finetuned.FineTunedGenerator`).
"""

from sensecf.finetuning.pairs import PairSet, build_pairs, split_pairs
from sensecf.finetuning.training import TrainConfig, TrainResult
from sensecf.generators.llm.compact import CompactFormat, PromptInput

__all__ = [
    "CompactFormat",
    "PairSet",
    "PromptInput",
    "TrainConfig",
    "TrainResult",
    "build_pairs",
    "split_pairs",
]
