"""What every command shares: the common options and loading the config from them."""

from __future__ import annotations

import argparse

from workspace.config import Config, load_config

__all__ = ["add_common", "config_from"]


def add_common(p: argparse.ArgumentParser, *, url: bool = True) -> None:
    if url:
        p.add_argument("--database-url", metavar="URL",
                       help="database to use (default: DATABASE_URL, config.yaml, "
                            "else the embedded PostgreSQL)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def config_from(args: argparse.Namespace) -> Config:
    cli = {"database.url": getattr(args, "database_url", None)}
    return load_config(args.project_dir, config_file=args.config, cli=cli)
