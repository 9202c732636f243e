"""`alertbot state migrate --to postgresql`: move a SQLite state dir into a PostgreSQL database."""

from __future__ import annotations

import argparse
import os
from typing import Any

from alertbot.commands.args import config_arg
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
