"""What every command shares: config loading and the global options."""
from __future__ import annotations

import argparse

from ..config import Config, load_config, validate


def add_common(p: argparse.ArgumentParser) -> None:
    """--config, --database and --profile on every command."""
    p.add_argument("--config", metavar="PATH", help="config file (default: ./config.yaml if present)")
    p.add_argument("--database", metavar="URL", help="PostgreSQL URL (default: config, else the embedded server)")
    p.add_argument("--profile", metavar="NAME", help="what askdb learned about this database, profiles/NAME "
                                                      "(default: config's profile)")


def config_from(args: argparse.Namespace) -> Config:
    """The validated config for these arguments."""
    cfg = load_config(getattr(args, "config", None))
    if getattr(args, "profile", None):
        cfg = cfg.replace(profile=args.profile)
    return validate(cfg)
