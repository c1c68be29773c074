"""bench/quality.py without a model: scratch databases loaded from a file, the setup cache, the table and its mean."""
from __future__ import annotations

import asyncio
import hashlib
import json

import asyncpg
import pytest

from bench.quality import (BUDGET_MINUTES, DEFAULT_LIMIT, EVAL_S_PER_QUESTION, EVAL_START_S, TARGETS, default_minutes,
                           drop_database, ensure_database, main, profile_is_current, render_markdown, report_path, save,
                           summarize, table_row)
from pipeline.roles import QueryRole

DUMP = """
CREATE TABLE shops (id integer PRIMARY KEY, name text NOT NULL, city text);
INSERT INTO shops VALUES (1, 'Corner Deli', 'Lyon'), (2, 'Night Owl', 'Graz');
"""


def test_a_sql_file_loads_once_into_a_scratch_database_with_the_role_granted(pg_admin_url, test_run_id, tmp_path):
    dump, broken = tmp_path / "shops.sql", tmp_path / "broken.sql"
    dump.write_text(DUMP)
    broken.write_text(DUMP + "INSERT INTO nowhere VALUES (1);\n")
    name, role = f"askdb_test_quality_{test_run_id}", QueryRole(name=f"askdb_qq_{test_run_id}", password="test-only")

    async def scenario():
        url, loaded = await ensure_database(pg_admin_url, name, dump, role)
        assert loaded
        owner = await asyncpg.connect(url)
        await owner.execute("INSERT INTO shops VALUES (3, 'Added Later', 'Oslo')")
        await owner.close()
        # present with tables: kept as it is, not loaded again
        assert await ensure_database(pg_admin_url, name, dump, role) == (url, False)
        scheme, rest = url.split("://", 1)
        reader = await asyncpg.connect(f"{scheme}://{role.name}:{role.password}@{rest.split('@', 1)[-1]}")
        try:
            assert [r["name"] for r in await reader.fetch("SELECT name FROM shops ORDER BY id")] == [
                "Corner Deli", "Night Owl", "Added Later"]
            with pytest.raises(asyncpg.PostgresError):
                await reader.execute("DELETE FROM shops")
        finally:
            await reader.close()
        # a file that fails half-way leaves no database behind, so the next run loads it afresh
        with pytest.raises(asyncpg.PostgresError):
            await ensure_database(pg_admin_url, name + "_b", broken, role)
        admin = await asyncpg.connect(pg_admin_url)
        try:
            assert not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name + "_b")
        finally:
            await admin.close()

    async def cleanup():
        await drop_database(pg_admin_url, name)
        await drop_database(pg_admin_url, name + "_b")
        admin = await asyncpg.connect(pg_admin_url)
        try:
            await admin.execute(f'DROP ROLE IF EXISTS "{role.name}"')
        finally:
            await admin.close()

    try:
        asyncio.run(scenario())
    finally:
        asyncio.run(cleanup())


def _report(n: int, correct: int, subset: int, p50: float | None = 1000.0, unnamed: float | None = None) -> dict:
    """The fields of an `askdb eval --subset --json` report the table reads (older reports lack the unnamed rates)."""
    rates = {"unnamed_literal_rate": unnamed, "gold_unnamed_literal_rate": 0.1} if unnamed is not None else {}
    return {"n": n, "correct": correct, "execution_accuracy": round(correct / n, 4), "subset_correct": subset,
            "subset_execution_accuracy": round(subset / n, 4), "latency_ms_p50": p50, **rates}


def test_the_headline_is_the_mean_over_databases_not_over_questions(tmp_path):
    rows = [table_row("small", _report(10, 4, 5, 800.0, unnamed=0.3), _report(10, 1, 2)),
            table_row("large", _report(30, 27, 30, 1200.0), _report(30, 3, 6)),
            {"database": "broken", "error": "askdb setup exited 1"}]
    mean = summarize(rows)
    assert mean["databases"] == 2  # the failed database is listed, not averaged
    assert mean["subset_ex"] == pytest.approx((0.5 + 1.0) / 2)  # pooled over questions it would be 35/40
    assert mean["strict_ex"] == pytest.approx((0.4 + 0.9) / 2)
    assert mean["base_subset_ex"] == pytest.approx((0.2 + 0.2) / 2)
    assert mean["generation_p50_ms"] == pytest.approx(1000.0)
    md = render_markdown(rows, mean)
    lines = md.splitlines()
    assert lines[2] == "| small | 10 | 40.0% | 50.0% | 20.0% | 800 | 30.0% (10.0%) |"
    assert lines[3].endswith("| - (-) |")  # a report from before the rate existed
    assert "| broken | - | askdb setup exited 1 |" in md
    assert lines[-1].startswith("| **mean of 2** | | **65.0%** | **75.0%** | **20.0%** |")

    json_path, md_path = save(rows, {"minutes": 4.3, "limit": 12, "only": None}, results=tmp_path)
    saved = json.loads(json_path.read_text())
    assert saved["mean"] == mean and [r["database"] for r in saved["databases"]] == ["small", "large", "broken"]
    assert md_path.read_text().endswith(md) and "12 questions per database" in md_path.read_text()


