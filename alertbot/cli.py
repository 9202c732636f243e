"""Command line: the one place where errors become messages and exit codes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from alertbot import __version__
from alertbot.commands.args import config_arg
from alertbot.config_load import load_config
from alertbot.core.errors import AlertbotError, ConfigError
from alertbot.core.secrets import scrub_known
from alertbot.core.tasks import TaskFailed
from alertbot.logs import setup_logging

EXIT_CRASHED = 1  # a supervised task failed; everything accepted is in the outbox
EXIT_USAGE = 2  # bad config or arguments: nothing was started
log = logging.getLogger("alertbot")


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand and its options."""
    parser = argparse.ArgumentParser(
        prog="alertbot", description="Alerts for dYdX v4 traders from the Indexer WebSocket."
    )
    parser.add_argument("--version", action="version", version=f"alertbot {__version__}")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--log-format", default="text", choices=["text", "json"])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    tail = sub.add_parser("tail", help="print the live event stream, one line per event")
    config_arg(tail)
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.add_argument("--kind", action="append", help="only these kinds (glob, repeatable)")
    tail.set_defaults(handler=cmd_tail)

    record = sub.add_parser("record", help="record raw server messages as JSON lines")
    config_arg(record)
    record.add_argument("-o", "--output", required=True, help="file to append to ('-' = stdout)")
    record.set_defaults(handler=cmd_record)

    simulate = sub.add_parser("simulate", help="serve the bundled Indexer simulator on loopback")
    simulate.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any)")
    simulate.add_argument("--scenario", default="demo", help="scenario name or YAML file")
    simulate.add_argument("--speed", type=float, default=1.0, help="timeline speed-up factor")
    simulate.add_argument("--loop", action="store_true", help="replay the timeline forever")
    simulate.set_defaults(handler=cmd_simulate)

    run = sub.add_parser("run", help="watch the Indexer and alert (the main job)")
    config_arg(run)
    run.add_argument(
        "--reset-state",
        action="store_true",
        help="move the state database aside (a lost, empty or replaced one too) and start empty",
    )
    run.set_defaults(handler=cmd_run)

    replay = sub.add_parser("replay", help="backtest rules on a recording; sends nothing")
    config_arg(replay)
    replay.add_argument("recording", help="a file written by `alertbot record`")
    replay.add_argument("--json", action="store_true", help="one JSON object per notification")
    replay.set_defaults(handler=cmd_replay)

    _register_optional(sub)
    return parser


def _register_optional(sub: Any) -> None:
    """The command-layer commands: check, test, silence; plugins, notify-test; outbox; state;
    risk; status."""
    from alertbot.commands import notify, outbox, risk, rules, state, status

    rules.register(sub)
    notify.register(sub)
    outbox.register(sub)
    state.register(sub)
    risk.register(sub)
    status.register(sub)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `alertbot` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    setup_logging(args.log_level, args.log_format)
    try:
        return handler(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except TaskFailed as exc:  # one line (a log record, so JSON logs keep it), then the trace
        log.error("stopped: %s; exit %d", exc, EXIT_CRASHED, exc_info=exc.error)
        return EXIT_CRASHED
    except AlertbotError as exc:
        print(scrub_known(f"alertbot: {exc}"), file=sys.stderr)
        return EXIT_USAGE


def run_until_interrupted(coro: Coroutine[Any, Any, None]) -> int:
    """Run a long-lived command; Ctrl-C is its normal end."""
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        return 0
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    """alertbot tail."""
    from alertbot.watch import tail

    config = load_config(args.config)
    return run_until_interrupted(tail(config, as_json=args.json, kinds=args.kind))


def cmd_record(args: argparse.Namespace) -> int:
    """alertbot record."""
    from alertbot.watch import record

    config = load_config(args.config)

    def echo(line: str) -> None:
        print(line, file=sys.stderr)

    if args.output == "-":
        return run_until_interrupted(record(config, sys.stdout.buffer, echo=None))
    try:
        stream = open(args.output, "ab")  # noqa: SIM115 - closed below, after the loop ends
    except OSError as exc:
        raise AlertbotError(f"cannot write {args.output}: {exc.strerror}") from None
    with stream:
        print(f"recording to {args.output} (Ctrl-C to stop)", file=sys.stderr)
        return run_until_interrupted(record(config, stream, echo=echo))


def cmd_run(args: argparse.Namespace) -> int:
    """alertbot run."""
    from alertbot.app import App

    config = load_config(args.config)
    app = App(config, config_path=args.config, reset_state=args.reset_state)
    return run_until_interrupted(app.run())


def cmd_replay(args: argparse.Namespace) -> int:
    """alertbot replay."""
    from alertbot.replay import replay
    from alertbot.source.recording import RecordingError

    config = load_config(args.config)
    try:
        replay(config, args.recording, sys.stdout, as_json=args.json)
    except RecordingError as exc:
        raise AlertbotError(str(exc)) from None
    except OSError as exc:
        raise AlertbotError(f"cannot read {args.recording}: {exc.strerror}") from None
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """alertbot simulate."""
    from alertbot.sim import run_simulator

    return run_until_interrupted(
        run_simulator(args.port, args.scenario, time_scale=args.speed, loop_timeline=args.loop)
    )
