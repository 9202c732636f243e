"""`alertbot state migrate --to postgresql`: move a SQLite state dir into a PostgreSQL database."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import yaml

from alertbot.commands.args import config_arg
from alertbot.config_load import check_file
from alertbot.core.errors import AlertbotError
from alertbot.core.paths import state_dir_of
from alertbot.core.secrets import remember
from alertbot.state.config import StateConfig, masked_dsn

DSN_ENV = "ALERTBOT_PG_DSN"


def register(subparsers: Any) -> None:
    """Add `state migrate` to the CLI's subparsers."""
    state = subparsers.add_parser("state", help="manage the state backend")
    actions = state.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    migrate = actions.add_parser(
        "migrate", help="copy a SQLite state dir (outbox, alerts, silences...) into PostgreSQL"
    )
    config_arg(migrate)
    migrate.add_argument("--to", choices=["postgresql"], required=True, help="target backend")
    migrate.add_argument(
        "--dsn", help=f"target database (default: ${DSN_ENV}; the environment keeps it off ps)"
    )
    migrate.add_argument("--state-dir", help="the SQLite state dir (default: the config's)")
    migrate.add_argument(
        "--replace", action="store_true", help="empty a target that already holds state"
    )
    migrate.set_defaults(handler=cmd_state_migrate)


def configured_state(config_path: str) -> tuple[str, StateConfig | None, list[str] | None]:
    """state_dir, the `state:` section and rule names as `run` reads them.

    A config with errors still gives its state_dir (SQLite), but not a postgresql backend:
    its dsn cannot be trusted then, and the SQLite folder would be the wrong store.
    """
    result = check_file(config_path)
    if result.config is not None:
        config = result.config
        return config.state_dir, config.state, [r.name for r in config.rules]
    if _names_postgresql(config_path):
        raise AlertbotError(
            f"{config_path} has errors and its state backend is postgresql: fix it first "
            f"(alertbot check -c {config_path})"
        )
    return state_dir_of(config_path, os.environ), None, None


def _names_postgresql(config_path: str) -> bool:
    try:
        raw = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    state = raw.get("state") if isinstance(raw, dict) else None
    return isinstance(state, dict) and state.get("backend") == "postgresql"


def cmd_state_migrate(args: argparse.Namespace) -> int:
    """alertbot state migrate: copy, then say what was copied and what to set in rules.yaml."""
    from alertbot.state.pgmigrate import migrate_to_postgres

    dsn = args.dsn or os.environ.get(DSN_ENV, "")
    if not dsn:
        raise AlertbotError(f"state migrate needs --dsn or ${DSN_ENV}")
    remember([dsn])  # every message below is scrubbed of its password
    try:
        target = StateConfig.model_validate({"backend": "postgresql", "dsn": dsn})
    except ValueError:
        raise AlertbotError(f"--dsn is not a PostgreSQL connection string ({DSN_ENV})") from None
    source = args.state_dir or state_dir_of(args.config, os.environ)
    counts = migrate_to_postgres(source, target, replace=args.replace)
    print(f"copied {source} into {masked_dsn(dsn)}:")
    for table, count in counts.items():
        print(f"  {table}: {count} row(s)")
    print("now set `state: {backend: postgresql, dsn: ${ALERTBOT_PG_DSN}}` in rules.yaml")
    return 0
