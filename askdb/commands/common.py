"""What every command shares: config loading and the global options."""
from __future__ import annotations

import argparse

from ..config import Config, load_config, validate


def add_common(p: argparse.ArgumentParser) -> None:
    """--config and --database on every command."""
    p.add_argument("--config", metavar="PATH", help="config file (default: ./config.yaml if present)")
    p.add_argument("--database", metavar="URL", help="PostgreSQL URL (default: config, else the embedded server)")


def config_from(args: argparse.Namespace) -> Config:
    """The validated config for these arguments."""
    return validate(load_config(getattr(args, "config", None)))
