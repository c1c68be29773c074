"""What each statement mend (`pipeline.mend.RULES`) is worth on a database, from an `askdb eval --out` report: every
statement a rule changed is mended again without that rule (and once with no mend at all), run read-only and scored
against the gold as the report scored it (subset EX). A rule "helped" where the question is right with it and wrong
without; "hurt" where the reverse. No model runs: the statements are the model's own, as the report recorded them
before the mends (`written_sql`). What it cannot see: a statement that failed after mending and was replaced by a
beam candidate is scored as that candidate.

    .venv/bin/python -m bench.quality --ablate-rules --table-only    # the table from the last make quality reports
"""
from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from typing import Iterable, Mapping, Sequence

ALL_RULES = "(all mends)"


@dataclasses.dataclass(frozen=True)
class RuleEffect:
    helped: int = 0
    hurt: int = 0

    def __add__(self, other: "RuleEffect") -> "RuleEffect":
        return RuleEffect(self.helped + other.helped, self.hurt + other.hurt)

    def cell(self) -> str:
        return "." if not (self.helped or self.hurt) else f"+{self.helped}/-{self.hurt}"


async def ablate_report(url: str, report: Mapping, alternatives: Mapping[str, Sequence[str]], *, cfg=None
                        ) -> dict[str, RuleEffect]:
    """Per rule (and ALL_RULES), how many of the report's mended questions it made right and wrong. `url` is the
    database's owner URL; `alternatives` maps a question to its gold's other acceptable statements; `cfg` the
    config whose read-only role runs the statements (default: ./config.yaml)."""
    from askdb.config import load_config
    from askdb.runtime import guard_policy, open_app, visible_schema
    from finetune.evaluate import EVAL_LIMITS, same_answer
    from pipeline.errors import AskdbError
    from pipeline.executor import execute
    from pipeline.guard import check_sql
    from pipeline.linking import load_linker
    from pipeline.mend import mend

    cfg = cfg or load_config(None)
    effects: dict[str, RuleEffect] = defaultdict(RuleEffect)
    async with open_app(cfg, database=url, with_model=False) as app:
        linker = await load_linker(app.pool, visible_schema(cfg, app.schema))
        policy, today = guard_policy(cfg, app.schema), app.today()

        async def run(sql: str):
            try:
                return await execute(app.pool, check_sql(sql, policy).sql, EVAL_LIMITS)
            except AskdbError:
                return None

        for item in report.get("mended", []):
            golds = [(sql, await run(sql)) for sql in (item["gold_sql"], *alternatives.get(item["question"], ()))]
            golds = [(sql, g) for sql, g in golds if g is not None]
            if not golds:
                continue

            async def right(sql: str) -> bool:
                pred = await run(sql)
                return pred is not None and any(same_answer(s, g, pred, subset=True) for s, g in golds)

            with_all = bool(item.get("subset_correct") or item.get("correct"))
            variants = {ALL_RULES: item["written_sql"]}
            for rule in dict.fromkeys(item["mended_by"]):
                variants[rule] = mend(item["question"], item["written_sql"], linker, today, skip=frozenset({rule}))
            for rule, sql in variants.items():
                without = await right(sql)
                effects[rule] += RuleEffect(int(with_all and not without), int(without and not with_all))
    return dict(effects)


def render_ablation(per_db: Mapping[str, Mapping[str, RuleEffect]], *, home: str = "course") -> str:
    """A line per rule that changed anything, a column per database: +helped/-hurt; the verdict by the issue's rule
    (keep where it helps on two databases besides `home` and hurts none)."""
    dbs = list(per_db)
    rules = [ALL_RULES] + sorted({r for effects in per_db.values() for r in effects} - {ALL_RULES})
    lines = ["| rule | " + " | ".join(dbs) + " | verdict |", "|---|" + "---:|" * len(dbs) + "---|"]
    for rule in rules:
        cells = [per_db[db].get(rule, RuleEffect()) for db in dbs]
        lines.append(f"| {rule} | " + " | ".join(c.cell() for c in cells) + f" | {verdict(rule, per_db, home)} |")
    return "\n".join(lines) + "\n"


def verdict(rule: str, per_db: Mapping[str, Mapping[str, RuleEffect]], home: str) -> str:
    """'hurts' where it made more wrong than right on some database; 'keep' where it helps on two databases besides
    `home` (the issue's bar); else how far it reaches: 'one other database', 'course only' or 'no effect'."""
    effects = {db: e.get(rule, RuleEffect()) for db, e in per_db.items()}
    if any(e.hurt > e.helped for e in effects.values()):
        return "hurts"
    helps_elsewhere = sum(e.helped > e.hurt for db, e in effects.items() if db != home)
    if helps_elsewhere >= 2:
        return "keep"
    if helps_elsewhere == 1:
        return "one other database"
    at_home = effects.get(home, RuleEffect())
    return f"{home} only" if at_home.helped > at_home.hurt else "no effect"


def alternatives_of(items: Iterable) -> dict[str, tuple[str, ...]]:
    return {i.question: tuple(i.alternatives) for i in items if i.alternatives}


def totals(per_db: Mapping[str, Mapping[str, RuleEffect]], *, home: str = "course") -> Counter:
    """Verdict counts over the rules (ALL_RULES aside)."""
    rules = {r for effects in per_db.values() for r in effects} - {ALL_RULES}
    return Counter(verdict(r, per_db, home) for r in rules)
