"""`alertbot outbox list|retry`: see what waits or died in the outbox; re-queue a dead letter."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from alertbot.commands.args import config_arg
from alertbot.commands.state import configured_state
from alertbot.core.durations import format_duration
from alertbot.state import DB_FILE, open_state
from alertbot.state.api import DEAD, PENDING, SENT, OutboxRow

OK = 0


def register(subparsers: Any) -> None:
    """Add `outbox list` and `outbox retry` to the CLI's subparsers."""
    outbox = subparsers.add_parser("outbox", help="inspect the delivery outbox")
    actions = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="pending notifications (--dead: dead letters)")
    config_arg(listing)
    listing.add_argument("--dead", action="store_true", help="dead letters instead of pending")
    listing.add_argument("--sent", action="store_true", help="include recently sent rows")
    listing.add_argument("--limit", type=int, default=100, help="rows shown (default 100)")
    listing.set_defaults(handler=cmd_outbox_list)
    retry = actions.add_parser("retry", help="send a dead letter again")
    config_arg(retry)
    retry.add_argument("id", type=int, help="row id from `alertbot outbox list --dead`")
    retry.set_defaults(handler=cmd_outbox_retry)


def cmd_outbox_list(args: argparse.Namespace) -> int:
    """alertbot outbox list: one line per row, its last error below it."""
    directory, config, _ = configured_state(args.config)
    sqlite = config is None or config.backend == "sqlite"
    if sqlite and not (Path(directory) / DB_FILE).exists():
        print(f"no outbox yet in {directory}")
        return OK
    db = open_state(directory, create=False, config=config)
    try:
        outbox = db.outbox
        statuses = [DEAD] if args.dead else [PENDING]
        if args.sent:
            statuses.append(SENT)
        rows = outbox.listing(statuses, args.limit)
        counts = outbox.counts()
    finally:
        db.close()
    now = time.time()
    print(f"{'ID':>6}  {'STATUS':<7}  {'NOTIFIER':<12}  {'TRIES':>5}  {'AGE':>7}  RULE / TITLE")
    for row in rows:
        print(_line(row, now))
    print(f"{counts.get(PENDING, 0)} pending, {counts.get(DEAD, 0)} dead ({db.path})")
    return OK


def _line(row: OutboxRow, now: float) -> str:
    note = row.note
    age = format_duration(max(0.0, now - row.created_at))
    head = f"{row.id:>6}  {row.status:<7}  {row.notifier:<12}  {row.attempts:>5}  {age:>7}  "
    text = f"{head}{note.rule} [{note.status}] {note.title}"
    return f"{text}\n{'':>8}last error: {row.last_error}" if row.last_error else text


def cmd_outbox_retry(args: argparse.Namespace) -> int:
    """alertbot outbox retry ID: put a dead letter back in the queue."""
    directory, config, _ = configured_state(args.config)
    db = open_state(directory, create=False, config=config)
    try:
        row = db.outbox.requeue(args.id, time.time())
    finally:
        db.close()
    print(f"re-queued #{row.id} to {row.notifier}: {row.note.title}")
    print("a running alertbot sends it within seconds; otherwise at the next start")
    sys.stdout.flush()
    return OK
