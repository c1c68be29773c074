"""askdb train: LoRA-fine-tune the SQL model on generated pairs (and feedback corrections)."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.linking import load_linker

from ..config import active_profile, cache_dir
from ..runtime import open_app, visible_schema
from .common import add_common, config_from

log = logging.getLogger("askdb")


def register(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a LoRA adapter on question/SQL pairs")
    p.add_argument("--data", metavar="JSONL", help="generated pairs (default: the profile's samples.jsonl)")
    p.add_argument("--corrections", metavar="JSONL", help="feedback corrections; weighted higher than --data")
    p.add_argument("--base", help="base model: bundled, a .gguf or a transformers directory (default: model.source)")
    p.add_argument("--out", help="adapter directory (default: model.adapter, else the profile's adapter/)")
    p.add_argument("--epochs", type=int, help="passes over the data (default: train.epochs)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--seed", type=int, help="seed for the split, the order and LoRA init (default: train.seed)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoints/last.pt")
    p.add_argument("--from-adapter", metavar="DIR", help="start from this trained adapter instead of a fresh LoRA")
    add_common(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.console import Console

    from finetune.dataset import data_sha256
    from finetune.train import train

    cfg = config_from(args)
    overrides = {k: v for k, v in (("epochs", args.epochs), ("max_steps", args.max_steps), ("seed", args.seed))
                 if v is not None}
    for key, value in overrides.items():
        if value < (1 if key == "epochs" else 0):
            raise ConfigError(f"--{key.replace('_', '-')}", f"must be positive, got {value}")
    settings = train_settings(cfg, **overrides)
    data = args.data or str(active_profile(cfg).samples)
    if not Path(data).exists():
        raise ConfigError("--data", f"{data} does not exist (run `askdb generate` or `askdb setup` first)")
    files = [Path(data)] + ([Path(args.corrections)] if args.corrections else [])
    pairs = training_pairs(files, repeat=settings.correction_repeat)
    if not pairs:
        raise ConfigError("--data", f"{data} holds no question/SQL pairs")
    schema, label, linker, today = asyncio.run(_training_schema(cfg, args.database, link=settings.link_weight > 0))
    other = sorted({p.db for p in pairs if p.db and p.db != label})
    if other:
        log.warning("pairs are labelled for database %s but training introspects %s", ", ".join(other), label)
    console = Console(stderr=True)
    train(pairs, schema, out_dir=Path(args.out or cfg.model.adapter or active_profile(cfg).adapter), settings=settings,
          base_source=args.base or cfg.model.source, cache_root=cache_dir(cfg), today=today,
          budget_tokens=cfg.sql.prompt_token_budget, data_sha=data_sha256(files), resume=args.resume,
          init_adapter=_adapter_dir(args.from_adapter) or starting_adapter(cfg, settings), console=console,
          linker=linker)
    return 0


def starting_adapter(cfg, settings) -> Path | None:
    """The adapter `train.start_from` names (another profile's), or None for a fresh LoRA: when it is unset, names
    the profile being trained (a retrain starts clean), or that profile has no adapter yet."""
    from ..profile import load_profile

    name = settings.start_from
    if not name or name == cfg.profile:
        return None
    source = load_profile(cfg.paths.profiles, name)  # a ConfigError names a bad profile name
    if not source.trained():
        log.warning("train.start_from: profile %s has no trained adapter; starting from a fresh LoRA", name)
        return None
    return source.adapter


def train_settings(cfg, **overrides):
    """finetune's TrainSettings from config's train section, with `overrides`."""
    from finetune.train import TrainSettings

    return TrainSettings(**{**dataclasses.asdict(cfg.train), "target_modules": tuple(cfg.train.target_modules),
                            **overrides})


def training_pairs(files: list[Path], *, repeat: int) -> list:
    """The pairs of `files`: generated pairs first, then (if given) corrections, each counted `repeat` times."""
    from finetune.dataset import merge_pairs, read_pairs

    return merge_pairs(read_pairs(files[0]), read_pairs(files[1], source="corrections") if len(files) > 1 else [],
                       repeat=repeat)


async def _training_schema(cfg, database: str | None, *, link: bool = False):
    """The schema exactly as the runtime pipeline shows it to the model (denied columns removed), its label and,
    with `link`, a schema linker for the training prompts' retrieval; and its date (runtime.clock)."""
    async with open_app(cfg, database=database, with_model=False) as app:
        schema = visible_schema(cfg, app.schema)
        linker = await load_linker(app.pool, schema) if link else None
        return schema, cfg.profile, linker, app.today()


def _adapter_dir(path: str | None) -> Path | None:
    if path is None:
        return None
    if not Path(path, "adapter_config.json").exists():
        raise ConfigError("--from-adapter", f"no trained adapter in {path} (adapter_config.json is missing)")
    return Path(path)
