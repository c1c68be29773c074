"""askdb export: the trained adapter as an Ollama model directory and a merged transformers model."""
from __future__ import annotations

from pathlib import Path

from ..config import active_profile, cache_dir
from .common import add_common, config_from


def register(sub) -> None:
    p = sub.add_parser("export", help="write an Ollama Modelfile directory and a merged model for vLLM")
    p.add_argument("--adapter", help="trained LoRA directory (default: model.adapter, else the profile's adapter/)")
    p.add_argument("--out", default="dist/ollama", help="Ollama directory (default: dist/ollama/)")
    p.add_argument("--merged", default="dist/merged", help="merged full-weight directory (default: dist/merged/)")
    p.add_argument("--no-merged", action="store_true", help="skip the merged model")
    p.add_argument("--name", help="the Ollama model name (default: model.ollama.model)")
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from finetune.export import check_adapter, export_merged, export_ollama
    from pipeline.models.bundled import merged_base_dir, resolve_source

    cfg = config_from(args)
    adapter = Path(args.adapter or cfg.model.adapter or active_profile(cfg).adapter)
    check_adapter(adapter)
    source = resolve_source(cfg.model.source)
    done = None
    if source.is_dir():
        print(f"model.source {source} is not a GGUF file: skipping the Ollama directory (the merged model works)")
    else:
        done = export_ollama(adapter, Path(args.out), base_gguf=source,
                             model_name=args.name or cfg.model.ollama.model)
        print(f"Ollama: {done.modelfile} (base {done.base.name}, adapter {done.adapter}/)")
    if not args.no_merged:
        base_dir = merged_base_dir(cfg.model.source, cache_root=cache_dir(cfg))
        merged = export_merged(adapter, Path(args.merged), base_dir=base_dir)
        print(f"Merged model for vLLM: {merged}/  (vllm serve {merged} --served-model-name {cfg.model.openai.model})")
    if done is not None:
        print(done.create_command)
    return 0
