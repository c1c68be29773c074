"""LoRA fine-tuning of the SQL model on question/SQL pairs, on CPU or one GPU, resumable and deterministic.

    askdb train --data profiles/course/samples.jsonl --out profiles/course/adapter

A compact plain-torch loop: prompts come from the runtime's builder (finetune.dataset), each batch
computes the schema text it shares once, the best adapter by validation loss is kept in --out.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from pipeline.errors import ConfigError
from pipeline.models.bundled import load_weights
from pipeline.schema import Schema

from .settings import TrainSettings  # noqa: F401 - re-exported: callers import it from here
from .dataset import (FIT_STEPS, Pair, TrainExample, collate, fit_pair, length_batches, limit_pairs,
                      retrieved_examples, split_holdout)

log = logging.getLogger("askdb.train")


@dataclass
class _State:
    """Everything a checkpoint restores besides weights and optimizer."""
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_val: float = math.inf
    best_step: int = 0
    bad_evals: int = 0
    tokens: int = 0
    elapsed_s: float = 0.0
    train_losses: list = field(default_factory=list)  # [step, loss]
    val_losses: list = field(default_factory=list)  # [step, loss]


def build_lora_config(s: TrainSettings):
    """The peft LoRA configuration for a causal LM."""
    from peft import LoraConfig

    return LoraConfig(r=s.lora_r, lora_alpha=s.lora_alpha, lora_dropout=s.lora_dropout,
                      target_modules=list(s.target_modules), bias="none", task_type="CAUSAL_LM")


def encode_all(tokenizer, pairs: Sequence[Pair], schema: Schema, *, today: dt.date, budget_tokens: int,
               max_tokens: int, examples: Sequence[tuple] | None = None,
               fit: dict | None = None) -> list[TrainExample]:
    """Tokenized examples (with their retrieved few-shot examples) cut to `max_tokens` (dataset.fit_pair); `fit`
    counts how each pair fitted, "too_long" those dropped."""
    examples = examples or [()] * len(pairs)
    fit = fit if fit is not None else {}
    kept = []
    for p, ex in zip(pairs, examples):
        encoded, how = fit_pair(tokenizer, p, schema, today=today, budget_tokens=budget_tokens, max_tokens=max_tokens,
                                examples=ex)
        fit[how] = fit.get(how, 0) + 1
        if encoded is not None:
            kept.append(encoded)
    if fit.get("too_long"):
        log.warning("dropped %d pairs longer than %d tokens even with the schema cut down", fit["too_long"], max_tokens)
    return kept


def example_store(pairs: Sequence[Pair], cache_root: Path, *, match: str = "question", linker=None,
                  link_weight: float = 0.0, adapt: bool = False):
    """The runtime's retrieval store over the training file's pairs (same embedder, same dedupe, same linking)."""
    from pipeline.prompt import Example
    from pipeline.retrieval import ExampleStore, MiniLMEmbedder

    # A follow-up is no example: 'top 5 instead' answers nothing without the turn before it.
    unique = list(dict.fromkeys(Example(p.question, p.sql) for p in pairs if not p.previous))
    return ExampleStore(unique, embedder=MiniLMEmbedder.bundled(), cache_dir=cache_root, match=match,
                        linker=linker, link_weight=link_weight, adapt=adapt)


def batch_loss(model, batch: Sequence[TrainExample], pad_id: int):
    """(summed loss over SQL tokens, number of SQL tokens) for one batch."""
    prefix_ids, ids, labels, mask = (t.to(model.device) for t in collate(batch, pad_id))
    causal_lm = model.get_base_model()  # LoRA layers are injected in place; call its parts directly
    return _rest_loss(causal_lm, _prefix_kv(causal_lm, prefix_ids), ids, labels, mask)


def accumulate_gradients(model, batch: Sequence[TrainExample], pad_id: int, *, micro_batch: int, bf16: bool):
    """Backward of the batch's mean SQL-token loss: the shared prefix once, the rest in micro-batches.

    Memory then scales with the micro-batch while the prefix is still paid once per batch."""
    import torch

    prefix_ids, ids, labels, mask = (t.to(model.device) for t in collate(batch, pad_id))
    causal_lm = model.get_base_model()
    n_target = max(int((labels[:, 1:] != -100).sum()), 1)
    with _autocast(model, bf16):
        kv = _prefix_kv(causal_lm, prefix_ids)
    # Each micro-batch differentiates w.r.t. detached copies of the prefix keys/values; their gradients are
    # summed and sent through the prefix graph once at the end.
    leaves = [tuple(t.detach().requires_grad_(t.requires_grad) for t in pair) for pair in kv]
    total = 0.0
    step = micro_batch if micro_batch > 0 else len(ids)
    for i in range(0, len(ids), step):
        with _autocast(model, bf16):
            loss_sum, _ = _rest_loss(causal_lm, leaves, ids[i:i + step], labels[i:i + step], mask[i:i + step])
        (loss_sum / n_target).backward()
        total += float(loss_sum)
    # (Layer 0's keys do not depend on LoRA when k_proj carries none: those need no gradient.)
    pairs = [(t, leaf) for kv_pair, leaf_pair in zip(kv, leaves) for t, leaf in zip(kv_pair, leaf_pair)
             if t.requires_grad and leaf.grad is not None]
    if pairs:
        torch.autograd.backward([t for t, _ in pairs], [leaf.grad for _, leaf in pairs])
    return total, n_target


def _prefix_kv(causal_lm, prefix_ids) -> list:
    """Per-layer (keys, values) of the shared prompt prefix (batch of one), or [] when there is none."""
    if not prefix_ids.shape[1]:
        return []
    cache = causal_lm.model(input_ids=prefix_ids, use_cache=True).past_key_values
    return [(layer.keys, layer.values) for layer in cache.layers]


def _rest_loss(causal_lm, kv: list, ids, labels, mask):
    """Loss of the rows' remaining tokens, attending to the prefix keys/values `kv` shared by every row."""
    import torch
    import torch.nn.functional as F
    from transformers import DynamicCache

    n, width = ids.shape
    if kv:
        p = kv[0][0].shape[2]
        cache = DynamicCache(ddp_cache_data=[(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in kv])
        attn = torch.cat([torch.ones((n, p), dtype=mask.dtype, device=ids.device), mask], dim=1)
        pos = torch.arange(p, p + width, device=ids.device).unsqueeze(0).expand(n, -1)
        hidden = causal_lm.model(input_ids=ids, attention_mask=attn, position_ids=pos, past_key_values=cache,
                                 use_cache=True).last_hidden_state
    else:
        hidden = causal_lm.model(input_ids=ids, attention_mask=mask).last_hidden_state
    target = labels[:, 1:]
    keep = target != -100
    # Vocabulary logits only where there is a label: the 49k-wide head is the largest activation.
    logits = causal_lm.lm_head(hidden[:, :-1][keep]).float()
    return F.cross_entropy(logits, target[keep], reduction="sum"), int(keep.sum())


def validation_loss(model, examples: Sequence[TrainExample], pad_id: int, batch_size: int, *,
                    bf16: bool = False) -> float:
    """Mean loss per SQL token over `examples` (dropout off)."""
    import torch

    if not examples:
        return math.nan
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    with torch.no_grad(), _autocast(model, bf16):
        for i in range(0, len(order), batch_size):
            loss, n = batch_loss(model, [examples[j] for j in order[i:i + batch_size]], pad_id)
            total, count = total + float(loss), count + n
    model.train()
    return total / max(count, 1)


def _autocast(model, bf16: bool):
    import contextlib

    import torch

    if bf16:
        return torch.autocast(model.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def cpu_has_bf16() -> bool:
    """True on CPUs that compute bf16 natively (elsewhere autocast would emulate it, slower than fp32)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def save_adapter(model, out_dir: Path, *, base_label: str) -> None:
    """adapter_model.safetensors (fp16: half the size, no measurable loss) and adapter_config.json."""
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").half().contiguous() for k, v in get_peft_model_state_dict(model).items()}
    tmp = out_dir / "adapter_model.safetensors.tmp"
    save_file(state, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, out_dir / "adapter_model.safetensors")
    config = dataclasses.replace(model.peft_config["default"], base_model_name_or_path=base_label,
                                 inference_mode=True)
    config.save_pretrained(str(out_dir))


def _save_checkpoint(path: Path, model, optimizer, scheduler, state: _State, fingerprint: dict) -> None:
    import torch
    from peft.utils import get_peft_model_state_dict

    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"lora": get_peft_model_state_dict(model), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "state": dataclasses.asdict(state),
            "rng": torch.get_rng_state(), "fingerprint": fingerprint}
    if torch.cuda.is_available():
        blob["cuda_rng"] = torch.cuda.get_rng_state_all()
    tmp = path.with_suffix(".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)  # an interrupt mid-save leaves the previous checkpoint intact


def _load_checkpoint(path: Path, model, optimizer, scheduler, fingerprint: dict) -> _State:
    import torch
    from peft.utils import set_peft_model_state_dict

    blob = torch.load(path, map_location=model.device, weights_only=False)
    if blob["fingerprint"] != fingerprint:
        changed = sorted(k for k in fingerprint if blob["fingerprint"].get(k) != fingerprint[k])
        raise ConfigError("--resume", f"the checkpoint in {path.parent} was made with different {', '.join(changed)}; "
                                      "start again without --resume")
    set_peft_model_state_dict(model, blob["lora"])
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"].cpu())
    if "cuda_rng" in blob and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(blob["cuda_rng"])
    return _State(**blob["state"])


def release_free_memory() -> None:
    """Return freed heap pages to the OS (glibc only; elsewhere a no-op).

    Activations of different lengths fragment glibc's arenas, so without this the resident set creeps up
    step after step well past what one step needs."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train(pairs: Sequence[Pair], schema: Schema, *, out_dir: Path, settings: TrainSettings, base_source: str,
          cache_root: Path, today: dt.date, budget_tokens: int, data_sha: str = "", resume: bool = False,
          init_adapter: Path | None = None, console=None, linker=None) -> dict:
    """Train a LoRA adapter on `pairs`; the best one by validation loss ends up in `out_dir`. Returns the report.
    `linker` (pipeline.linking) re-ranks the training prompts' examples when settings.link_weight > 0."""
    import torch
    from peft import get_peft_model

    started = time.perf_counter()
    if settings.threads > 0:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batch_size = settings.cuda_batch_size if device == "cuda" else settings.batch_size
    bf16 = device == "cuda" or (settings.cpu_bf16 and cpu_has_bf16())
    loaded = load_weights(base_source, cache_root=cache_root, device=device, dtype="float32")
    tok = loaded.tokenizer
    train_pairs, val_pairs = split_holdout(pairs, settings.val_fraction, seed=settings.seed)
    train_pairs = limit_pairs(train_pairs, settings.max_pairs, seed=settings.seed, by_shape=settings.sample_by_shape)
    val_pairs = limit_pairs(val_pairs, max(1, settings.max_pairs // 10) if settings.max_pairs else 0, seed=settings.seed,
                            by_shape=settings.sample_by_shape)
    # Every pair serves as a retrievable example, also those not trained on: the runtime's store holds them all.
    store = example_store(pairs, cache_root, match=settings.retrieve_by, linker=linker,
                          link_weight=settings.link_weight, adapt=settings.adapt_examples) if settings.few_shot_k > 0 else None
    shots = dict(k=settings.few_shot_k, pool=settings.few_shot_pool, seed=settings.seed, today=today)
    fit = dict.fromkeys((*FIT_STEPS, "too_long"), 0)
    train_ex = encode_all(tok, train_pairs, schema, today=today, budget_tokens=budget_tokens, fit=fit,
                          max_tokens=settings.max_seq_tokens, examples=retrieved_examples(train_pairs, store, **shots))
    val_ex = encode_all(tok, val_pairs, schema, today=today, budget_tokens=budget_tokens, fit=fit,
                        max_tokens=settings.max_seq_tokens, examples=retrieved_examples(val_pairs, store, **shots))
    if not train_ex:
        raise ConfigError("--data", "no usable training pairs")

    if init_adapter is not None:
        from peft import PeftModel

        # Continue from a trained adapter (more epochs, or new corrections on top of the shipped one).
        model = PeftModel.from_pretrained(loaded.model, str(init_adapter), is_trainable=True)
    else:
        model = get_peft_model(loaded.model, build_lora_config(settings))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    per_epoch = math.ceil(len(train_ex) / batch_size)
    total = settings.max_steps or per_epoch * settings.epochs
    epochs = math.ceil(total / per_epoch)
    warmup = min(settings.warmup_steps, max(total // 10, 1))
    plan = {"total": total}  # a time limit shortens the plan; the schedule reads it at each step
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (plan["total"] - s) / max(plan["total"] - warmup, 1))))

    # The time limit is not part of what was trained: a run resumed after Ctrl-C spends what is left of it.
    trained_with = {k: v for k, v in dataclasses.asdict(settings).items() if k != "time_limit_s"}
    fingerprint = {"data": data_sha, "settings": json.dumps(trained_with, sort_keys=True),
                   "base": str(loaded.source), "today": today.isoformat(), "budget_tokens": budget_tokens,
                   "device": device, "init_adapter": str(init_adapter or "")}
    ckpt = out_dir / "checkpoints" / "last.pt"
    state = _State()
    if resume:
        if not ckpt.exists():
            raise ConfigError("--resume", f"no checkpoint at {ckpt}; start without --resume")
        state = _load_checkpoint(ckpt, model, optimizer, scheduler, fingerprint)
    say = _reporter(console)
    say(f"training on {len(train_ex)} examples ({len(val_ex)} held out), {total} steps of {batch_size}, {device}"
        + (f", resuming at step {state.step}" if state.step else ""))

    pad_id = tok.pad_token_id
    run_started, run_tokens, first_step = time.perf_counter(), 0, state.step
    stop = state.step >= total or state.bad_evals >= settings.patience  # a finished run resumes as finished
    with _progress(console, total, state.step) as bar:
        for epoch in range(state.epoch, epochs if not stop else 0):
            batches = length_batches(train_ex, batch_size, seed=settings.seed, epoch=epoch)
            for b in range(state.batch_in_epoch, len(batches)):
                batch = [train_ex[i] for i in batches[b]]
                loss_sum, n = accumulate_gradients(model, batch, pad_id, micro_batch=settings.micro_batch_size,
                                                   bf16=bf16)
                loss = loss_sum / n
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                if settings.trim_memory:
                    release_free_memory()
                state.step += 1
                state.epoch, state.batch_in_epoch = epoch, b + 1
                if settings.time_limit_s > 0:
                    total = plan["total"] = _steps_within(settings.time_limit_s, state, started, run_started,
                                                          steps_this_run=state.step - first_step, planned=total)
                seq_tokens = sum(len(e.input_ids) for e in batch)
                state.tokens += seq_tokens
                run_tokens += seq_tokens
                state.train_losses.append([state.step, round(float(loss), 5)])
                tps = run_tokens / max(time.perf_counter() - run_started, 1e-9)
                bar(state.step, float(loss), tps, total)
                if state.step % settings.eval_every == 0 or state.step == total or b == len(batches) - 1:
                    stop = _evaluate(model, val_ex, pad_id, batch_size, bf16, state, settings, out_dir,
                                     loaded.source, say)
                if state.step % settings.checkpoint_every == 0 or state.step == total or stop:
                    state.elapsed_s += time.perf_counter() - started
                    started = time.perf_counter()
                    _save_checkpoint(ckpt, model, optimizer, scheduler, state, fingerprint)
                if stop or state.step >= total:
                    stop = True
                    break
            state.batch_in_epoch = 0
            if stop:
                break
    if not val_ex or not (out_dir / "adapter_model.safetensors").exists():
        save_adapter(model, out_dir, base_label=Path(str(loaded.source)).stem)
    state.elapsed_s += time.perf_counter() - started
    report = _report(state, settings, fingerprint, train_ex, val_ex, batch_size, total, device, bf16,
                     tps=run_tokens / max(time.perf_counter() - run_started, 1e-9), fit=fit)
    (out_dir / "train_report.json").write_text(json.dumps(report, indent=2) + "\n")
    if Path(str(loaded.source)).suffix.lower() == ".gguf":
        from .lora_gguf import convert_adapter

        say(f"llama.cpp adapter: {convert_adapter(out_dir, base_gguf=Path(str(loaded.source))).path}")
    say(f"done: best validation loss {report['best_val_loss']} at step {state.best_step}, "
        f"{report['time_s']:.0f} s, {report['tokens_per_s']:.0f} tokens/s, peak RSS {report['peak_rss_mb']:.0f} MB")
    return report


def _steps_within(limit_s: float, state: _State, started: float, run_started: float, *, steps_this_run: int,
                  planned: int) -> int:
    """The planned steps cut to what fits in `limit_s` at this run's pace (evaluations included), keeping a twentieth
    of the time for the last evaluation and saving."""
    if steps_this_run < 1:
        return planned
    now = time.perf_counter()
    per_step = (now - run_started) / steps_this_run
    left = limit_s * 0.95 - (state.elapsed_s + now - started)
    return max(state.step, min(planned, state.step + int(left / per_step)))


def _evaluate(model, val_ex, pad_id, batch_size, bf16: bool, state: _State, settings: TrainSettings, out_dir: Path,
              source, say) -> bool:
    """Validation loss; keeps the best adapter; True when it has stopped improving (early stop)."""
    if not val_ex:
        return False
    val = validation_loss(model, val_ex, pad_id, batch_size, bf16=bf16)
    state.val_losses.append([state.step, round(val, 5)])
    if val < state.best_val - 1e-4:
        state.best_val, state.best_step, state.bad_evals = val, state.step, 0
        save_adapter(model, out_dir, base_label=Path(str(source)).stem)
        say(f"step {state.step}: validation loss {val:.4f} (best, adapter saved)")
        return False
    state.bad_evals += 1
    say(f"step {state.step}: validation loss {val:.4f} (best {state.best_val:.4f} at step {state.best_step})")
    return state.bad_evals >= settings.patience


def _report(state: _State, settings, fingerprint, train_ex, val_ex, batch_size, total, device, bf16, *,
            tps, fit: dict) -> dict:
    prompt_lens = [e.prompt_len for e in train_ex]
    return {
        "data_sha256": fingerprint["data"], "base": fingerprint["base"], "init_adapter": fingerprint["init_adapter"],
        "device": device, "bf16": bf16,
        "config": dataclasses.asdict(settings) | {"batch_size_used": batch_size,
                                                  "budget_tokens": fingerprint["budget_tokens"],
                                                  "today": fingerprint["today"]},
        "n_train": len(train_ex), "n_val": len(val_ex), "fit": fit,
        "dropped_too_long": fit.get("too_long", 0), "steps": state.step, "planned_steps": total,
        "stopped_early": state.step < total,
        "prompt_tokens_mean": round(sum(prompt_lens) / len(prompt_lens), 1),
        "train_losses": state.train_losses, "val_losses": state.val_losses,
        "best_val_loss": None if math.isinf(state.best_val) else round(state.best_val, 5),
        "best_step": state.best_step, "time_s": round(state.elapsed_s, 1), "tokens": state.tokens,
        "tokens_per_s": round(tps, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
        "torch_threads": __import__("torch").get_num_threads(),
    }


def _reporter(console):
    def say(text: str) -> None:
        if console is not None:
            console.print(text)
        else:
            log.info(text)
    return say


class _progress:
    """A rich progress bar with loss and tokens/s; plain lines every 5 steps when not on a terminal."""

    def __init__(self, console, total: int, done: int):
        self.console, self.total, self.done = console, total, done
        self._bar, self._started = None, time.perf_counter()

    def __enter__(self):
        if self.console is not None and self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("loss {task.fields[loss]:.3f}  {task.fields[tps]:.0f} tok/s"),
                                 TimeRemainingColumn(), console=self.console)
            self._bar.start()
            self._task = self._bar.add_task("train", total=self.total, completed=self.done, loss=0.0, tps=0.0)
        return self.update

    def update(self, step: int, loss: float, tps: float, total: int) -> None:
        self.total = total  # a time limit may shorten the plan
        if self._bar is not None:
            self._bar.update(self._task, completed=step, total=total, loss=loss, tps=tps)
        elif self.console is not None and (step % 5 == 0 or step <= 3 or step == self.total):
            left = (time.perf_counter() - self._started) / max(step - self.done, 1) * (total - step)
            self.console.print(f"step {step}/{self.total}  loss {loss:.4f}  {tps:.0f} tok/s  "
                               f"rss {peak_rss_mb():.0f} MB  about {left / 60:.1f} min left")

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
        return False