def test_setup_is_skipped_only_for_an_adapter_trained_on_the_current_pairs(tmp_path):
    root = tmp_path / "shop"
    assert not profile_is_current(tmp_path, "shop")
    (root / "adapter").mkdir(parents=True)
    (root / "adapter" / "adapter_config.json").write_text("{}")
    assert profile_is_current(tmp_path, "shop")  # no profile.yaml, no recorded hash: the adapter is enough
    (root / "samples.jsonl").write_text('{"question": "q", "sql": "SELECT 1"}\n')
    digest = hashlib.sha256((root / "samples.jsonl").read_bytes()).hexdigest()
    (root / "profile.yaml").write_text(f"name: shop\ndata_sha256: '{digest}'\n")
    assert profile_is_current(tmp_path, "shop")
    (root / "samples.jsonl").write_text('{"question": "q2", "sql": "SELECT 2"}\n')  # pairs changed since training
    assert not profile_is_current(tmp_path, "shop")


def test_the_default_setup_box_fits_the_whole_run_in_the_budget():
    n = sum(len(t.read_questions(DEFAULT_LIMIT)) for t in TARGETS)
    setups = sum(not t.shipped for t in TARGETS)
    minutes = default_minutes(n, len(TARGETS), setups)
    evaluation_s = 2 * (n * EVAL_S_PER_QUESTION + len(TARGETS) * EVAL_START_S)
    assert len(TARGETS) == 8 and setups == 7 and n == 8 * DEFAULT_LIMIT
    assert minutes >= 3 and evaluation_s + setups * minutes * 60 <= BUDGET_MINUTES * 60
    # every question: evaluation alone is over the budget, and setup keeps its floor
    assert default_minutes(sum(len(t.read_questions(None)) for t in TARGETS), 8, 7) == 3.0


def test_the_dev_sets_are_other_questions_with_reports_of_their_own():
    for t in TARGETS:
        held_out = {i.question for i in t.read_questions(None)}
        dev = t.read_questions(None, dev=True)
        assert len(dev) >= 16 and all(i.sql for i in dev)
        # the defog databases' dev sets share no question with sql-eval's held-out files
        assert t.name in ("course", "northwind") or not held_out & {i.question for i in dev}
    # a dev run never overwrites a held-out report, the base model's included
    names = {report_path("yelp", tag, base=base, dev=dev).name
             for tag in ("", "vote4") for base in (False, True) for dev in (False, True)}
    assert names == {"quality-yelp.json", "quality-vote4-yelp.json", "quality-yelp-base.json",
                     "quality-dev-yelp.json", "quality-dev-vote4-yelp.json", "quality-dev-yelp-base.json"}


def test_each_mend_is_scored_by_leaving_it_out_of_the_statements_it_changed(course_db_url, test_run_id):
    import dataclasses

    from askdb.config import load_config
    from bench.ablate_rules import ALL_RULES, RuleEffect, ablate_report, render_ablation

    cfg = load_config(None)
    cfg = cfg.replace(database=dataclasses.replace(cfg.database, query_role=f"askdb_q_{test_run_id}"))
    question, written = "Which sections have a capacity over 40?", "SELECT id FROM sections WHERE capacity >= 40"
    mended = dict(question=question, written_sql=written, mended_by=["ground_bounds"])
    report = {"mended": [
        # 'over 40' read as > 40 made it right (12 sections hold exactly 40) ...
        {**mended, "gold_sql": "SELECT id FROM sections WHERE capacity > 40", "correct": True, "subset_correct": True},
        # ... and where the gold itself means >= 40, the same mend made it wrong.
        {**mended, "gold_sql": "SELECT id FROM sections WHERE capacity >= 40", "correct": False,
         "subset_correct": False}]}
    effects = asyncio.run(ablate_report(course_db_url, report, {}, cfg=cfg))
    assert effects == {ALL_RULES: RuleEffect(1, 1), "ground_bounds": RuleEffect(1, 1)}
    table = render_ablation({"course": effects, "northwind": {"ground_bounds": RuleEffect(2, 0)}})
    assert "| ground_bounds | +1/-1 | +2/-0 | one other database |" in table  # short of the bar of two


def test_a_variant_config_changes_only_the_settings_named(tmp_path):
    from askdb.config import ConfigError, load_config
    from bench.quality import variant_config

    out = variant_config(["model.backend=transformers", "sql.grammar=true"], tmp_path / "v.yaml")
    cfg, default = load_config(out), load_config(None)
    assert cfg.model.backend == "transformers" and cfg.sql.grammar is True
    assert cfg.guard == default.guard and cfg.sql.few_shot_k == default.sql.few_shot_k
    with pytest.raises(ValueError, match="SECTION.KEY=VALUE"):
        variant_config(["grammar"], tmp_path / "w.yaml")
    with pytest.raises(ConfigError):
        variant_config(["sql.no_such_key=1"], tmp_path / "x.yaml")


