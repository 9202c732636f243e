"""Options every subcommand shares, defined once (commands live with their features)."""

from __future__ import annotations

import argparse


def config_arg(parser: argparse.ArgumentParser) -> None:
    """`-c/--config`, default ./rules.yaml."""
    parser.add_argument(
        "-c", "--config", default="rules.yaml", help="rules file (default: ./rules.yaml)"
    )
