"""Export: the Ollama directory (base GGUF, adapter, Modelfile) and the merged model for vLLM."""
from __future__ import annotations

import subprocess
import sys

import pytest

from finetune.export import export_merged, export_ollama, modelfile_text
from finetune.train import TrainSettings, build_lora_config, save_adapter
from pipeline.errors import ModelUnavailable


@pytest.fixture(scope="module")
def cache():
    from askdb.config import cache_dir, load_config

    return cache_dir(load_config(None))


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, cache):
    """A small LoRA with non-zero weights, saved the way askdb train saves it."""
    import torch
    from peft import get_peft_model

    from pipeline.models.bundled import load_weights

    torch.manual_seed(0)
    model = get_peft_model(load_weights("bundled", cache_root=cache).model,
                           build_lora_config(TrainSettings(lora_r=4, lora_alpha=8)))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)  # a fresh LoRA is a no-op (B = 0); make it change the outputs
    out = tmp_path_factory.mktemp("adapter")
    save_adapter(model, out, base_label="SmolLM2-135M-Instruct")
    return out


def test_ollama_directory_has_base_adapter_and_modelfile(tmp_path, adapter):
    from pipeline.models.bundled import bundled_gguf

    done = export_ollama(adapter, tmp_path / "ollama", base_gguf=bundled_gguf())
    lines = done.modelfile.read_text().splitlines()
    assert lines[0] == f"FROM ./{bundled_gguf().name}" and lines[1] == "ADAPTER ./adapter"
    assert 'PARAMETER stop "<|im_end|>"' in lines and "PARAMETER temperature 0" in lines
    text = done.modelfile.read_text()
    assert "<|im_start|>{{ .Role }}" in text and "{{ .Content }}<|im_end|>" in text
    assert (tmp_path / "ollama" / bundled_gguf().name).stat().st_size == bundled_gguf().stat().st_size
    assert sorted(p.name for p in done.adapter.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert done.create_command == f"ollama create askdb-course -f {done.modelfile}"


def test_modelfile_template_renders_what_the_tokenizer_renders(cache):
    """The Go template, expanded by hand for one conversation, equals SmolLM2's own chat template."""
    from pipeline.models.bundled import load_weights
    from pipeline.models.base import Message
    from pipeline.models.transformers_backend import render_chat

    tok = load_weights("bundled", cache_root=cache).tokenizer
    msgs = [Message("system", "S"), Message("user", "U")]
    expected = render_chat(tok, msgs)
    by_template = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in msgs) + "<|im_start|>assistant\n"
    assert expected == by_template
    assert "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n" \
        in modelfile_text("base.gguf")


def test_merged_model_loads_and_matches_base_plus_adapter(tmp_path, adapter, cache):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from pipeline.models.bundled import load_weights, merged_base_dir

    merged_dir = export_merged(adapter, tmp_path / "merged", base_dir=merged_base_dir("bundled", cache_root=cache))
    assert (merged_dir / "model.safetensors").exists() and (merged_dir / "tokenizer.json").exists()
    loaded = load_weights(str(merged_dir), cache_root=cache)  # the runtime's loader takes the directory
    ids = loaded.tokenizer("SELECT count(*) FROM", return_tensors="pt")["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(merged_base_dir("bundled", cache_root=cache))
    with torch.no_grad():
        want = PeftModel.from_pretrained(base, str(adapter)).eval()(ids).logits
        got = loaded.model(ids).logits
        plain = AutoModelForCausalLM.from_pretrained(merged_base_dir("bundled", cache_root=cache))(ids).logits
    assert torch.allclose(got, want, atol=1e-3)
    assert not torch.allclose(got, plain, atol=1e-3)  # the adapter is really in the merged weights


def test_missing_adapter_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailable, match="askdb train"):
        export_ollama(tmp_path, tmp_path / "out", base_gguf=tmp_path / "x.gguf")
    out = subprocess.run([sys.executable, "-m", "askdb.cli", "export", "--adapter", str(tmp_path / "nope")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "adapter_config.json" in out.stderr and "Traceback" not in out.stderr
