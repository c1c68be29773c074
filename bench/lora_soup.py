"""Experiment: average LoRA adapters trained the same way with other seeds ("a soup").

Adapter to adapter, the same recipe moves a dozen dev questions either way (docs/benchmark-history.md); averaging the
weight deltas of several is the usual way to keep what they share. The average is exact: with A_i (r x in) and
B_i (out x r), the adapter A = [A_1; ...; A_n], B = [B_1 ... B_n] / n of rank n*r and the same alpha/r has the
delta (alpha/r) * mean(B_i A_i).

    .venv/bin/askdb train --data profiles/course/samples.jsonl --out /tmp/lora-seed43 --seed 43
    .venv/bin/python bench/lora_soup.py --out /tmp/soup profiles/course/adapter /tmp/lora-seed43
    .venv/bin/askdb eval --questions finetune/eval/course_dev.jsonl --adapter /tmp/soup

2026-12-04: the shipped adapter with a seed-43 one scored dev 28/95 and check 15/32 against 29 and 17
(eval-*-soup-* in docs/benchmark-history.md).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ADAPTER, CONFIG = "adapter_model.safetensors", "adapter_config.json"


def soup(adapters: list[Path], out: Path) -> None:
    """Write to `out` the adapter whose weight delta is the mean of `adapters`' deltas (same targets and alpha/r)."""
    import torch
    from safetensors.torch import load_file, save_file

    weights = [load_file(str(a / ADAPTER)) for a in adapters]
    configs = [json.loads((a / CONFIG).read_text()) for a in adapters]
    if any((c["r"], c["lora_alpha"], sorted(c["target_modules"])) != (configs[0]["r"], configs[0]["lora_alpha"],
                                                                        sorted(configs[0]["target_modules"]))
           for c in configs) or any(w.keys() != weights[0].keys() for w in weights):
        raise ValueError("the adapters differ in rank, alpha or target modules")
    n = len(weights)
    merged = {}
    for key, first in weights[0].items():
        parts = [w[key].float() for w in weights]
        # lora_A rows stack; lora_B columns stack, each scaled by 1/n.
        merged[key] = (torch.cat(parts, 0) if ".lora_A." in key else torch.cat(parts, 1) / n).to(first.dtype)
    out.mkdir(parents=True, exist_ok=True)
    save_file(merged, str(out / ADAPTER))
    config = dict(configs[0], r=configs[0]["r"] * n, lora_alpha=configs[0]["lora_alpha"] * n)
    (out / CONFIG).write_text(json.dumps(config, indent=2))
    report = adapters[0] / "train_report.json"
    if report.exists():  # says how many retrieved examples the members were trained with
        shutil.copy(report, out / report.name)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("adapters", nargs="+", type=Path, help="adapter directories trained with the same settings")
    ap.add_argument("--out", type=Path, required=True, help="directory for the averaged adapter")
    args = ap.parse_args(argv)
    try:
        soup(args.adapters, args.out)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"averaged {len(args.adapters)} adapters into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
