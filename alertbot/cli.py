"""Command line: the one place where errors become messages and exit codes."""

from __future__ import annotations

import argparse
import sys

from alertbot import __version__


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and its options."""
    parser = argparse.ArgumentParser(prog="alertbot", description=__doc__)
    parser.add_argument("--version", action="version", version=f"alertbot {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `alertbot` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0
