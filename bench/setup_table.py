"""The table of what `askdb setup` did for each profile: size, joins, pairs, shapes, length drops, times, memory.

    .venv/bin/python -m bench.setup_table profiles/*        # reads profile.yaml's setup section of each
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

COLUMNS = (("profile", None), ("tables", "tables"), ("rows", "rows"), ("declared joins", "declared_joins"),
           ("inferred joins", "inferred_joins"), ("pairs", "pairs"), ("shapes", "shapes"),
           ("dropped for length", "dropped_for_length"), ("generate s", "generate_s"), ("train s", "train_s"),
           ("train steps", "train_steps"), ("peak MB", "peak_rss_mb"))


def rows(folders: list[Path]) -> list[list[str]]:
    out = []
    for folder in folders:
        path = folder / "profile.yaml"
        if not path.exists():
            continue
        setup = (yaml.safe_load(path.read_text()) or {}).get("setup") or {}
        if not setup:
            continue
        out.append([folder.name] + [str(setup.get(key, "")) for _, key in COLUMNS[1:]])
    return out


def markdown(table: list[list[str]]) -> str:
    head = "| " + " | ".join(name for name, _ in COLUMNS) + " |"
    rule = "|" + "---|" * len(COLUMNS)
    return "\n".join([head, rule] + ["| " + " | ".join(r) + " |" for r in table])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profiles", nargs="+", type=Path)
    table = rows(ap.parse_args(argv).profiles)
    if not table:
        print("no profile here was made by askdb setup", file=sys.stderr)
        return 1
    print(markdown(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
