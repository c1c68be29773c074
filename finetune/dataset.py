"""Question/SQL pairs -> tokenized examples whose loss covers only the SQL the model has to write.

The prompt is pipeline.prompt.build_sql_prompt rendered by the runtime's render_chat, so the model is
trained on exactly the text it sees when answering.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from pipeline.errors import ConfigError
from pipeline.models.base import Message
from pipeline.models.transformers_backend import render_chat
from pipeline.prompt import Example, build_sql_prompt, conversation_text, sql_tables
from pipeline.schema import Schema

IGNORE = -100  # label of tokens the loss skips (torch's cross_entropy default ignore_index)


@dataclass(frozen=True)
class Pair:
    question: str
    sql: str
    db: str = ""
    source: str = "samples"  # "samples", "corrections" or "variants" (of a correction, with other values)
    shape: str = ""  # the generator's query shape, for an even training sample
    previous: tuple[Example, ...] = ()  # a follow-up's earlier turn: the question it continues and that one's SQL


@dataclass(frozen=True)
class TrainExample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    prompt_len: int
    question: str = ""


def read_pairs(path: str | Path, *, source: str = "samples") -> list[Pair]:
    """Pairs from a JSONL file of {"question", "sql", "db"?, "previous"?: {"question", "sql"}} (a follow-up and the
    turn it continues); a bad line is an error naming file and line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read the training data ({exc.strerror})") from exc
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}:{n}", f"not valid JSON ({exc.msg})") from None
        previous = row.get("previous") if isinstance(row, dict) else None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not isinstance(row.get("sql"), str) \
                or previous is not None and not _is_turn(previous):
            raise ConfigError(f"{path}:{n}", 'expected an object with "question" and "sql" strings (and "previous", '
                                             'if any, an object with both)')
        if row["question"].strip() and row["sql"].strip():
            kind = "variants" if source == "corrections" and row.get("source") == "correction-variant" else source
            turns = (Example(" ".join(previous["question"].split()), previous["sql"].strip()),) if previous else ()
            pairs.append(Pair(" ".join(row["question"].split()), row["sql"].strip(), str(row.get("db") or ""), kind,
                              str(row.get("shape") or ""), turns))
    return pairs


def _is_turn(value) -> bool:
    return isinstance(value, dict) and isinstance(value.get("question"), str) and isinstance(value.get("sql"), str)


def merge_pairs(samples: Sequence[Pair], corrections: Sequence[Pair], *, repeat: int = 3) -> list[Pair]:
    """Generated pairs plus corrections; a correction replaces a pair with the same question and counts `repeat` times
    (its variants with other values once each: they are many, and only as sure as the correction)."""
    corrected = {_key(p.question) for p in corrections}
    kept = [p for p in samples if _key(p.question) not in corrected]
    return kept + [p for p in corrections for _ in range(max(1, repeat) if p.source == "corrections" else 1)]


_FEEDBACK = ("corrections", "variants")  # always trained on, whatever the sample size


def _key(question: str) -> str:
    return " ".join(question.lower().split())


def data_sha256(paths: Iterable[Path]) -> str:
    """One hash over the training files, recorded in the report and checked on --resume."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()


def limit_pairs(pairs: Sequence[Pair], max_pairs: int, *, seed: int, by_shape: bool = False) -> list[Pair]:
    """At most `max_pairs` (0: all), corrections always kept, the rest a seeded sample in their original order.

    With `by_shape` the sample takes the query shapes in turn, so a shape with 40 pairs among 3,000 gets its share of
    a few hundred instead of the handful a uniform draw leaves it (it scored no better: README, Fine-tuning).
    """
    if max_pairs <= 0 or len(pairs) <= max_pairs:
        return list(pairs)
    rng = random.Random(seed)
    fixed = [i for i, p in enumerate(pairs) if p.source in _FEEDBACK]
    rest = [i for i, p in enumerate(pairs) if p.source not in _FEEDBACK]
    want = max(0, max_pairs - len(fixed))
    keep = set(fixed) | (_by_shape(pairs, rest, want, rng) if by_shape else set(rng.sample(rest, want)))
    return [p for i, p in enumerate(pairs) if i in keep]


def _by_shape(pairs: Sequence[Pair], rest: list[int], want: int, rng: random.Random) -> set[int]:
    groups: dict[str, list[int]] = {}
    for i in rest:
        groups.setdefault(pairs[i].shape, []).append(i)
    queues = [rng.sample(idx, len(idx)) for _, idx in sorted(groups.items())]
    chosen: set[int] = set()
    while len(chosen) < want:
        for q in queues:
            if q and len(chosen) < want:
                chosen.add(q.pop())
    return chosen


def split_holdout(pairs: Sequence[Pair], fraction: float, *, seed: int) -> tuple[list[Pair], list[Pair]]:
    """(train, validation), split by question so repeated corrections never straddle the two."""
    questions = sorted({_key(p.question) for p in pairs})
    random.Random(seed).shuffle(questions)
    n_val = int(round(len(questions) * fraction)) if len(questions) >= 10 else 0
    held = set(questions[:n_val])
    return [p for p in pairs if _key(p.question) not in held], [p for p in pairs if _key(p.question) in held]


def sql_messages(question: str, schema: Schema, *, today: dt.date, budget_tokens: int,
                 examples: Sequence[Example] = (), tables_first: Sequence[str] = (),
                 previous: Sequence[Example] = ()) -> list[Message]:
    """The runtime's prompt for `question` (after `previous`), with the retrieved examples it would show."""
    return build_sql_prompt(question, schema, today=today, examples=examples, budget_tokens=budget_tokens,
                            tables_first=tables_first, previous=previous)


