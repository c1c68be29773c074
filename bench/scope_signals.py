"""What the scope check weighs, per question of a tuning file: the vocabulary's verdict and unknown words, how sure
the model was of its first statement (mean token log-probability), whether the pipeline's statement ran, and how
close the question comes to the nearest of the profile's examples (`ExampleStore.closeness`).
SURE_LOGPROB and the second look (pipeline/scope.py) were chosen from this table on tuning files only:

    .venv/bin/python -m bench.scope_signals finetune/eval/course_scope_tune.jsonl finetune/eval/course_dev.jsonl
    .venv/bin/python -m bench.scope_signals --database URL --profile northwind finetune/eval/northwind_dev.jsonl

Never run it on a measured set (course_scope.jsonl): that file is scored by `askdb eval`, not read. Writes
bench/results/scope-signals-<date>.json.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from askdb.commands.common import add_common, config_from  # noqa: E402
from askdb.runtime import open_app  # noqa: E402
from bench.common import RESULTS_DIR  # noqa: E402
from pipeline.scope import judge_scope, load_vocabulary  # noqa: E402


class _FirstStatement:
    """The configured SQL model, keeping the token log-probabilities of the completions it gives."""

    def __init__(self, inner):
        self.inner, self.name, self.logprobs = inner, inner.name, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def complete(self, messages, **kwargs):
        done = await self.inner.complete(messages, **kwargs)
        self.logprobs.append(done.token_logprobs)
        return done


async def signals(files: list[str], args: argparse.Namespace) -> list[dict]:
    rows = []
    async with open_app(config_from(args), database=args.database) as app:
        pipe = app.pipeline
        vocab = await load_vocabulary(app.pool, pipe.schema)
        pipe.settings = dataclasses.replace(pipe.settings, scope_check=False)  # every question reaches the model
        model = pipe.sql_model = _FirstStatement(pipe.sql_model)
        for path in files:
            for line in Path(path).read_text().splitlines():
                item = json.loads(line)
                scope = judge_scope(item["question"], vocab)
                close = pipe.store.closeness(item["question"]) if pipe.store is not None else None
                row = dict(file=Path(path).name, question=item["question"], in_scope=item.get("in_scope", True),
                           verdict=scope.verdict, unknown=list(scope.unknown), schema=list(scope.schema),
                           closeness=round(close, 4) if close is not None else None,
                           confidence=None, ran=None, rows=None, sql=None)
                if not args.no_model:
                    model.logprobs.clear()
                    answer = await pipe.answer(item["question"])
                    first = model.logprobs[0] if model.logprobs else ()
                    row.update(confidence=round(sum(first) / len(first), 4) if first else None, ran=answer.ok,
                               rows=len(answer.rows), sql=answer.sql)
                rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["in | words say | unknown | closeness | confidence | ran | question", "---|---|---|---:|---:|---|---"]
    for r in sorted(rows, key=lambda r: (r["in_scope"], r["confidence"] if r["confidence"] is not None else 0,
                                         r["closeness"] or 0)):
        conf = f"{r['confidence']:.3f}" if r["confidence"] is not None else "-"
        close = f"{r['closeness']:.3f}" if r["closeness"] is not None else "-"
        ran = "-" if r["ran"] is None else "yes" if r["ran"] else "no"
        lines.append(f"{'yes' if r['in_scope'] else 'no'} | {r['verdict']} | {', '.join(r['unknown'])} | {close} | "
                     f"{conf} | {ran} | {r['question']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", help="tuning files of questions ({'question', 'in_scope'?})")
    parser.add_argument("--no-model", action="store_true",
                        help="the words and the closeness to the profile's examples only: no statement is written")
    add_common(parser)
    args = parser.parse_args(argv)
    if any(Path(f).name == "course_scope.jsonl" for f in args.files):
        parser.error("course_scope.jsonl is the measured set: score it with `askdb eval`, do not read it")
    rows = asyncio.run(signals(args.files, args))
    print(table(rows))
    out = RESULTS_DIR / f"scope-signals-{Path(args.files[-1]).stem}-{dt.date.today():%Y%m%d}.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
