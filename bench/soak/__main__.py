"""`make soak`: run the fault suite, print the table, exit 1 on a loss or an undocumented duplicate.

Run: .venv/bin/python -m bench.soak [--long] [--only NAME ...] [--cycles N] [--soak SECONDS]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bench.soak.cases import Scale, receivers, server
from bench.soak.kill import KillPlan, run_kills
from bench.soak.leak import run_soak
from bench.soak.runner import run_case
from bench.soak.tally import Outcome, table


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--long", action="store_true", help="the issue's real durations")
    parser.add_argument("--only", nargs="*", default=[], help="cases whose name contains one")
    parser.add_argument("--cycles", type=int, help="SIGKILL cycles (default 20, --long 100)")
    parser.add_argument("--soak", type=float, help="leak soak seconds (default 60, --long 600)")
    parser.add_argument("--samples", type=Path, help="write the soak's RSS/fd samples here (CSV)")
    parser.add_argument("--skip", nargs="*", default=[], help="groups: server receivers kill soak")
    parser.add_argument(
        "--downtime-fills",
        choices=("expect", "ignore"),
        default="ignore",
        help="whether fills made while no bot ran must be told (they need the catch-up)",
    )
    return parser.parse_args(argv)


async def main(args: argparse.Namespace) -> int:
    """Run the selected cases one after the other and print the table."""
    scale = Scale.long() if args.long else Scale()
    rows: list[Outcome] = []
    groups = {"server": server(scale), "receivers": receivers(scale)}
    for group, cases in groups.items():
        if group in args.skip:
            continue
        for case in cases:
            if args.only and not any(word in case.name for word in args.only):
                continue
            row = await run_case(case)
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
    if "kill" not in args.skip and not args.only:
        cycles = args.cycles or (100 if args.long else 20)
        plan = KillPlan(cycles=cycles, expect_downtime=args.downtime_fills == "expect")
        rows.append(await run_kills(plan))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    report = None
    if "soak" not in args.skip and not args.only:
        report = await run_soak(args.soak or (600.0 if args.long else 60.0))
        rows.append(report.row)
        if args.samples:
            report.samples.write(args.samples)
    print()
    print(table(rows))
    if report is not None:
        print()
        print(report.text())
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    sys.exit(asyncio.run(main(parse(sys.argv[1:]))))
