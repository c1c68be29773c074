"""config.yaml -> frozen dataclasses; unknown keys and wrong types are errors naming the key."""
from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from finetune.settings import TrainSettings as TrainConfig  # noqa: E402 - one definition for file and code
from pipeline.errors import ConfigError
from pipeline.retrieval import MATCH_KEYS


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = ""  # empty: the embedded server under paths.home
    schema: str = "public"
    query_role: str = "askdb_query"
    query_password_env: str = "ASKDB_QUERY_PASSWORD"
    statement_timeout_ms: int = 5000
    max_rows: int = 200
    max_result_bytes: int = 64000
    pool_size: int = 8
    connect_timeout_s: float = 10.0


@dataclass(frozen=True)
class GuardConfig:
    allowed_tables: list[str] | None = None  # None: every table of database.schema
    denied_tables: list[str] = field(default_factory=list)
    denied_columns: list[str] = field(default_factory=list)  # "table.column"
    allow_system_catalogs: bool = False


@dataclass(frozen=True)
class OllamaConfig:
    host: str = "http://127.0.0.1:11434"
    model: str = "askdb-course"


@dataclass(frozen=True)
class OpenAIConfig:
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "askdb-course"
    api_key_env: str = "ASKDB_OPENAI_API_KEY"


BACKENDS = ("llamacpp", "transformers", "ollama", "openai")
EMBEDDED_BACKENDS = ("llamacpp", "transformers")  # run in this process and apply the profile's adapter


@dataclass(frozen=True)
class ModelConfig:
    backend: str = "llamacpp"  # llamacpp | transformers | ollama | openai
    source: str = "bundled"  # bundled, a .gguf path, or a transformers directory
    adapter: str = ""  # LoRA directory; empty: the active profile's adapter/ (ignored when missing)
    device: str = ""  # "" picks cuda when present
    timeout_s: float = 60.0
    max_batch: int = 8
    threads: int = 0  # llamacpp: CPU threads (0: one per core but one)
    context_tokens: int = 2048  # llamacpp: the context window it allocates
    ollama: OllamaConfig = field(default_factory=OllamaConfig)
    openai: OpenAIConfig = field(default_factory=OpenAIConfig)


@dataclass(frozen=True)
class SqlConfig:
    prompt_token_budget: int = 700
    few_shot_k: int = 3
    self_correction_attempts: int = 1
    candidates_on_error: int = 4  # beam-search alternatives tried when the first SQL fails
    max_new_tokens: int = 120
    today: str = ""  # fixed ISO date for tests; empty: the real date
    adapter_few_shot_k: int = 2  # with an adapter whose train_report.json does not record its few-shot k
    retrieve_by: str = ""  # question | skeleton | both; empty: as the adapter was trained (train_report.json)
    link_weight: float = 1.0  # weight of schema linking when ranking examples; 0: similarity alone
    rank_candidates: int = 0  # >1: replace a first statement that contradicts the question by the best beam candidate
    vote_candidates: int = 0  # >1: run this many candidates and answer the rows most of them return (pipeline/vote.py)
    adapt_examples: bool = True  # with linking: show examples asked with the question's own values and numbers
    grammar: bool = False  # llamacpp: table and column names only from the schema (pipeline/grammar.py); off: make quality
    clean_examples: int = 0  # > 0: of this many nearest examples, those filtering on no value the question leaves
                             # unnamed are shown first (pipeline.literals)
    scope_check: bool = False  # True: a question the database cannot answer gets a reply naming what it holds
                               # (pipeline/scope.py); off until it refuses fewer answerable questions elsewhere
    schema_comments: bool = False  # the schema's COMMENT ON text in the prompt, first clause only (docs/pipeline.md)


@dataclass(frozen=True)
class GenerateConfig:
    """askdb generate: execution-verified question/SQL pairs for training (finetune/generator)."""
    count: int = 500
    seed: int = 42
    sources: list[str] = field(default_factory=lambda: ["sampling", "llm_questions"])  # + llm_free
    llm_fraction: float = 0.1  # share of sampled pairs whose question the model rephrases
    free_fraction: float = 0.1  # share of the count the model writes from scratch (when llm_free is on)
    followup_fraction: float = 0.1  # follow-up pairs ('top 5 instead' after a kept pair), as a share of the count
    year_periods: bool = False  # where no table of terms applies, counts and totals within one year of a row's date
    attribute_filters: bool = False  # filters by repeated short text that is no category too ('suppliers in Japan')
    phrasings_per_sql: int = 1
    require_rows: bool = True
    max_shape_share: float = 0.1
    exclude: list[str] = field(default_factory=lambda: ["finetune/eval/*.jsonl"])  # never produce these pairs
    concurrency: int = 8
    batch_size: int = 48


@dataclass(frozen=True)
class AnswerConfig:
    use_model: bool = True
    max_new_tokens: int = 80
    timeout_s: float = 20.0
    max_answer_chars: int = 1800


@dataclass(frozen=True)
class LimitsConfig:
    max_question_chars: int = 500
    per_user_per_minute: int = 6
    max_concurrent: int = 4
    max_queue: int = 32
    shutdown_grace_s: float = 20.0  # in-flight questions get this long to finish on shutdown
    conversation_turns: int = 3  # a follow-up is read with this many earlier turns of its thread or chat (0: none)
    conversation_minutes: float = 30.0  # a thread's turns are forgotten after this long without a question


