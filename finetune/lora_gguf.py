"""A peft LoRA adapter as a GGUF adapter file that llama.cpp applies at load (`Llama(lora_path=...)`).

The tensors keep their values; only names and one layout change. llama.cpp's converter permutes the rows of the
query and key projections of llama-family models for its rotary embedding, so the same permutation applies to those
projections' lora_B (the side of the product that carries the output rows); lora_A is untouched.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gguf

from pipeline.errors import ModelUnavailable

GGUF_NAME = "adapter.gguf"
MERGED_NAME = "merged-f16.gguf"  # 16-bit: an 8-bit merge lost 2 of 16 academic questions to rounding
_REQUANTISED = {getattr(gguf.GGMLQuantizationType, n)  # stored in fewer than 8 bits
                for n in ("Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K")}
# The rotary permutation applies to these architectures' q/k projections (llama.cpp's LlamaModel.undo_permute).
_PERMUTED_ARCHS = {"llama"}


@dataclass(frozen=True)
class GgufAdapter:
    path: Path
    tensors: int
    alpha: float
    rank: int


def gguf_adapter_path(adapter_dir: Path) -> Path:
    """Where the GGUF form of a peft adapter directory lives."""
    return Path(adapter_dir) / GGUF_NAME


def is_current(adapter_dir: Path) -> bool:
    """True when the adapter's GGUF exists and is newer than its safetensors."""
    gguf_path = gguf_adapter_path(adapter_dir)
    weights = Path(adapter_dir) / "adapter_model.safetensors"
    return gguf_path.exists() and weights.exists() and gguf_path.stat().st_mtime >= weights.stat().st_mtime


def convert_adapter(adapter_dir: Path, *, base_gguf: Path, out: Path | None = None) -> GgufAdapter:
    """Write the GGUF adapter for `adapter_dir` (peft safetensors) against the base model `base_gguf`."""
    import numpy as np
    from safetensors.numpy import load_file

    adapter_dir = Path(adapter_dir)
    config_path, weights_path = adapter_dir / "adapter_config.json", adapter_dir / "adapter_model.safetensors"
    if not config_path.exists() or not weights_path.exists():
        raise ModelUnavailable("local", str(adapter_dir), "no peft adapter there (train one with askdb train)")
    config = json.loads(config_path.read_text())
    if config.get("peft_type") != "LORA" or config.get("use_dora") or config.get("use_rslora"):
        raise ModelUnavailable("local", str(adapter_dir), "only plain LoRA adapters convert to GGUF")
    base = _base_params(base_gguf)
    names = gguf.get_tensor_name_map(base["arch_enum"], base["blocks"])
    out = Path(out) if out else gguf_adapter_path(adapter_dir)
    tensors = load_file(str(weights_path))
    writer = gguf.GGUFWriter(str(out) + ".tmp", base["arch"])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    count = 0
    for name in sorted(tensors):
        if ".lora_A." not in name and ".lora_B." not in name:
            raise ModelUnavailable("local", str(adapter_dir), f"{name}: only LoRA A/B tensors convert")
        module = name.split(".lora_")[0].removeprefix("base_model.model.")
        target = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if target is None:
            raise ModelUnavailable("local", str(adapter_dir), f"{module}: no llama.cpp tensor of that name")
        data = tensors[name].astype(np.float32)
        is_b = ".lora_B." in name
        if is_b and base["arch"] in _PERMUTED_ARCHS:
            if module.endswith("q_proj"):
                data = _rope_permute(data, base["heads"])
            elif module.endswith("k_proj"):
                data = _rope_permute(data, base["kv_heads"])
        writer.add_tensor(f"{target}.lora_{'b' if is_b else 'a'}", np.ascontiguousarray(data))
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    Path(str(out) + ".tmp").replace(out)  # a half-written adapter is never loaded
    return GgufAdapter(out, count, float(config["lora_alpha"]), int(config["r"]))


def merged_model(adapter_dir: Path, *, base_gguf: Path, out: Path | None = None) -> Path:
    """The model file the llamacpp backend loads for a trained adapter (`merge_adapter`), made now when missing or
    older than the adapter."""
    adapter_dir = Path(adapter_dir)
    out = Path(out) if out else adapter_dir / MERGED_NAME
    weights = adapter_dir / "adapter_model.safetensors"
    if out.exists() and weights.exists() and out.stat().st_mtime >= weights.stat().st_mtime:
        return out
    return merge_adapter(adapter_dir, base_gguf=base_gguf, out=out)


