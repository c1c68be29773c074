"""askdb eval: execution accuracy of the pipeline on a question/SQL file, optionally base vs adapter side by side."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.retrieval import ExampleStore

from ..config import BACKENDS
from ..runtime import example_paths, open_app, resolve_adapter
from .common import add_common, config_from


def register(sub) -> None:
    p = sub.add_parser("eval", help="execution accuracy on a question/SQL file")
    p.add_argument("--questions", required=True, metavar="JSONL",
                   help='{"question", "sql", "shape"?, "difficulty"?, "alternatives"?} lines')
    who = p.add_mutually_exclusive_group()
    who.add_argument("--adapter", metavar="DIR", help="LoRA adapter (default: model.adapter when present)")
    who.add_argument("--no-adapter", action="store_true", help="the base model alone")
    p.add_argument("--backend", choices=BACKENDS, help="model backend (default: config)")
    p.add_argument("--few-shot", type=int, metavar="K", help="few-shot examples per prompt (default: config)")
    p.add_argument("--compare", action="store_true", help="adapter (as trained), adapter without examples, base+few-shot and base side by side")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    p.add_argument("--sample", type=int, metavar="N", help="N questions spread evenly through the file (all shapes)")
    p.add_argument("--first-attempt", action="store_true",
                   help="score the first statement only (no beam candidates, no self-correction): the model alone, quicker")
    p.add_argument("--subset", action="store_true",
                   help="also score subset EX (sql-eval's rule: the prediction may have extra columns)")
    p.add_argument("--concurrency", type=int, metavar="N", help="questions in flight (default: model.max_batch)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", metavar="PATH", help="also write the JSON report here")
    p.add_argument("--show-failures", type=int, default=15, metavar="N", help="failures listed per run (default 15)")
    add_common(p)
    p.set_defaults(func=lambda a: asyncio.run(run(a)))


def _runs(args, cfg) -> list[tuple[str, str | None, int | None]]:
    """(label, adapter: None = configured, '' = none, few-shot k: None = as configured/trained) for each run."""
    if not args.compare:
        adapter = "" if args.no_adapter else args.adapter
        return [("adapter" if resolve_adapter(cfg, adapter, args.backend) else "base", adapter, args.few_shot)]
    adapter = args.adapter or cfg.model.adapter
    if not resolve_adapter(cfg, adapter, args.backend) or not Path(adapter, "adapter_config.json").exists():
        raise ConfigError("--adapter", f"--compare needs a trained adapter; none at {adapter} (run askdb train)")
    k = args.few_shot if args.few_shot is not None else cfg.sql.few_shot_k
    # The adapter as shipped first (with the retrieved examples it was trained with): the quickest to score.
    return [("adapter", adapter, None), ("adapter, no examples", adapter, 0), ("base+few-shot", "", k),
            ("base", "", 0)]


def scoring_config(cfg, *, first_attempt: bool = False):
    """The configuration a scoring run uses: no answer phrasing, a batch-sized model timeout and, with
    `first_attempt`, neither beam candidates nor self-correction."""
    # Answer phrasing is not scored: skip the second model call. Batch work waits its turn in the model's queue
    # far longer than a chat user would, so the chat timeout does not apply.
    cfg = cfg.replace(answer=dataclasses.replace(cfg.answer, use_model=False),
                      model=dataclasses.replace(cfg.model, timeout_s=max(cfg.model.timeout_s, 900.0)))
    if first_attempt:
        cfg = cfg.replace(sql=dataclasses.replace(cfg.sql, self_correction_attempts=0, candidates_on_error=0,
                                                            vote_candidates=0))
    return cfg


async def run(args) -> int:
    from finetune.evaluate import few_shot_overlap, read_items, spread_sample

    cfg = config_from(args)
    for flag in ("limit", "sample"):
        if getattr(args, flag) is not None and getattr(args, flag) <= 0:
            raise ConfigError(f"--{flag}", "must be positive")
    items = read_items(args.questions, limit=args.limit)
    if args.sample:
        items = spread_sample(items, args.sample)
    cfg = scoring_config(cfg, first_attempt=args.first_attempt)
    gold_cache: dict = {}
    reports = []
    for label, adapter, k in _runs(args, cfg):
        async with open_app(cfg, database=args.database, adapter=adapter, backend=args.backend,
                            few_shot_k=k) as app:
            known = ExampleStore.read_jsonl(example_paths(cfg))
            overlap = few_shot_overlap(items, [e.question for e in known]) if app.pipeline.store else 0
            report = await _evaluate(app, items, label, args, overlap)
        reports.append(report)
        if not args.json:
            _print_run(report, args.show_failures)
    out = _combined(reports) if args.compare else reports[0].to_json()
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(out, default=str, ensure_ascii=False))
    elif args.compare:
        _print_comparison(reports)
    return 0


async def _evaluate(app, items, label: str, args, overlap: int):
    from rich.progress import Progress

    from finetune.evaluate import evaluate

    concurrency = args.concurrency or app.cfg.model.max_batch
    show = not args.json and sys.stderr.isatty()
    with Progress(transient=True, disable=not show) as bar:
        task = bar.add_task(f"{label} ({app.model.name})", total=len(items))
        return await evaluate(app.pipeline, app.pool, items, label=label, concurrency=concurrency, overlap=overlap,
                              progress=lambda r: bar.advance(task), subset=args.subset)


def _combined(reports) -> dict:
    runs = [r.to_json() for r in reports]
    subset = {"subset_execution_accuracy": {r["label"]: r["subset_execution_accuracy"] for r in runs}
              } if "subset_execution_accuracy" in runs[0] else {}
    return {"compare": True, "n": runs[0]["n"],
            "execution_accuracy": {r["label"]: r["execution_accuracy"] for r in runs}, **subset, "runs": runs}


def _print_run(report, show_failures: int) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    d = report.to_json()
    con = Console()
    subset = (f"subset EX {d['subset_execution_accuracy']:.1%} ({d['subset_correct']}/{d['n']}), "
              if "subset_correct" in d else "")
    con.print(f"[bold]{d['label']}[/] ({d['model']}, few-shot k={d['few_shot_k']}): "
              f"EX {d['execution_accuracy']:.1%} ({d['correct']}/{d['n']}), {subset}generation p50 "
              f"{d['latency_ms_p50']} ms, p95 {d['latency_ms_p95']} ms, {d['wall_s']} s in all")
    if d["questions_in_few_shot_files"]:
        con.print(f"[yellow]warning:[/] {d['questions_in_few_shot_files']} evaluation questions are also few-shot "
                  "examples; their score is inflated")
    table = Table("group", "n", "EX", box=None)
    for kind in ("by_difficulty", "by_shape"):
        for name, g in d[kind].items():
            table.add_row(f"{kind[3:]}: {name}", str(g["n"]), f"{g['ex']:.0%}")
    con.print(table)
    if d["unnamed_literal_rate"] is not None:
        con.print(f"filters on a value the question never names: {d['unnamed_literal_rate']:.0%} of statements "
                  f"(gold {d['gold_unnamed_literal_rate']:.0%})")
    if "scope" in d:
        sc = d["scope"]
        con.print(f"out-of-scope questions answered with SQL anyway: {sc['out_of_scope_answered_rate']:.1%} "
                  f"({sc['out_of_scope_answered']}/{sc['out_of_scope_n']}); in-scope questions refused: "
                  f"{sc['in_scope_refused_rate']:.1%} ({sc['in_scope_refused']}/{sc['in_scope_n']})")
    if d["failure_reasons"]:
        con.print("failures: " + ", ".join(f"{k} {v}" for k, v in sorted(d["failure_reasons"].items())))
    for f in d["failures"][:show_failures]:
        text = (f"{f['question']}\n    gold: {f['gold_sql']}\n    got:  {f['predicted_sql']}"
                + (f"\n    ({f['detail'][:200]})" if f["detail"] and f["reason"] != "wrong result" else ""))
        con.print(f"  [red]{escape(f['reason'])}[/] {escape(text)}", highlight=False)
    con.print()


def _print_comparison(reports) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = [r.to_json() for r in reports]
    table = Table("", *[r["label"] for r in runs], title=f"execution accuracy, {runs[0]['n']} questions")
    table.add_row("EX", *[f"{r['execution_accuracy']:.1%}" for r in runs])
    if "subset_execution_accuracy" in runs[0]:
        table.add_row("subset EX", *[f"{r['subset_execution_accuracy']:.1%}" for r in runs])
    for diff in runs[0]["by_difficulty"]:
        table.add_row(f"  {diff}", *[f"{r['by_difficulty'].get(diff, {}).get('ex', 0):.0%}" for r in runs])
    table.add_row("few-shot k", *[str(r["few_shot_k"]) for r in runs])
    table.add_row("generation p50 ms", *[str(r["latency_ms_p50"]) for r in runs])
    table.add_row("generation p95 ms", *[str(r["latency_ms_p95"]) for r in runs])
    Console().print(table)
