"""Training settings: a plain dataclass the config file fills (no torch import here)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainSettings:
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    learning_rate: float = 2e-3
    batch_size: int = 16
    micro_batch_size: int = 2  # rows per forward/backward (memory); 0: the whole batch at once
    trim_memory: bool = True  # hand freed heap back to the OS after each step (lower peak RSS, more page faults)
    cuda_batch_size: int = 32
    epochs: int = 2
    max_steps: int = 0  # 0: the epochs decide
    warmup_steps: int = 10
    val_fraction: float = 0.1
    eval_every: int = 15
    patience: int = 3
    checkpoint_every: int = 10
    correction_repeat: int = 3
    max_seq_tokens: int = 1024
    seed: int = 42
    threads: int = 0  # 0: torch's default (all cores)
    few_shot_k: int = 2  # retrieved example pairs in each training prompt (the runtime then shows as many)
    few_shot_pool: int = 6  # the examples are drawn from this many nearest pairs, so the model learns to judge them
    retrieve_by: str = "question"  # question | skeleton (entities masked) | both; the runtime follows unless sql.retrieve_by
    link_weight: float = 0.0  # schema linking when retrieving training examples, as sql.link_weight at question time
    adapt_examples: bool = False  # with link_weight > 0: examples asked with the pair's own values (sql.adapt_examples)
    max_pairs: int = 0  # train on at most this many pairs (0: all); the rest still serve as examples
    sample_by_shape: bool = False  # that sample takes the query shapes in turn (no better on the dev set)
    time_limit_s: float = 0  # > 0: the planned steps shrink to what fits in this many seconds (load and encoding
                             # included), and the learning-rate schedule follows the new plan
    start_from: str = ""  # a profile whose trained adapter a new adapter starts from ("": a fresh LoRA); read by
                          # askdb's setup and train, which pass it to train() as init_adapter. On make quality it
                          # lowered validation loss but not EX (docs/evaluation.md)
    cpu_bf16: bool = True  # bf16 autocast on CPUs with native bf16 (AVX512-BF16/AMX): ~1.5x faster