@dataclass(frozen=True)
class DiscordConfig:
    token_env: str = "DISCORD_TOKEN"
    guild_id: int | None = None
    channels: list[int] = field(default_factory=list)  # answer mentions here; empty: everywhere
    admin_role: str = "askdb-admin"
    show_sql: bool = True  # false: SQL behind a "Show SQL" button
    mentions: bool = True  # answer @mentions (requests the message_content intent)


@dataclass(frozen=True)
class SlackConfig:
    mode: str = "socket"  # socket | http
    bot_token_env: str = "SLACK_BOT_TOKEN"
    app_token_env: str = "SLACK_APP_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    port: int = 3000
    response_type: str = "ephemeral"  # ephemeral | in_channel
    admin_users: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FeedbackConfig:
    schema: str = "askdb"
    retention_days: int = 365
    spool_file: str = ""  # empty: <home>/feedback-spool.jsonl
    variants_per_correction: int = 3  # export: this many verified copies of each correction with other values


@dataclass(frozen=True)
class PathsConfig:
    home: str = ""  # empty: ~/.local/share/askdb (or $ASKDB_HOME)
    cache: str = ""  # empty: <home>/cache
    profiles: str = "profiles"  # where profiles live (askdb.profile)


@dataclass(frozen=True)
class Config:
    profile: str = "course"  # profiles/<name>/: what askdb learned about the database (never chosen by its name)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    sql: SqlConfig = field(default_factory=SqlConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    answer: AnswerConfig = field(default_factory=AnswerConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)

    def replace(self, **sections) -> "Config":
        """A copy with whole sections replaced."""
        return dataclasses.replace(self, **sections)


def load_config(path: str | os.PathLike | None = None, *, env: typing.Mapping[str, str] = os.environ) -> Config:
    """Read `path` (or ./config.yaml when present, else defaults) and apply ASKDB_DATABASE_URL."""
    data: dict = {}
    if path is None and Path("config.yaml").exists():
        path = "config.yaml"
    if path is not None:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(str(path), f"cannot read the file ({exc.strerror})") from exc
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(str(path), f"not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("(top level)", "expected a mapping of sections")
    cfg = _build(Config, data, "")
    if env.get("ASKDB_DATABASE_URL"):
        cfg = cfg.replace(database=dataclasses.replace(cfg.database, url=env["ASKDB_DATABASE_URL"]))
    return cfg


def _build(cls, data, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(prefix.rstrip(".") or "(top level)", f"expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(where, f"unknown key (known: {', '.join(sorted(fields))})")
        kwargs[key] = _coerce(hints[key], value, where)
    return cls(**kwargs)


def _coerce(tp, value, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value if value is not None else {}, where + ".")
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(where, f"expected a list, got {type(value).__name__}")
        items = [_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(where, f"expected true or false, got {value!r}")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (tp is int and isinstance(value, float)):
            raise ConfigError(where, f"expected a number ({tp.__name__}), got {value!r}")
        return tp(value)
    if tp is str:
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)):
            raise ConfigError(where, f"expected text, got {type(value).__name__}")
        return str(value)
    return value


def validate(cfg: Config) -> Config:
    """Check values that types alone cannot (choices, ranges)."""
    from .profile import profile_dir

    profile_dir(cfg.paths.profiles, cfg.profile)  # a plain folder name, or a ConfigError naming `profile`
    if cfg.model.backend not in BACKENDS:
        raise ConfigError("model.backend", f"must be one of {', '.join(BACKENDS)}, not {cfg.model.backend!r}")
    if cfg.slack.mode not in ("socket", "http"):
        raise ConfigError("slack.mode", f"must be socket or http, not {cfg.slack.mode!r}")
    if cfg.slack.response_type not in ("ephemeral", "in_channel"):
        raise ConfigError("slack.response_type", "must be ephemeral or in_channel")
    for key, val, allowed in (("train.retrieve_by", cfg.train.retrieve_by, tuple(MATCH_KEYS)),
                              ("sql.retrieve_by", cfg.sql.retrieve_by, ("", *MATCH_KEYS))):
        if val not in allowed:
            raise ConfigError(key, f"must be question, skeleton or both, not {val!r}")
    if cfg.sql.link_weight < 0:
        raise ConfigError("sql.link_weight", f"must be 0 or more, got {cfg.sql.link_weight}")
    for key, val in (("database.statement_timeout_ms", cfg.database.statement_timeout_ms),
                     ("database.max_rows", cfg.database.max_rows), ("database.pool_size", cfg.database.pool_size),
                     ("limits.max_question_chars", cfg.limits.max_question_chars),
                     ("limits.max_concurrent", cfg.limits.max_concurrent)):
        if val <= 0:
            raise ConfigError(key, f"must be positive, got {val}")
    for dc in cfg.guard.denied_columns:
        if "." not in dc:
            raise ConfigError("guard.denied_columns", f"{dc!r} should be written table.column")
    return cfg


def home_dir(cfg: Config) -> Path:
    """askdb's data home: paths.home, $ASKDB_HOME, or ~/.local/share/askdb."""
    from .embedded import data_home

    return Path(os.path.expanduser(cfg.paths.home)) if cfg.paths.home else data_home()


def active_profile(cfg: Config):
    """The profile config (or --profile) selects: askdb.profile.Profile."""
    from .profile import load_profile

    return load_profile(cfg.paths.profiles, cfg.profile)


def cache_dir(cfg: Config) -> Path:
    """Where dequantized weights and embeddings are cached."""
    return Path(os.path.expanduser(cfg.paths.cache)) if cfg.paths.cache else home_dir(cfg) / "cache"
