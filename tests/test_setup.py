"""askdb setup and profiles, end to end on real Postgres: a database from nothing to a trained profile."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest
import yaml

from askdb.cli import main
from askdb.config import cache_dir, load_config
from askdb.profile import load_profile, save_profile
from askdb.runtime import example_paths, resolve_adapter, with_user
from pipeline.relations import InferredKey

from .conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
RESTAURANTS = ROOT / "databases" / "defog" / "restaurants.sql"


def _scratch(pg_admin_url: str, name: str, sql: str | None) -> str:
    return asyncio.run(create_database(pg_admin_url, name, sql))


def _drop(pg_admin_url: str, name: str) -> None:
    asyncio.run(drop_database(pg_admin_url, name))


@pytest.fixture()
def restaurants_url(pg_admin_url, test_run_id):
    name = f"askdb_setup_{test_run_id}"
    yield _scratch(pg_admin_url, name, RESTAURANTS.read_text())
    _drop(pg_admin_url, name)


def _config(tmp_path: Path, **train) -> Path:
    """A config whose profiles live in tmp_path and whose training takes a few tiny steps."""
    cfg = {"profile": "unused", "paths": {"profiles": str(tmp_path / "profiles"), "home": str(tmp_path / "home"),
                                          "cache": str(cache_dir(load_config(None)))},  # the dequantized weights
           "guard": {"denied_columns": []},
           "train": {"max_steps": 2, "batch_size": 4, "micro_batch_size": 2, "few_shot_k": 0, "eval_every": 1,
                     "val_fraction": 0.1, "max_pairs": 24, **train}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_setup_takes_a_database_without_declared_keys_to_a_trained_profile(restaurants_url, tmp_path, capsys):
    config = _config(tmp_path)
    # A box far longer than two tiny steps take, so that train.max_steps decides however busy the machine is.
    args = ["setup", "--config", str(config), "--database", restaurants_url, "--profile", "rest", "--minutes", "60",
            "--count", "60"]
    assert main(args) == 0
    out = capsys.readouterr()
    profile = load_profile(tmp_path / "profiles", "rest")
    # The joins the data supports, recorded for the prompt, the guard and the generator alike.
    assert InferredKey("location", "restaurant_id", "restaurant", "id") in profile.joins
    pairs = [json.loads(line) for line in profile.samples.read_text().splitlines()]
    assert len(pairs) >= 50
    assert any(" JOIN " in p["sql"].upper() for p in pairs)
    assert profile.trained() and profile.data_sha256
    report = json.loads((profile.adapter / "train_report.json").read_text())
    assert report["steps"] == 2 and report["dropped_too_long"] == 0
    assert "askdb serve discord --profile rest" in out.out
    for step in ("[1/6] connect", "[4/6] generate", "[5/6] train", "[6/6] profile"):
        assert step in out.err

    # Run again: every step is done, nothing is generated or trained twice.
    before = (profile.adapter / "adapter_model.safetensors").stat().st_mtime_ns
    assert main(args) == 0
    assert (profile.adapter / "adapter_model.safetensors").stat().st_mtime_ns == before
    assert len(profile.samples.read_text().splitlines()) == len(pairs)


def test_setup_dry_run_says_what_it_would_do_and_writes_nothing(restaurants_url, tmp_path, capsys):
    config = _config(tmp_path)
    assert main(["setup", "--config", str(config), "--database", restaurants_url, "--profile", "rest",
                 "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "location.restaurant_id -> restaurant.id" in out
    assert "3 tables" in out and "generate" in out and "train" in out
    assert not (tmp_path / "profiles").exists()


def test_setup_on_an_unreachable_server_is_one_clear_line(tmp_path, capsys):
    config = _config(tmp_path)
    code = main(["setup", "--config", str(config), "--database", "postgresql://nobody@127.0.0.1:1/nothing",
                 "--profile", "x"])
    err = capsys.readouterr().err
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("askdb: ") and "127.0.0.1:1" in last and "Traceback" not in err


def test_setup_on_a_database_without_tables_says_so(pg_admin_url, test_run_id, tmp_path, capsys):
    name = f"askdb_empty_{test_run_id}"
    url = _scratch(pg_admin_url, name, None)
    try:
        code = main(["setup", "--config", str(_config(tmp_path)), "--database", url, "--profile", "empty"])
    finally:
        _drop(pg_admin_url, name)
    err = capsys.readouterr().err
    assert code == 1
    assert "has no tables" in err and "Traceback" not in err


def test_a_profile_is_chosen_by_configuration_not_by_the_database_name(tmp_path):
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.profile == "course"
    here = Path.cwd()
    try:
        import os
        os.chdir(ROOT)
        assert example_paths(cfg)[0] == Path("profiles/course/samples.jsonl")
        assert resolve_adapter(cfg) == "profiles/course/adapter"
    finally:
        os.chdir(here)
    # Joins and words round-trip through profile.yaml as people write them.
    other = cfg.replace(profile="mine", paths=cfg.paths.__class__(profiles=str(tmp_path)))
    from askdb.config import active_profile

    profile = active_profile(other)
    assert profile.joins == () and not profile.trained()
    import dataclasses
    save_profile(dataclasses.replace(profile, joins=(InferredKey("a", "b_id", "b", "id"),), words={"term": ["semester"]}))
    again = active_profile(other)
    assert again.joins == (InferredKey("a", "b_id", "b", "id"),) and again.words == {"term": ["semester"]}
    assert "a.b_id -> b.id" in again.file.read_text()


def test_setup_as_a_user_without_privileges_says_what_to_do(restaurants_url, pg_admin_url, test_run_id, tmp_path,
                                                             capsys):
    user = f"askdb_noperm_{test_run_id}"

    async def role(sql: str) -> None:
        conn = await asyncpg.connect(restaurants_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()
    asyncio.run(role(f'CREATE ROLE "{user}" LOGIN'))
    try:
        url = with_user(restaurants_url, user)
        code = main(["setup", "--config", str(_config(tmp_path)), "--database", url, "--profile", "np"])
    finally:
        asyncio.run(role(f'DROP OWNED BY "{user}"; DROP ROLE "{user}"'))
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "setup stopped at 'connect'" in err and "connect as their owner" in err
