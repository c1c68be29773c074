"""Training data and a tiny real LoRA run on the bundled model against the course database."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from finetune.dataset import (IGNORE, Pair, TrainExample, collate, encode_pair, fit_pair, length_batches,
                              limit_pairs, merge_pairs, read_pairs, retrieved_examples, split_holdout, sql_tables)
from pipeline.database import open_pool
from pipeline.errors import ConfigError
from pipeline.models.transformers_backend import render_chat
from pipeline.prompt import Example, build_sql_prompt
from pipeline.retrieval import ExampleStore
from pipeline.schema import introspect_schema

TODAY = dt.date(2026, 11, 24)
PAIRS = [
    Pair("How many credits is CS 2110?", "SELECT credits FROM courses WHERE code = 'CS 2110'"),
    Pair("Which building is the Physics department in?", "SELECT building FROM departments WHERE name = 'Physics'"),
    Pair("How many students are there?", "SELECT count(*) FROM students"),
    Pair("List the terms", "SELECT name FROM terms ORDER BY starts_on"),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from pipeline.models.bundled import load_weights

    from askdb.config import cache_dir, load_config

    return load_weights("bundled", cache_root=cache_dir(load_config(None)))


@pytest.fixture(scope="module")
def schema(query_db_url):
    import asyncio

    async def get():
        async with open_pool(query_db_url) as pool:
            s = await introspect_schema(pool)
        return s.without_columns(frozenset({"students.email", "enrollments.grade"}))
    return asyncio.run(get())


def test_labels_mask_the_prompt_and_keep_the_sql(loaded, schema):
    tok = loaded.tokenizer
    ex = encode_pair(tok, PAIRS[0], schema, today=TODAY, budget_tokens=700)
    prompt = render_chat(tok, build_sql_prompt(PAIRS[0].question, schema, today=TODAY, budget_tokens=700))
    # The prompt part is exactly what the runtime feeds the model, token for token.
    assert list(ex.input_ids[:ex.prompt_len]) == tok(prompt, add_special_tokens=False)["input_ids"]
    assert set(ex.labels[:ex.prompt_len]) == {IGNORE}
    target = ex.labels[ex.prompt_len:]
    assert IGNORE not in target and list(target) == list(ex.input_ids[ex.prompt_len:])
    assert tok.decode(target) == PAIRS[0].sql + "<|im_end|>"


def test_retrieved_examples_are_the_runtime_prompt_and_never_the_pair_itself(loaded, schema):
    pairs = PAIRS + [Pair("How many students are in the system?", "SELECT count(*) FROM students"),
                     Pair("how many credits does CS 3110 have", "SELECT credits FROM courses WHERE code = 'CS 3110'")]
    store = ExampleStore([Example(p.question, p.sql) for p in pairs])  # lexical similarity: no model needed
    shots = retrieved_examples(pairs, store, k=2, pool=3, seed=7)
    assert shots == retrieved_examples(pairs, store, k=2, pool=3, seed=7)  # seeded
    for pair, ex in zip(pairs, shots):
        assert len(ex) == 2
        assert all(e.question != pair.question and e.sql != pair.sql for e in ex)
    # The training prompt is exactly the runtime's prompt with those examples, all of it masked.
    tok = loaded.tokenizer
    ex = encode_pair(tok, pairs[0], schema, today=TODAY, budget_tokens=700, examples=shots[0])
    messages = build_sql_prompt(pairs[0].question, schema, today=TODAY, budget_tokens=700, examples=shots[0])
    assert list(ex.input_ids[:ex.prompt_len]) == tok(render_chat(tok, messages), add_special_tokens=False)["input_ids"]
    assert "Examples:" in messages[-1].content and set(ex.labels[:ex.prompt_len]) == {IGNORE}
    assert tok.decode(ex.labels[ex.prompt_len:]) == pairs[0].sql + "<|im_end|>"


def test_a_long_prompt_is_cut_to_fit_before_a_pair_is_dropped(loaded, schema):
    tok = loaded.tokenizer
    pair = Pair("Which students are enrolled in CS 2110?",
                "SELECT s.first_name, s.last_name FROM students s JOIN enrollments e ON e.student_id = s.id "
                "JOIN sections se ON se.id = e.section_id JOIN courses c ON c.id = se.course_id WHERE c.code = 'CS 2110'")
    assert sql_tables(pair.sql) == ("students", "enrollments", "sections", "courses")
    shots = tuple(Example(f"long example {i} " + "word " * 60, "SELECT " + ", ".join(["credits"] * 40) + " FROM courses")
                  for i in range(3))
    whole, how = fit_pair(tok, pair, schema, today=TODAY, budget_tokens=700, max_tokens=4096, examples=shots)
    assert how == "whole"
    fewer, how = fit_pair(tok, pair, schema, today=TODAY, budget_tokens=700, max_tokens=len(whole.input_ids) - 50,
                          examples=shots)
    assert how == "fewer_examples" and len(fewer.input_ids) <= len(whole.input_ids) - 50
    bare = encode_pair(tok, pair, schema, today=TODAY, budget_tokens=700, tables_first=sql_tables(pair.sql))
    small, how = fit_pair(tok, pair, schema, today=TODAY, budget_tokens=700, max_tokens=len(bare.input_ids) - 40,
                          examples=shots)
    assert how == "smaller_schema"
    # Cut down, the prompt still shows every table the SQL reads, and the whole SQL is still the target.
    text = tok.decode(small.input_ids[:small.prompt_len])
    assert all(f"{t}(" in text for t in sql_tables(pair.sql))
    assert tok.decode(small.labels[small.prompt_len:]) == pair.sql + "<|im_end|>"
    assert fit_pair(tok, pair, schema, today=TODAY, budget_tokens=700, max_tokens=40) == (None, "too_long")


def test_limit_pairs_keeps_every_correction_and_a_seeded_sample():
    pairs = [Pair(f"q{i}", f"SELECT {i}") for i in range(20)] + [Pair("fix", "SELECT 99", source="corrections")]
    kept = limit_pairs(pairs, 5, seed=1)
    assert len(kept) == 5 and kept[-1].source == "corrections" and kept == limit_pairs(pairs, 5, seed=1)
    assert limit_pairs(pairs, 0, seed=1) == pairs


def test_limit_pairs_gives_a_rare_shape_its_share():
    pairs = [Pair(f"q{i}", f"SELECT {i}", shape="lookup") for i in range(90)]
    pairs += [Pair(f"a{i}", f"SELECT {i} WHERE NOT EXISTS", shape="anti_join") for i in range(6)]
    kept = limit_pairs(pairs, 20, seed=3, by_shape=True)
    shapes = [p.shape for p in kept]
    assert len(kept) == 20 and shapes.count("anti_join") == 6 and shapes.count("lookup") == 14
    assert kept == sorted(kept, key=pairs.index)  # still in file order


def test_collate_shares_the_prompt_prefix_but_keeps_every_label(loaded, schema):
    tok = loaded.tokenizer
    batch = [encode_pair(tok, p, schema, today=TODAY, budget_tokens=700) for p in PAIRS]
    prefix, ids, labels, mask = collate(batch, tok.pad_token_id)
    assert prefix.shape[1] > 300  # the schema text is computed once per batch
    for i, e in enumerate(batch):
        n = len(e.input_ids) - prefix.shape[1]
        assert ids[i, :n].tolist() == list(e.input_ids[prefix.shape[1]:])
        assert labels[i, :n].tolist() == list(e.labels[prefix.shape[1]:])
        assert mask[i, :n].all() and not mask[i, n:].any()
        # the token before the first SQL token stays out of the prefix: its logits predict it
        assert labels[i, 0] == IGNORE


def test_shared_prefix_loss_equals_the_plain_loss(loaded, schema):
    import torch
    from peft import get_peft_model

    import finetune.train as train_mod
    from finetune.train import TrainSettings, batch_loss, build_lora_config

    tok = loaded.tokenizer
    batch = [encode_pair(tok, p, schema, today=TODAY, budget_tokens=700) for p in PAIRS]
    torch.manual_seed(0)
    model = get_peft_model(loaded.model, build_lora_config(TrainSettings()))
    model.eval()
    try:
        with torch.no_grad():
            shared, n1 = batch_loss(model, batch, tok.pad_token_id)
            plain_collate = train_mod.collate
            train_mod.collate = lambda b, pad: plain_collate(b, pad, share_prefix=False)
            try:
                plain, n2 = batch_loss(model, batch, tok.pad_token_id)
            finally:
                train_mod.collate = plain_collate
    finally:
        model.unload()  # the module-scoped base model goes back to the other tests without LoRA layers
    assert n1 == n2 == sum(len(e.input_ids) - e.prompt_len for e in batch)
    assert float(shared) / n1 == pytest.approx(float(plain) / n2, rel=1e-4)


def test_micro_batches_give_the_full_batch_gradients(loaded, schema):
    import torch
    from peft import get_peft_model

    from finetune.train import TrainSettings, accumulate_gradients, batch_loss, build_lora_config

    tok = loaded.tokenizer
    batch = [encode_pair(tok, p, schema, today=TODAY, budget_tokens=700) for p in PAIRS]
    torch.manual_seed(0)
    model = get_peft_model(loaded.model, build_lora_config(TrainSettings(lora_r=4, target_modules=("q_proj", "v_proj"))))
    model.eval()
    try:
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.02)  # B = 0 would make the gradients of A vanish
        lora = {n: p for n, p in model.named_parameters() if p.requires_grad}
        loss, n = batch_loss(model, batch, tok.pad_token_id)
        (loss / n).backward()
        full = {k: p.grad.clone() for k, p in lora.items()}
        model.zero_grad()
        total, n2 = accumulate_gradients(model, batch, tok.pad_token_id, micro_batch=1, bf16=False)
        micro = {k: p.grad.clone() for k, p in lora.items()}
    finally:
        model.unload()
    assert n2 == n and total == pytest.approx(float(loss), rel=1e-4)
    for k in full:  # equal up to float summation order
        assert (micro[k] - full[k]).norm() <= 1e-3 * full[k].norm(), k


def test_corrections_replace_and_outweigh_generated_pairs():
    fixed = Pair("How many students are there?", "SELECT count(*) FROM students", source="corrections")
    merged = merge_pairs(PAIRS, [fixed], repeat=3)
    assert merged.count(fixed) == 3
    assert sum(p.question == fixed.question for p in merged) == 3


def test_split_and_batches_are_deterministic():
    pairs = [Pair(f"question {i}", f"SELECT {i}") for i in range(40)]
    train_a, val_a = split_holdout(pairs, 0.1, seed=7)
    train_b, val_b = split_holdout(pairs, 0.1, seed=7)
    assert (train_a, val_a) == (train_b, val_b) and len(val_a) == 4
    assert not {p.question for p in val_a} & {p.question for p in train_a}
    examples = [TrainExample(tuple(range(n % 13 + 1)), (), 0) for n in range(50)]
    epoch0 = length_batches(examples, 8, seed=7, epoch=0)
    assert epoch0 == length_batches(examples, 8, seed=7, epoch=0) != length_batches(examples, 8, seed=7, epoch=1)
    assert sorted(i for b in epoch0 for i in b) == list(range(50))  # every example once per epoch


def test_bad_training_file_names_the_line(tmp_path):
    f = tmp_path / "pairs.jsonl"
    f.write_text('{"question": "q", "sql": "SELECT 1"}\n{"question": 3}\n')
    with pytest.raises(ConfigError) as err:
        read_pairs(f)
    assert err.value.key.endswith("pairs.jsonl:2")


@pytest.mark.slow
def test_tiny_training_run_learns_and_writes_a_loadable_adapter(tmp_path, schema, query_db_url):
    import asyncio

    import torch
    from safetensors.torch import load_file

    from askdb.config import cache_dir, load_config
    from finetune.train import TrainSettings, train
    from pipeline.models.bundled import load_weights
    from pipeline.models.transformers_backend import TransformersModel

    cache = cache_dir(load_config(None))
    settings = TrainSettings(batch_size=4, max_steps=6, learning_rate=3e-3, warmup_steps=1, val_fraction=0.0,
                             eval_every=100, checkpoint_every=3, seed=1, lora_r=8, lora_alpha=16)
    out = tmp_path / "lora"
    base_before = load_weights("bundled", cache_root=cache).model.state_dict()["model.layers.0.mlp.up_proj.weight"].clone()
    report = train(PAIRS, schema, out_dir=out, settings=settings, base_source="bundled", cache_root=cache,
                   today=TODAY, budget_tokens=700, data_sha="test")
    losses = [loss for _, loss in report["train_losses"]]
    assert report["steps"] == 6 and losses[-1] < losses[0]
    saved = json.loads((out / "train_report.json").read_text())
    assert saved["steps"] == 6 and saved["peak_rss_mb"] > 0 and saved["tokens_per_s"] > 0
    lora = load_file(out / "adapter_model.safetensors")
    b_weights = [v for k, v in lora.items() if "lora_B" in k]
    assert b_weights and any(v.abs().sum() > 0 for v in b_weights)  # LoRA B starts at zero: it moved
    assert (out / "checkpoints" / "last.pt").exists()
    assert (out / "adapter.gguf").stat().st_mtime >= (out / "adapter_model.safetensors").stat().st_mtime  # llama.cpp's

    async def ask():
        model = await TransformersModel.load("bundled", cache_root=cache, adapter=str(out), device="cpu")
        try:
            # The base weights are untouched on disk; the merged, adapted ones differ from them.
            merged = model.loaded.model.state_dict()["model.layers.0.mlp.up_proj.weight"]
            fresh = load_weights("bundled", cache_root=cache).model.state_dict()["model.layers.0.mlp.up_proj.weight"]
            assert torch.equal(fresh, base_before) and not torch.equal(merged, base_before)
            msgs = build_sql_prompt(PAIRS[2].question, schema, today=TODAY, budget_tokens=700)
            return (await model.complete(msgs, max_tokens=20)).text
        finally:
            await model.aclose()
    assert asyncio.run(ask()).strip()


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_adapter(tmp_path, schema, monkeypatch):
    from safetensors.torch import load_file

    import finetune.train as train_mod
    from askdb.config import cache_dir, load_config
    from finetune.train import TrainSettings, train

    cache = cache_dir(load_config(None))
    settings = TrainSettings(batch_size=2, max_steps=2, warmup_steps=1, val_fraction=0.0, checkpoint_every=1,
                             seed=3, lora_r=4, lora_alpha=8, target_modules=("q_proj", "v_proj"))
    kw = dict(settings=settings, base_source="bundled", cache_root=cache, today=TODAY, budget_tokens=700,
              data_sha="a")
    train(PAIRS, schema, out_dir=tmp_path / "straight", **kw)

    real_save = train_mod._save_checkpoint

    def save_then_interrupt(path, model, optimizer, scheduler, state, fingerprint):
        real_save(path, model, optimizer, scheduler, state, fingerprint)
        raise KeyboardInterrupt  # Ctrl-C right after the step-1 checkpoint

    monkeypatch.setattr(train_mod, "_save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(PAIRS, schema, out_dir=tmp_path / "resumed", **kw)
    monkeypatch.setattr(train_mod, "_save_checkpoint", real_save)
    with pytest.raises(ConfigError):  # a different data file cannot resume this run
        train(PAIRS, schema, out_dir=tmp_path / "resumed", **{**kw, "data_sha": "b"}, resume=True)
    report = train(PAIRS, schema, out_dir=tmp_path / "resumed", **kw, resume=True)
    assert report["steps"] == 2
    a = load_file(tmp_path / "straight" / "adapter_model.safetensors")
    b = load_file(tmp_path / "resumed" / "adapter_model.safetensors")
    # Same seed on CPU: the interrupted-and-resumed run ends with exactly the weights of the straight one.
    assert a.keys() == b.keys() and all(torch_equal(a[k], b[k]) for k in a)


def torch_equal(x, y) -> bool:
    import torch

    return torch.equal(x, y)


def test_train_command_bad_input_is_a_message_not_a_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "askdb.cli", "train", "--data", str(tmp_path / "none.jsonl")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "none.jsonl" in out.stderr and "Traceback" not in out.stderr


def test_a_soup_of_adapters_has_the_mean_of_their_deltas(tmp_path):
    import json

    import torch
    from safetensors.torch import load_file, save_file

    from bench.lora_soup import soup

    key = "base_model.model.model.layers.0.self_attn.q_proj.lora_"
    members = []
    for seed in (1, 2):
        g = torch.Generator().manual_seed(seed)
        d = tmp_path / f"m{seed}"
        d.mkdir()
        save_file({key + "A.weight": torch.randn(4, 8, generator=g), key + "B.weight": torch.randn(6, 4, generator=g)},
                  str(d / "adapter_model.safetensors"))
        (d / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}))
        members.append(d)
    soup(members, tmp_path / "soup")
    config = json.loads((tmp_path / "soup" / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (8, 16)  # the same alpha/r

    def delta(d, scale):
        w = load_file(str(d / "adapter_model.safetensors"))
        return scale * w[key + "B.weight"] @ w[key + "A.weight"]
    mean = (delta(members[0], 2) + delta(members[1], 2)) / 2
    assert torch.allclose(delta(tmp_path / "soup", 16 / 8), mean, atol=1e-5)


def test_start_from_names_another_profiles_trained_adapter(tmp_path, caplog):
    from askdb.commands.train import starting_adapter, train_settings
    from askdb.config import load_config

    shop = tmp_path / "profiles" / "shop" / "adapter"
    shop.mkdir(parents=True)
    (shop / "adapter_config.json").write_text("{}")
    config = tmp_path / "config.yaml"
    config.write_text(f"profile: mine\npaths:\n  profiles: {tmp_path / 'profiles'}\n")

    def start(name, profile="mine"):
        cfg = dataclasses.replace(load_config(str(config)), profile=profile)
        return starting_adapter(cfg, train_settings(cfg, start_from=name))

    assert start("shop") == shop
    assert start("") is None
    assert start("shop", profile="shop") is None  # retraining a profile starts clean, not from its own last adapter
    assert start("empty") is None and "has no trained adapter" in caplog.text
    with pytest.raises(ConfigError):
        start("../elsewhere")


@pytest.mark.slow
def test_training_started_from_the_shipped_adapter_continues_it(tmp_path, schema):
    import torch
    from safetensors.torch import load_file

    from askdb.config import cache_dir, load_config
    from finetune.train import TrainSettings, train

    shipped = Path(load_config(None).paths.profiles) / "course" / "adapter"
    # A tiny learning rate: one step leaves the shipped adapter's weights (and its rank, not lora_r's) in place.
    settings = TrainSettings(batch_size=4, max_steps=1, learning_rate=1e-6, warmup_steps=1, val_fraction=0.0,
                             few_shot_k=0, lora_r=4, lora_alpha=8)
    out = tmp_path / "lora"
    train(PAIRS, schema, out_dir=out, settings=settings, base_source="bundled", cache_root=cache_dir(load_config(None)),
          today=TODAY, budget_tokens=700, data_sha="test", init_adapter=shipped)
    before, after = load_file(shipped / "adapter_model.safetensors"), load_file(out / "adapter_model.safetensors")
    assert before.keys() == after.keys()
    key = next(k for k in before if "lora_B" in k and "layers.10." in k)
    assert after[key].shape == before[key].shape and before[key].abs().sum() > 0
    assert torch.allclose(after[key].float(), before[key].float(), atol=1e-3)
