"""The composition root: open the pool, the model and the example store once, build the Pipeline, close all."""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable

import asyncpg

from pipeline.database import declared_today, open_pool
from pipeline.errors import ConfigError, DatabaseUnavailable
from pipeline.executor import ExecLimits
from pipeline.guard import GuardPolicy
from pipeline.linking import load_linker
from pipeline.models.base import GrammarModel, TextModel
from pipeline.pipeline import Pipeline, PipelineSettings
from pipeline.retrieval import MATCH_KEYS, ExampleStore, MiniLMEmbedder
from pipeline.schema import Schema, introspect_schema
from pipeline.scope import load_vocabulary

from .config import EMBEDDED_BACKENDS, Config, active_profile, cache_dir, home_dir

log = logging.getLogger("askdb")


def resolve_database_url(cfg: Config, override: str | None = None) -> str:
    """The owner's URL: --database, config/ASKDB_DATABASE_URL, else the embedded server."""
    url = override or cfg.database.url
    if url:
        return url
    from .embedded import start_embedded

    return start_embedded(home_dir(cfg) / "pgdata", database="askdb")


def with_user(url: str, user: str, password: str | None = None) -> str:
    """`url` with its user (and password) replaced."""
    m = re.match(r"^(?P<scheme>[a-z]+://)(?:(?P<auth>[^@/]*)@)?(?P<rest>.*)$", url)
    if not m:
        raise ConfigError("database.url", "not a postgresql:// URL")
    auth = user + (f":{password}" if password else "")
    return f"{m['scheme']}{auth}@{m['rest']}"


def query_url(cfg: Config, owner_url: str) -> str:
    """The URL of the read-only query role for the same database."""
    return with_user(owner_url, cfg.database.query_role, os.environ.get(cfg.database.query_password_env) or None)


def database_name(url: str) -> str:
    """The database's name in its URL (shown to people; a profile is never chosen by it)."""
    return url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "postgres"


async def read_schema(cfg: Config, conn) -> Schema:
    """The database's schema with the joins the active profile inferred (askdb setup) added to its declared ones:
    the prompt, the guard, the generator and the linker all see the same relationships."""
    from pipeline.relations import with_foreign_keys

    schema = await introspect_schema(conn, schema=cfg.database.schema, exclude_tables=frozenset(cfg.guard.denied_tables))
    return with_foreign_keys(schema, active_profile(cfg).joins)


def guard_policy(cfg: Config, schema: Schema) -> GuardPolicy:
    """The guard's policy from config and the introspected schema."""
    allowed = frozenset(cfg.guard.allowed_tables) if cfg.guard.allowed_tables is not None else None
    return GuardPolicy.from_schema(
        schema, schemas=(cfg.database.schema,), allowed_tables=allowed,
        denied_tables=frozenset(cfg.guard.denied_tables), denied_columns=frozenset(cfg.guard.denied_columns),
        allow_system_catalogs=cfg.guard.allow_system_catalogs)


def visible_schema(cfg: Config, schema: Schema) -> Schema:
    """`schema` as the model sees it: the guard's denied columns removed."""
    return schema.without_columns(guard_policy(cfg, schema).denied_columns)


def pipeline_settings(cfg: Config) -> PipelineSettings:
    """Pipeline knobs from config."""
    return PipelineSettings(
        budget_tokens=cfg.sql.prompt_token_budget, few_shot_k=cfg.sql.few_shot_k,
        self_correction_attempts=cfg.sql.self_correction_attempts,
        candidates_on_error=cfg.sql.candidates_on_error, max_new_tokens=cfg.sql.max_new_tokens,
        rank_candidates=cfg.sql.rank_candidates, vote_candidates=cfg.sql.vote_candidates, scope_check=cfg.sql.scope_check,
        schema_comments=cfg.sql.schema_comments,
        max_question_chars=cfg.limits.max_question_chars, answer_with_model=cfg.answer.use_model,
        answer_timeout_s=cfg.answer.timeout_s, answer_max_tokens=cfg.answer.max_new_tokens,
        max_answer_chars=cfg.answer.max_answer_chars,
        limits=ExecLimits(cfg.database.statement_timeout_ms, cfg.database.max_rows, cfg.database.max_result_bytes))


def clock(cfg: Config, declared: dt.date | None = None):
    """Today's date: the fixed one from sql.today, else the one the database declares (`declared_today`), else the
    real date."""
    fixed = dt.date.fromisoformat(cfg.sql.today) if cfg.sql.today else declared
    if fixed is not None:
        return lambda: fixed
    return dt.date.today


