"""Without a PostgreSQL server the PostgreSQL tests skip and the summary says so in one line;
with ALERTBOT_REQUIRE_PG=1 (what .ci/run sets) the same run fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOWHERE = "postgresql://postgres@127.0.0.1:1/postgres"  # port 1: refused at once


def pytest_run(**env: str) -> subprocess.CompletedProcess[str]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("ALERTBOT_")}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "tests/state/test_pg_cli.py"]  # fmt: skip
    return subprocess.run(
        command, cwd=ROOT, env={**variables, "ALERTBOT_TEST_PG": NOWHERE, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_no_server_skips_and_says_so():
    run = pytest_run()
    assert run.returncode == 0, run.stdout
    assert f"NOTE: 2 PostgreSQL test(s) SKIPPED: no server at {NOWHERE}" in run.stdout


def test_ci_requires_the_server():
    run = pytest_run(ALERTBOT_REQUIRE_PG="1")
    assert run.returncode != 0
    assert "ALERTBOT_REQUIRE_PG is set, so this is a failure" in run.stdout
