"""A profile: everything askdb learned about one database, in one folder chosen by configuration.

profiles/<name>/
    profile.yaml       what it is (the joins inferred from the data, the data's hash, how it was set up)
    samples.jsonl      generated question/SQL pairs (training data and retrieved examples)
    corrections.jsonl  reviewers' corrections exported from the feedback loop
    adapter/           the LoRA adapter trained on them

The profile is chosen by `profile:` in config.yaml or `--profile`, never by the database's name: the bundled course
profile answers whatever the database holding the course data is called.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.relations import InferredKey

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def parse_join(text: str, where: str) -> InferredKey:
    """'table.column -> table.column', as profile.yaml writes a join (InferredKey's str)."""
    m = re.fullmatch(r"\s*(\w+)\.(\w+)\s*->\s*(\w+)\.(\w+)\s*", str(text))
    if not m:
        raise ConfigError(where, f"{text!r} is not written 'table.column -> table.column'")
    return InferredKey(*m.groups())


@dataclass(frozen=True)
class Profile:
    name: str
    root: Path
    database: str = ""  # the database it was set up from (informational: never used to choose a profile)
    joins: tuple[InferredKey, ...] = ()  # relationships the database does not declare (pipeline.relations)
    words: dict = dataclasses.field(default_factory=dict)  # domain words: {"semester": ["term"]}
    data_sha256: str = ""  # of the files the adapter was trained on (samples, and corrections once there are some)
    created: str = ""

    @property
    def samples(self) -> Path:
        return self.root / "samples.jsonl"

    @property
    def corrections(self) -> Path:
        return self.root / "corrections.jsonl"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def file(self) -> Path:
        return self.root / "profile.yaml"

    def trained(self) -> bool:
        """Whether an adapter has been trained for this profile."""
        return (self.adapter / "adapter_config.json").exists()


def profile_dir(root: str | Path, name: str) -> Path:
    """The folder of profile `name` under `root`, after checking the name is a plain folder name."""
    if not _NAME.match(name or ""):
        raise ConfigError("profile", f"{name!r} is not a usable profile name (letters, digits, '_', '-', '.')")
    return Path(root) / name


def load_profile(root: str | Path, name: str) -> Profile:
    """Profile `name` under `root`; one never set up is empty (no joins, no samples, no adapter)."""
    folder = profile_dir(root, name)
    path = folder / "profile.yaml"
    if not path.exists():
        return Profile(name, folder)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), f"cannot read the profile: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(str(path), "expected a mapping")
    known = {"name", "database", "joins", "words", "data_sha256", "created", "setup"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{path}: {key}", f"unknown key (known: {', '.join(sorted(known))})")
    joins = tuple(parse_join(j, f"{path}: joins[{i}]") for i, j in enumerate(data.get("joins") or []))
    words = data.get("words") or {}
    if not isinstance(words, dict):
        raise ConfigError(f"{path}: words", "expected a mapping of a word to the words it also means")
    return Profile(name, folder, str(data.get("database") or ""), joins,
                   {str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in words.items()},
                   str(data.get("data_sha256") or ""), str(data.get("created") or ""))


def save_profile(profile: Profile, *, setup: dict | None = None) -> Path:
    """Write profile.yaml (creating the folder); `setup` records how `askdb setup` made it."""
    profile.root.mkdir(parents=True, exist_ok=True)
    data = {"name": profile.name, "database": profile.database, "created": profile.created,
            "data_sha256": profile.data_sha256, "joins": [str(j) for j in profile.joins], "words": profile.words}
    if setup:
        data["setup"] = setup
    text = ("# What askdb learned about one database (askdb setup writes it; edit joins and words freely).\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    tmp = profile.file.with_suffix(".yaml.tmp")
    tmp.write_text(text)
    tmp.replace(profile.file)
    return profile.file
