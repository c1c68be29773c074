"""Ship a trained adapter: an Ollama directory (base GGUF + LoRA + Modelfile) and a merged model for vLLM.

    askdb export --adapter profiles/course/adapter --out dist/ollama/ --merged dist/merged/

Ollama converts a peft safetensors LoRA (adapter_model.safetensors + adapter_config.json) for llama-family
models itself when `ollama create` reads `ADAPTER ./adapter`; SmolLM2 is a llama model.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ModelUnavailable

ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")

# SmolLM2's ChatML template in Ollama's Go-template syntax, including its default system line.
CHATML_TEMPLATE = """{{- if or (not .Messages) (ne (index .Messages 0).Role "system") }}<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
{{ end }}
{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""


@dataclass(frozen=True)
class OllamaExport:
    directory: Path
    modelfile: Path
    base: Path
    adapter: Path
    create_command: str


def check_adapter(adapter_dir: Path) -> None:
    """Raise a clear error unless `adapter_dir` holds a trained adapter."""
    missing = [f for f in ADAPTER_FILES if not (adapter_dir / f).exists()]
    if missing:
        raise ModelUnavailable("local", str(adapter_dir),
                               f"missing {', '.join(missing)} (train one with: askdb train --out {adapter_dir})")


def modelfile_text(base_name: str, adapter_name: str = "adapter") -> str:
    """The Modelfile: base GGUF, LoRA adapter, ChatML template, greedy decoding that stops at end of turn."""
    return (f"FROM ./{base_name}\n"
            f"ADAPTER ./{adapter_name}\n"
            f'TEMPLATE """{CHATML_TEMPLATE}"""\n'
            'PARAMETER stop "<|im_end|>"\n'
            'PARAMETER stop "<|im_start|>"\n'
            "PARAMETER temperature 0\n")


def export_ollama(adapter_dir: Path, out_dir: Path, *, base_gguf: Path, model_name: str = "askdb-course") -> OllamaExport:
    """Write <out>/<base>.gguf (hard link, else copy), <out>/adapter/ and <out>/Modelfile."""
    check_adapter(adapter_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / base_gguf.name
    _link_or_copy(base_gguf, base)
    adapter = out_dir / "adapter"
    adapter.mkdir(exist_ok=True)
    for name in ADAPTER_FILES:
        shutil.copyfile(adapter_dir / name, adapter / name)
    modelfile = out_dir / "Modelfile"
    modelfile.write_text(modelfile_text(base.name))
    return OllamaExport(out_dir, modelfile, base, adapter, f"ollama create {model_name} -f {modelfile}")


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() and dst.stat().st_size == src.stat().st_size:
        return
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)  # 100 MB not duplicated when on the same filesystem
    except OSError:
        shutil.copyfile(src, dst)


def export_merged(adapter_dir: Path, out_dir: Path, *, base_dir: Path) -> Path:
    """A full-weight transformers directory (LoRA merged in, safetensors, tokenizer) that vLLM can serve."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_adapter(adapter_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir, safe_serialization=True)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out_dir)
    return out_dir