def merge_adapter(adapter_dir: Path, *, base_gguf: Path, out: Path | None = None) -> Path:
    """The base model with the adapter's product added into its weights, as one GGUF with those matrices in 16 bits:
    the tuned model then decodes about as fast as the base (llama.cpp applying a separate LoRA costs two more
    products per matrix, which on a model this small is 1.5-3x slower). Requantising to the base's 4 bits would
    round much of the adapter's small change away, and even 8 bits (Q8_0, which also rounds the activations) cost
    make quality 2 of 16 questions on academic and 1 on scholar against transformers; 16 bits answer as transformers
    does, for about 10% more time per token."""
    import numpy as np

    adapter_dir = Path(adapter_dir)
    if not is_current(adapter_dir):
        convert_adapter(adapter_dir, base_gguf=base_gguf)
    lora = gguf.GGUFReader(str(gguf_adapter_path(adapter_dir)))
    alpha = float(lora.fields[gguf.Keys.Adapter.LORA_ALPHA].parts[-1][0])
    pairs: dict[str, dict[str, np.ndarray]] = {}
    for t in lora.tensors:
        target, _, side = t.name.rpartition(".lora_")
        pairs.setdefault(target, {})[side] = np.asarray(t.data, dtype=np.float32)
    # a: (rank, in), b: (out, rank); peft scales the product by alpha / rank
    deltas = {name: (p["b"] @ p["a"]) * (alpha / p["a"].shape[0]) for name, p in pairs.items()}
    return widened(base_gguf, Path(out) if out else adapter_dir / MERGED_NAME, deltas=deltas, bits=16)


def widened(base_gguf: Path, out: Path, *, deltas: dict | None = None, bits: int = 8) -> Path:
    """`base_gguf` with its 4- and 5-bit matrices stored in 8 bits (Q8_0) or 16 (F16), plus `deltas` (by tensor
    name), everything else copied. The same weights, rounded the same way once more: on CPUs with AVX2,
    llama.cpp reads a prompt about twice as fast from 8-bit matrices as from Q4_1, which outweighs reading twice the
    bytes per token."""
    import numpy as np

    deltas = deltas or {}
    reader = gguf.GGUFReader(str(base_gguf))
    tmp = Path(str(out) + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), reader.fields["general.architecture"].contents())
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # the writer adds these itself
        kind = field.types[0]
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = gguf.LlamaFileType.MOSTLY_F16 if bits == 16 else gguf.LlamaFileType.MOSTLY_Q8_0
        writer.add_key_value(field.name, value, kind,
                             sub_type=field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None)
    q8 = gguf.GGMLQuantizationType.Q8_0
    for t in reader.tensors:
        if t.tensor_type not in _REQUANTISED and t.name not in deltas:
            writer.add_tensor(t.name, t.data, raw_dtype=t.tensor_type)
            continue
        weight = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        if t.name in deltas:
            weight += deltas[t.name]
        if bits == 16:
            writer.add_tensor(t.name, weight.astype(np.float16))
        else:
            writer.add_tensor(t.name, gguf.quants.quantize(weight, q8), raw_dtype=q8)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)  # a half-written model is never loaded
    return out


def _rope_permute(weights, n_head: int):
    rows = weights.shape[0]
    return (weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _base_params(base_gguf: Path) -> dict:

    reader = gguf.GGUFReader(str(base_gguf))

    def field(key: str):
        f = reader.fields.get(key)
        if f is None:
            return None
        value = f.parts[f.data[0]]
        return bytes(value).decode() if f.types and f.types[0] == gguf.GGUFValueType.STRING else int(value[0])

    arch = field("general.architecture")
    arch_enum = next((k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch), None)
    if arch_enum is None:
        raise ModelUnavailable("local", str(base_gguf), f"unknown architecture {arch!r}")
    heads = field(f"{arch}.attention.head_count")
    return {"arch": arch, "arch_enum": arch_enum, "blocks": field(f"{arch}.block_count"), "heads": heads,
            "kv_heads": field(f"{arch}.attention.head_count_kv") or heads}