def test_a_variant_that_changes_the_recipe_sets_up_a_profile_of_its_own():
    from bench.quality import changes_recipe, variant_profile

    northwind, course = (next(t for t in TARGETS if t.name == n) for n in ("northwind", "course"))
    assert changes_recipe(["generate.seed=7"]) and changes_recipe(["sql.grammar=true", "train.max_pairs=100"])
    assert not changes_recipe(["sql.grammar=true", "model.backend=transformers"])  # same adapter, asked otherwise
    assert variant_profile(northwind, "attr-s7") == "northwind-attr-s7"
    assert variant_profile(course, "attr-s7") == "course"  # shipped: never set up again


def test_seeds_give_one_table_of_questions_right_per_run_and_their_mean(tmp_path, capsys):
    from bench.quality import save_seeds

    for seed, (nw, yelp) in {42: (5, 1), 7: (3, 2)}.items():
        rows = [table_row("northwind", _report(16, nw, nw), _report(16, 0, 0)),
                table_row("yelp", _report(16, yelp, yelp), _report(16, 0, 0))]
        save(rows, {"minutes": 5, "limit": 16, "only": None}, results=tmp_path, tag=f"attr-s{seed}")
    lines = save_seeds("attr", (42, 7, 11), results=tmp_path).read_text().splitlines()
    assert "--seeds 42,7,11" in lines[0]
    assert lines[2] == "| database | seed 42 | seed 7 | mean |"  # seed 11 has not run: no column
    assert lines[4:6] == ["| northwind | 5 | 3 | 4.00 |", "| yelp | 1 | 2 | 1.50 |"]
    assert lines[6] == "| **mean subset EX** | 18.8% | 15.6% | **17.2%** |"
    with pytest.raises(SystemExit):
        main(["--seeds", "42,x", "--tag", "t"])
    assert "expected seeds such as 42,7,11" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--seeds", "42,7"])  # no --tag: the runs would have no names
    with pytest.raises(SystemExit):
        main(["--seeds", "42,7", "--tag", "t", "--ablate-rules"])
    assert "--ablate-rules scores one run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--tag", "t", "--against", "u"])
    assert "give --seeds too" in capsys.readouterr().err


def test_a_method_lands_over_seeds_when_the_mean_rises_and_no_database_loses_more_than_one(tmp_path):
    from bench.quality import compare_seeds

    def runs(tag: str, right: dict[int, dict[str, int]]) -> None:
        for seed, per_db in right.items():
            rows = [table_row(name, _report(16, n, n), _report(16, 0, 0)) for name, n in per_db.items()]
            save(rows, {"minutes": 5, "limit": 16, "only": None}, results=tmp_path, tag=f"{tag}-s{seed}")
    runs("today", {42: {"northwind": 5, "yelp": 1}, 7: {"northwind": 3, "yelp": 2}})
    runs("good", {42: {"northwind": 6, "yelp": 1}, 7: {"northwind": 4, "yelp": 1}})
    runs("bad", {42: {"northwind": 9, "yelp": 0}, 7: {"northwind": 9, "yelp": 0}})
    good = compare_seeds("good", "today", (42, 7), results=tmp_path).read_text().splitlines()
    assert "| northwind | 42,7 | 4.00 | 5.00 | +1.00 |" in good and "| yelp | 42,7 | 1.50 | 1.00 | -0.50 |" in good
    assert good[-1].endswith(": lands.")
    # the mean rises by far, but yelp loses 1.5 questions on average: by the rule it does not land
    assert compare_seeds("bad", "today", (42, 7, 11), results=tmp_path).read_text().endswith(": does not land.\n")
    assert "No database has runs" in compare_seeds("good", "none", (42,), results=tmp_path).read_text()


def test_a_table_is_not_rebuilt_over_results_where_the_reports_are_missing(tmp_path, monkeypatch, capsys):
    import bench.quality as quality

    monkeypatch.setattr(quality, "REPORTS_DIR", tmp_path / "quality-runs")
    monkeypatch.setattr(quality, "RESULTS_DIR", tmp_path)
    save([table_row("yelp", _report(16, 2, 3), _report(16, 0, 0))], {"minutes": 5, "limit": 16, "only": None},
         results=tmp_path, tag="year-s7")
    kept = (tmp_path / "quality-year-s7.json").read_text()
    assert main(["--table-only", "--tag", "year", "--seeds", "7", "--db", "yelp"]) == 1
    assert (tmp_path / "quality-year-s7.json").read_text() == kept  # the reports stayed on the machine that ran them
    assert "left as it is" in capsys.readouterr().err
    assert "| yelp | 3 | 3.00 |" in (tmp_path / "quality-year-seeds.md").read_text()  # made from the results
