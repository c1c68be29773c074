"""Append-only JSONL output, fsynced per batch, that a re-run resumes from; and the stats summary next to it."""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stats:
    kept: int = 0
    resumed: int = 0
    candidates: int = 0
    shapes: Counter = field(default_factory=Counter)
    tables: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    templates: Counter = field(default_factory=Counter)
    styles: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    llm: Counter = field(default_factory=Counter)  # asked, kept, rejected_entities, rejected_other
    skipped_shapes: dict = field(default_factory=dict)  # shape -> why it was left out ('no material', 'error: ...')
    elapsed_s: float = 0.0

    def count(self, row: dict, template: str = "", style: str = "") -> None:
        self.kept += 1
        self.shapes[row["shape"]] += 1
        self.sources[row["source"]] += 1
        for t in row["tables"]:
            self.tables[t] += 1
        if template:
            self.templates[template] += 1
        if style:
            self.styles[style] += 1

    def as_dict(self) -> dict:
        minutes = self.elapsed_s / 60
        new = self.kept - self.resumed
        return {
            "kept": self.kept, "resumed_from_file": self.resumed, "candidates": self.candidates,
            "elapsed_s": round(self.elapsed_s, 1),
            "pairs_per_minute": round(new / minutes, 1) if minutes > 0 else None,
            "rejected": dict(sorted(self.rejected.items(), key=lambda kv: -kv[1])),
            "per_shape": dict(sorted(self.shapes.items())), "per_table": dict(sorted(self.tables.items())),
            "per_source": dict(sorted(self.sources.items())), "styles": dict(sorted(self.styles.items())),
            "llm": dict(self.llm),
            "max_template_share": round(max(self.templates.values()) / max(sum(self.templates.values()), 1), 4)
            if self.templates else None,
            "templates_used": len(self.templates),
            "shapes_skipped": dict(sorted(self.skipped_shapes.items())),
        }


class SampleWriter:
    """Appends pairs to a JSONL file; a torn last line from an interrupted run is cut off on open."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair()
        self._file = open(self.path, "a", encoding="utf-8")

    def _repair(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            with open(self.path, "r+b") as f:
                f.truncate(keep)

    def existing(self) -> list[dict]:
        """Pairs already in the file (valid lines only)."""
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("sql"), str) and isinstance(row.get("question"), str):
                rows.append(row)
        return rows

    def write_batch(self, rows: list[dict]) -> None:
        """Append and fsync, so an interrupt never loses a written batch."""
        if not rows:
            return
        self._file.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "SampleWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_stats(path: str | os.PathLike, stats: Stats, extra: dict | None = None) -> None:
    """The stats JSON (sorted keys, so it diffs cleanly)."""
    data = {**(extra or {}), **stats.as_dict()}
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def stats_path(out: str | os.PathLike) -> Path:
    """data/x/samples.jsonl -> data/x/samples.stats.json"""
    p = Path(out)
    return p.with_name(p.name.removesuffix(".jsonl") + ".stats.json")