def resolve_adapter(cfg: Config, adapter: str | None = None, backend: str | None = None) -> str | None:
    """The LoRA directory the transformers backend loads: `adapter` ('' = none), else model.adapter, else the active
    profile's adapter, when trained."""
    if (backend or cfg.model.backend) not in EMBEDDED_BACKENDS:
        return None
    if adapter is None:
        configured = cfg.model.adapter or str(active_profile(cfg).adapter)
        adapter = configured if Path(configured, "adapter_config.json").exists() else None
    return adapter or None


def adapter_few_shot_k(adapter_dir: str, default: int) -> int:
    """The few-shot k an adapter was trained with (its train_report.json), else `default`."""
    try:
        return int(_trained_with(adapter_dir)["few_shot_k"])
    except (KeyError, TypeError, ValueError):
        return default


def adapter_retrieval_match(adapter_dir: str | None) -> str:
    """How the examples an adapter was trained with were retrieved (question, skeleton or both)."""
    config = _trained_with(adapter_dir) if adapter_dir else {}
    if config.get("mask_entities"):  # adapters trained before retrieve_by existed
        return "skeleton"
    match = str(config.get("retrieve_by", "question"))
    return match if match in MATCH_KEYS else "question"


def retrieval_match(cfg: Config, adapter_dir: str | None) -> str:
    """How examples are retrieved: `sql.retrieve_by` when set, else as the adapter was trained."""
    return cfg.sql.retrieve_by or adapter_retrieval_match(adapter_dir)


