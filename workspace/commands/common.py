"""What every command shares: the common options and loading the config from them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workspace.config.models import Config

__all__ = ["add_common", "config_from"]


def add_common(p: argparse.ArgumentParser, *, url: bool = True) -> None:
    if url:
        p.add_argument("--database-url", metavar="URL",
                       help="database to use (default: DATABASE_URL, config.yaml, "
                            "else the embedded PostgreSQL)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def config_from(args: argparse.Namespace) -> Config:
    # validated by pydantic on a miss only: a warm command does not import it
    from workspace.config.cache import load_config

    cli = {"database.url": getattr(args, "database_url", None)}
    return load_config(args.project_dir, config_file=args.config, cli=cli)
