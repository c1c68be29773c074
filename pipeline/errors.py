"""The askdb error tree: each error carries what the person reading it needs.

Adapters turn these into friendly text; nothing else catches broad Exception.
"""
from __future__ import annotations


class AskdbError(Exception):
    """Base of every error askdb shows to a person."""

    def user_message(self) -> str:
        """Text fit to show in a chat or a terminal."""
        return str(self)


class UnsafeSql(AskdbError):
    """The guard refused a statement; `reason` says why in plain words."""

    def __init__(self, reason: str, sql: str = ""):
        self.reason = reason
        self.sql = sql
        super().__init__(f"Refused: {reason}")


class QueryTimeout(AskdbError):
    """Postgres cancelled the query at the statement timeout."""

    def __init__(self, timeout_ms: int):
        self.timeout_ms = timeout_ms
        super().__init__(f"The query took longer than {timeout_ms / 1000:g} s and was cancelled.")


class QueryFailed(AskdbError):
    """Postgres rejected or failed the query; `pg_message` is its own words."""

    def __init__(self, pg_message: str, sqlstate: str | None = None):
        self.pg_message = pg_message
        self.sqlstate = sqlstate
        super().__init__(f"The database could not run the query: {pg_message}")


class DatabaseUnavailable(AskdbError):
    """The database could not be reached (down, restarting, refused)."""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(f"The database is not reachable right now ({detail}). Please try again shortly.")


class ModelUnavailable(AskdbError):
    """A model backend could not be reached or has no such model."""

    def __init__(self, host: str, model: str, detail: str = ""):
        self.host = host
        self.model = model
        self.detail = detail
        extra = f": {detail}" if detail else ""
        super().__init__(f"Model '{model}' at {host} is unavailable{extra}")


class ModelTimeout(ModelUnavailable):
    """A model backend did not answer within its timeout."""

    def __init__(self, host: str, model: str, timeout_s: float):
        self.timeout_s = timeout_s
        super().__init__(host, model, f"no answer within {timeout_s:g} s")


class ModelNotInstalled(AskdbError):
    """The bundled model package is missing; the message says how to install it."""


class ConfigError(AskdbError):
    """The configuration is malformed; `key` names the offending key."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"Config error at '{key}': {problem}")


class QuestionRejected(AskdbError):
    """The question itself cannot be taken (empty, too long)."""


class Busy(AskdbError):
    """The bot is at capacity or the user is rate limited."""