def retrieved_examples(pairs: Sequence[Pair], store, *, k: int, pool: int, seed: int,
                       today: dt.date | None = None) -> list[tuple[Example, ...]]:
    """Per pair, k examples as the runtime retrieves them (most similar first), never the pair itself.

    They are drawn from the `pool` nearest, not always the top k: at inference the nearest pair is often
    a worse fit than in generated data, and the model has to learn to judge an example, not copy it."""
    if k <= 0 or store is None:
        return [()] * len(pairs)
    rng = random.Random(seed)
    out = []
    for p in pairs:
        # A follow-up is matched as the runtime matches it: with the question it continues.
        near = store.nearest(conversation_text(p.question, p.previous), max(pool, k), exclude_question=p.question,
                             exclude_sql=p.sql, today=today)
        keep = sorted(rng.sample(range(len(near)), min(k, len(near))))
        out.append(tuple(near[i] for i in keep))
    return out


FIT_STEPS = ("whole", "fewer_examples", "smaller_schema")


def fit_pair(tokenizer, pair: Pair, schema: Schema, *, today: dt.date, budget_tokens: int, max_tokens: int,
             examples: Sequence[Example] = ()) -> tuple[TrainExample | None, str]:
    """The pair encoded within `max_tokens`, and how: "whole"; "fewer_examples" (retrieved examples dropped, the
    last first); "smaller_schema" (no examples, the schema cut to a smaller budget the way the runtime cuts it,
    the tables the SQL reads first); or (None, "too_long")."""
    tables = sql_tables(pair.sql)
    for k in range(len(examples), -1, -1):
        ex = encode_pair(tokenizer, pair, schema, today=today, budget_tokens=budget_tokens, examples=examples[:k],
                         tables_first=tables)
        if len(ex.input_ids) <= max_tokens:
            return ex, "whole" if k == len(examples) else "fewer_examples"
    budget = budget_tokens
    while budget > 120:
        budget = budget * 2 // 3
        ex = encode_pair(tokenizer, pair, schema, today=today, budget_tokens=budget, tables_first=tables)
        if len(ex.input_ids) <= max_tokens:
            return ex, "smaller_schema"
    return None, "too_long"


def encode_pair(tokenizer, pair: Pair, schema: Schema, *, today: dt.date, budget_tokens: int,
                examples: Sequence[Example] = (), tables_first: Sequence[str] = ()) -> TrainExample:
    """Prompt tokens (label -100) followed by the SQL and the end-of-turn token (labelled)."""
    messages = sql_messages(pair.question, schema, today=today, budget_tokens=budget_tokens, examples=examples,
                            tables_first=tables_first, previous=pair.previous)
    prompt = render_chat(tokenizer, messages)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    target_ids = tokenizer(target_text(tokenizer, messages, prompt, pair.sql), add_special_tokens=False)["input_ids"]
    return TrainExample(tuple(prompt_ids) + tuple(target_ids), (IGNORE,) * len(prompt_ids) + tuple(target_ids),
                        len(prompt_ids), pair.question)


def target_text(tokenizer, messages: Sequence[Message], prompt: str, sql: str) -> str:
    """The assistant turn as the chat template closes it ('SQL<|im_end|>' for ChatML)."""
    full = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages] + [{"role": "assistant", "content": sql}],
        tokenize=False)
    if full.startswith(prompt) and sql in full[len(prompt):]:
        # What follows the end-of-turn token ("\n") is never generated, so it is not trained either.
        return full[len(prompt):].rstrip("\n")
    return sql + tokenizer.eos_token


def length_batches(examples: Sequence[TrainExample], batch_size: int, *, seed: int, epoch: int) -> list[list[int]]:
    """Index batches of similar length (little padding), in a shuffled order that depends only on seed and epoch."""
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(examples)))
    rng.shuffle(order)
    # Sort within windows of 16 batches: similar lengths share a batch, yet batches stay varied.
    window = batch_size * 16
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda i: len(examples[i].input_ids))
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix every sequence shares."""
    if not seqs:
        return 0
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for i in range(n):
        t = first[i]
        if any(s[i] != t for s in seqs[1:]):
            return i
    return n


def collate(batch: Sequence[TrainExample], pad_id: int, *, share_prefix: bool = True):
    """Tensors for one batch: the shared prompt prefix (once) and the right-padded rest with its labels."""
    import torch

    # Prompts share the schema text; computing it once per batch instead of once per row is the big CPU saving.
    # The last prompt token stays in the rest: its logits predict the first SQL token.
    shared = min(common_prefix_len([e.input_ids for e in batch]), min(e.prompt_len for e in batch)) - 1
    prefix = max(shared, 0) if share_prefix else 0
    rest = [e.input_ids[prefix:] for e in batch]
    width = max(len(r) for r in rest)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids) - prefix
        ids[i, :n] = torch.tensor(e.input_ids[prefix:])
        labels[i, :n] = torch.tensor(e.labels[prefix:])
        mask[i, :n] = 1
    prefix_ids = torch.tensor([batch[0].input_ids[:prefix]], dtype=torch.long)
    return prefix_ids, ids, labels, mask
