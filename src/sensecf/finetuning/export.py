"""Merge a LoRA adapter into its base: a GGUF for llama-cpp, a Hugging Face folder for the rest.

**GGUF base** (:func:`export_gguf`). The base GGUF is rewritten: its metadata and every tensor the adapter did not touch are copied
byte for byte (the packaged model's Q4_1 blocks stay as they are), and each tensor the adapter
changed is written in float32 with the merged weights ``W + B·A·scale``. llama.cpp stores the
query and key projections with their rows permuted (rotary halves interleaved); transformers
undoes that permutation when it reads a GGUF, so it is applied again on the way back.

**Hugging Face base** (:func:`export_merged`). The adapter is merged into a fresh copy of the
base in its own full precision (bfloat16 for Llama-3.1 and BioMistral, not the 4-bit copy QLoRA
trained on) and written with ``save_pretrained``, tokenizer included: a folder the
``transformers`` backend, vLLM or llama.cpp's ``convert_hf_to_gguf.py`` take as any other. The
GGUF rewrite is for GGUF bases only: it needs the base's own GGUF to copy.

>>> gguf_tensor_name("base_model.model.model.layers.3.self_attn.q_proj")
'blk.3.attn_q.weight'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from sensecf.errors import SensecfError

_PROJECTIONS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_LAYER = re.compile(r"layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)$")


def gguf_tensor_name(module: str) -> str:
    """The GGUF tensor name of a Llama projection module's weight."""
    found = _LAYER.search(module)
    if found is None:
        raise SensecfError(f"cannot export a LoRA on module {module!r}: not a Llama projection")
    return f"blk.{found.group(1)}.{_PROJECTIONS[found.group(2)]}.weight"


def permute_rows(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's row order for a query/key projection with ``n_head`` heads.

    >>> permute_rows(np.arange(8.0)[:, None], 1).ravel().tolist()
    [0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]
    """
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def merged_tensors(peft_model: Any) -> dict[str, np.ndarray]:
    """GGUF name → merged float32 weights (llama.cpp row order) of every LoRA-adapted module."""
    from peft.tuners.lora import LoraLayer

    config = peft_model.get_base_model().config
    n_head = int(config.num_attention_heads)
    n_kv = int(getattr(config, "num_key_value_heads", None) or n_head)
    peft_model.merge_adapter()
    try:
        out: dict[str, np.ndarray] = {}
        for name, module in peft_model.named_modules():
            if not isinstance(module, LoraLayer):
                continue
            base_layer: Any = module.get_base_layer()
            weights = base_layer.weight.detach().float().cpu().numpy().copy()
            target = gguf_tensor_name(name)
            if ".attn_q." in target:
                weights = permute_rows(weights, n_head)
            elif ".attn_k." in target:
                weights = permute_rows(weights, n_kv)
            out[target] = weights.astype(np.float32)
    finally:
        peft_model.unmerge_adapter()
    return out


def export_gguf(
    peft_model: Any,
    base_gguf: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    all_float32: bool = False,
) -> Path:
    """Write ``out_path``: ``base_gguf`` with the adapter's merged tensors in float32.

    ``all_float32``: dequantise every other tensor too, so llama.cpp computes in float32 as
    transformers does on the dequantised GGUF (a larger, slower file; used to check that the
    merge itself is exact, apart from quantisation).
    """
    import gguf
    from gguf.quants import dequantize

    changed = merged_tensors(peft_model)
    reader = gguf.GGUFReader(str(base_gguf))
    names = {t.name for t in reader.tensors}
    missing = sorted(set(changed) - names)
    if missing:
        raise SensecfError(f"{base_gguf} has no tensors {missing[:3]}: not the adapter's base")
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".gguf.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    if all_float32:
        for tensor in reader.tensors:
            if tensor.name not in changed:
                changed[tensor.name] = np.asarray(
                    dequantize(tensor.data, tensor.tensor_type), dtype=np.float32
                ).reshape(tuple(int(n) for n in reversed(tensor.shape.tolist())))
    for tensor in reader.tensors:
        if tensor.name in changed:
            data = changed[tensor.name]
            expected = tuple(int(n) for n in reversed(tensor.shape.tolist()))
            if data.shape != expected:
                raise SensecfError(
                    f"merged {tensor.name} has shape {data.shape}; the base has {expected}"
                )
            writer.add_tensor_info(
                tensor.name, data.shape, data.dtype, data.nbytes, gguf.GGMLQuantizationType.F32
            )
        else:
            writer.add_tensor_info(
                tensor.name,
                tensor.data.shape,
                tensor.data.dtype,
                tensor.data.nbytes,
                tensor.tensor_type,
            )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        data = changed.get(tensor.name, tensor.data)
        writer.write_tensor_data(data, tensor_endianess=reader.endianess)
    writer.close()
    tmp.replace(out)
    return out


def export_merged(
    base: str | os.PathLike,
    adapter: str | os.PathLike,
    out_dir: str | os.PathLike,
) -> Path:
    """Write ``out_dir``: the Hugging Face ``base`` with the PEFT ``adapter`` merged in.

    The base is loaded on the CPU in its checkpoint's own dtype (float32 when it names none),
    so a QLoRA adapter is merged into full-precision weights. Written to a temporary folder
    first, then moved into place.
    """
    import shutil

    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = Path(base)
    if source.suffix == ".gguf":
        raise SensecfError(f"{base} is a GGUF file: merge into it with export_gguf")
    where = str(source) if source.exists() else str(base)
    model = AutoModelForCausalLM.from_pretrained(where, dtype="auto")
    tokenizer = AutoTokenizer.from_pretrained(where)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out
