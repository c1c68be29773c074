"""The embedded PostgreSQL default: a real server from the pgserver wheel."""
from __future__ import annotations

import os
from pathlib import Path


def _private_runtime_dir() -> None:
    # platformdirs (used by pgserver) warns loudly without a private runtime dir.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = os.path.join("/tmp", f"askdb-runtime-{os.getuid()}")
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = path


_private_runtime_dir()


def data_home() -> Path:
    """Where askdb keeps its embedded database and caches (~/.local/share/askdb by default)."""
    base = os.environ.get("ASKDB_HOME") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "askdb"
    )
    return Path(base)


def start_embedded(data_dir: Path | None = None, database: str = "askdb") -> str:
    """Start (or reuse) the embedded server under `data_dir` and return a URL for `database`."""
    import pgserver  # imported lazily: only needed when no server URL is configured

    data_dir = Path(data_dir or data_home() / "pgdata")
    data_dir.mkdir(parents=True, exist_ok=True)
    # 'stop' would shut it down when this process exits; users expect it to persist between runs.
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    uri = server.get_uri()
    if database != "postgres":
        rows = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "1 row" not in rows:
            server.psql(f'CREATE DATABASE "{database}";')
        uri = server.get_uri(database)
    return uri