def _trained_with(adapter_dir: str) -> dict:
    try:
        config = json.loads(Path(adapter_dir, "train_report.json").read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        return {}
    return config if isinstance(config, dict) else {}


async def open_model(cfg: Config, *, adapter: str | None = None, backend: str | None = None) -> TextModel:
    """The configured SQL/answer model (caller closes it with aclose())."""
    backend = backend or cfg.model.backend
    if backend == "llamacpp":
        return await _open_llamacpp(cfg, resolve_adapter(cfg, adapter, backend))
    if backend == "transformers":
        from pipeline.models.transformers_backend import TransformersModel

        return await TransformersModel.load(cfg.model.source, cache_root=cache_dir(cfg),
                                            adapter=resolve_adapter(cfg, adapter, backend),
                                            device=cfg.model.device or None, max_batch=cfg.model.max_batch,
                                            timeout_s=cfg.model.timeout_s)
    if backend == "ollama":
        from pipeline.models.ollama_backend import OllamaModel

        return OllamaModel(host=cfg.model.ollama.host, model=cfg.model.ollama.model, timeout_s=cfg.model.timeout_s)
    if backend == "openai":
        from pipeline.models.openai_backend import OpenAIModel

        return OpenAIModel(base_url=cfg.model.openai.base_url, model=cfg.model.openai.model,
                           api_key=os.environ.get(cfg.model.openai.api_key_env), timeout_s=cfg.model.timeout_s)
    raise ConfigError("model.backend", f"unknown backend {backend!r}")


async def _open_llamacpp(cfg: Config, adapter_dir: str | None) -> TextModel:
    from pipeline.models.bundled import resolve_source
    from pipeline.models.llamacpp_backend import LlamaCppModel

    base = resolve_source(cfg.model.source)
    if base.suffix.lower() != ".gguf":
        raise ConfigError("model.source", f"the llamacpp backend reads a .gguf file, not {base} "
                                          "(use backend: transformers for a transformers directory)")
    model_file = await asyncio.to_thread(llamacpp_model_file, cfg, base, Path(adapter_dir) if adapter_dir else None)
    return await LlamaCppModel.load(model_file, adapter=adapter_dir, threads=cfg.model.threads,
                                    context=cfg.model.context_tokens, timeout_s=cfg.model.timeout_s)


def llamacpp_model_file(cfg: Config, base: Path, adapter_dir: Path | None) -> Path:
    """What llama.cpp loads: the base in 8 bits (made once in the cache), or the base with the adapter merged in, in
    16 bits (made once beside the adapter, else in the cache when that folder is read-only). finetune/lora_gguf.py
    says why."""
    from finetune.lora_gguf import merged_model, widened
    from pipeline.models.bundled import model_key

    key = model_key(base)
    cached = cache_dir(cfg) / "models"
    cached.mkdir(parents=True, exist_ok=True)
    if adapter_dir is None:
        out = cached / f"{base.stem}.q8_0-{key}.gguf"
        if not out.exists():
            log.warning("first start: storing %s in 8 bits under %s (once, about 20 s)", base.name, cached)
            widened(base, out)
        return out
    log.info("llama.cpp model for adapter %s (merged into the base once, then reused)", adapter_dir)
    try:
        return merged_model(adapter_dir, base_gguf=base)
    except OSError:
        name = adapter_dir.resolve().as_posix().strip("/").replace("/", "_")
        return merged_model(adapter_dir, base_gguf=base, out=cached / f"{name}-{key}-f16.gguf")


def sql_grammar(cfg: Config, model: TextModel, schema: Schema, store: ExampleStore | None) -> str | None:
    """The schema's GBNF grammar when the configuration asks for one (sql.grammar) and the model takes one."""
    if not cfg.sql.grammar or not isinstance(model, GrammarModel):
        return None
    from pipeline.grammar import defined_names, schema_grammar

    examples = store.examples if store is not None else ExampleStore.read_jsonl(example_paths(cfg))
    return schema_grammar(schema, defined_names=defined_names(e.sql for e in examples)).text


def example_paths(cfg: Config) -> list[Path]:
    """The few-shot example files of the active profile: its generated pairs and its corrections."""
    profile = active_profile(cfg)
    return [profile.samples, profile.corrections]


@dataclass
class App:
    cfg: Config
    owner_url: str
    pool: asyncpg.Pool
    schema: Schema
    pipeline: Pipeline | None
    model: TextModel | None
    today: Callable[[], dt.date] = dt.date.today  # runtime.clock for this database


@contextlib.asynccontextmanager
async def open_app(cfg: Config, *, database: str | None = None, with_model: bool = True,
                   adapter: str | None = None, backend: str | None = None,
                   few_shot: bool = True, few_shot_k: int | None = None) -> AsyncIterator[App]:
    """Everything a command needs, opened once and closed on exit (pool as the read-only role)."""
    owner_url = resolve_database_url(cfg, database)
    qurl = query_url(cfg, owner_url)
    try:
        pool_cm = open_pool(qurl, max_size=cfg.database.pool_size, timeout_s=cfg.database.connect_timeout_s)
        pool = await pool_cm.__aenter__()
    except DatabaseUnavailable as exc:
        if "role" in str(exc) and "does not exist" in str(exc):
            raise ConfigError("database.query_role",
                              f"the read-only role '{cfg.database.query_role}' does not exist in this database; "
                              "run `askdb db init` (bundled data) or `askdb db grant` (your own database)") from exc
        raise
    model = answer_model = None
    try:
        schema = await read_schema(cfg, pool)
        if not schema.tables:
            raise ConfigError("database.schema",
                              f"no readable tables in schema '{cfg.database.schema}' (run `askdb db init` to load the course data)")
        today = clock(cfg, await declared_today(pool))
        pipeline = None
        if with_model:
            model = await open_model(cfg, adapter=adapter, backend=backend)
            answer_model = model
            if getattr(model, "adapter", None) and cfg.answer.use_model:
                # A SQL-tuned adapter answers every prompt with SQL: phrase answers with the base model.
                answer_model = await open_model(cfg, adapter="", backend=backend or cfg.model.backend)
            settings = pipeline_settings(cfg)
            adapter_dir = resolve_adapter(cfg, adapter, backend)
            if few_shot_k is not None:
                settings = dataclasses.replace(settings, few_shot_k=few_shot_k)
            elif adapter_dir:
                # The adapter sees prompts shaped as in training: as many retrieved examples as it was trained with.
                settings = dataclasses.replace(settings, few_shot_k=adapter_few_shot_k(adapter_dir, cfg.sql.adapter_few_shot_k))
            store = None
            policy = guard_policy(cfg, schema)
            if few_shot and settings.few_shot_k > 0:
                examples = ExampleStore.read_jsonl(example_paths(cfg))
                if examples:
                    linker = None
                    if cfg.sql.link_weight > 0:
                        linker = await load_linker(pool, schema.without_columns(policy.denied_columns))
                    store = ExampleStore(examples, embedder=MiniLMEmbedder.bundled(), cache_dir=cache_dir(cfg),
                                         match=retrieval_match(cfg, adapter_dir), linker=linker,
                                         link_weight=cfg.sql.link_weight, adapt=cfg.sql.adapt_examples,
                                         clean_pool=cfg.sql.clean_examples)
            visible = schema.without_columns(policy.denied_columns)  # what the model may see and name
            pipeline = Pipeline(sql_model=model, answer_model=answer_model, pool=pool, schema=schema,
                                policy=policy, store=store, settings=settings,
                                clock=today, grammar=sql_grammar(cfg, model, visible, store),
                                vocabulary=await load_vocabulary(pool, visible) if settings.scope_check else None)
        yield App(cfg, owner_url, pool, schema, pipeline, model, today)
    finally:
        if answer_model is not None and answer_model is not model:
            await answer_model.aclose()
        if model is not None:
            await model.aclose()
        await pool_cm.__aexit__(None, None, None)
