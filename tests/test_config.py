"""Config: unknown keys and wrong types are one clear error naming the key."""
import pytest

from askdb.config import load_config, validate
from pipeline.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "config.yaml"
    p.write_text(text)
    return p


def test_shipped_config_loads():
    cfg = validate(load_config("config.yaml", env={}))
    assert cfg.model.backend == "llamacpp" and "students.email" in cfg.guard.denied_columns


@pytest.mark.parametrize("text, key", [
    ("database:\n  urll: x\n", "database.urll"),
    ("modle: {}\n", "modle"),
    ("database:\n  max_rows: lots\n", "database.max_rows"),
    ("answer:\n  use_model: maybe\n", "answer.use_model"),
    ("guard:\n  denied_columns: students.email\n", "guard.denied_columns"),
    ("model:\n  ollama: 3\n", "model.ollama"),
    ("database: [1, 2]\n", "database"),
    ("database:\n  url: [unclosed\n", "config.yaml"),
])
def test_malformed_config_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), env={})
    assert err.value.key.endswith(key)
    assert key.split(".")[-1] in str(err.value)


def test_validate_checks_choices(tmp_path):
    with pytest.raises(ConfigError, match="model.backend"):
        validate(load_config(write(tmp_path, "model:\n  backend: gpt\n"), env={}))


def test_env_overrides_database_url(tmp_path):
    cfg = load_config(write(tmp_path, "database:\n  url: postgresql://a/b\n"), env={"ASKDB_DATABASE_URL": "postgresql://c/d"})
    assert cfg.database.url == "postgresql://c/d"


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml", env={})


def test_an_adapter_is_shown_as_many_examples_as_it_was_trained_with(tmp_path):
    import json

    from askdb.runtime import adapter_few_shot_k

    (tmp_path / "train_report.json").write_text(json.dumps({"config": {"few_shot_k": 3}}))
    assert adapter_few_shot_k(str(tmp_path), 2) == 3
    (tmp_path / "train_report.json").write_text("{not json")
    assert adapter_few_shot_k(str(tmp_path), 2) == 2  # unreadable report: the configured fallback
    assert adapter_few_shot_k(str(tmp_path / "missing"), 1) == 1


def test_retrieval_follows_the_adapter_unless_configured(tmp_path):
    import json

    from askdb.runtime import adapter_retrieval_match

    (tmp_path / "train_report.json").write_text(json.dumps({"config": {"retrieve_by": "both"}}))
    assert adapter_retrieval_match(str(tmp_path)) == "both"
    (tmp_path / "train_report.json").write_text(json.dumps({"config": {"mask_entities": True}}))
    assert adapter_retrieval_match(str(tmp_path)) == "skeleton"  # reports written before retrieve_by
    assert adapter_retrieval_match(None) == "question"
    with pytest.raises(ConfigError, match="sql.retrieve_by"):
        validate(load_config(write(tmp_path, "sql:\n  retrieve_by: entity\n"), env={}))
