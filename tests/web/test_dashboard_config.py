"""http.dashboard and http.token: refused where they would expose the bot, token from ${ENV}."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alertbot.config_load import check_text
from alertbot.web.config import HttpConfig

TOKEN = "a-long-enough-token-123"
HEAD = """
source: {ws_url: "ws://127.0.0.1:1/v4/ws", rest_url: "http://127.0.0.1:1/v4",
         subaccounts: ["dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art/0"]}
rules: [{name: low, on: account, when: 'equity < 1'}]
"""


def test_the_dashboard_is_off_by_default_and_needs_no_token_on_loopback() -> None:
    assert (HttpConfig().dashboard, HttpConfig().token) == (False, None)
    assert HttpConfig(dashboard=True).token is None  # loopback: allowed (then served off)


@pytest.mark.parametrize("listen", ["0.0.0.0:8080", "[::]:8080", "10.0.0.5:80"])
def test_a_dashboard_off_loopback_without_a_token_is_refused(listen: str) -> None:
    with pytest.raises(ValidationError, match=r"not loopback\) needs http\.token"):
        HttpConfig(listen=listen, dashboard=True)
    assert HttpConfig(listen=listen, dashboard=True, token=TOKEN).token is not None
    assert not HttpConfig(listen=listen).dashboard  # health and metrics alone: as before


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        HttpConfig(token="short")


def test_the_token_must_come_from_the_environment_and_is_never_echoed() -> None:
    text = HEAD + f"http: {{dashboard: true, token: {TOKEN}}}\n"
    result = check_text(text, "rules.yaml", env={})
    assert [(p.key, p.message) for p in result.problems] == [
        ("http.token", "write the token as ${ENV}, not in the file")
    ]
    assert (result.problems[0].line, result.problems[0].column) == (5, 32)
    good = HEAD + 'http: {dashboard: true, token: "${TOK}"}\n'
    loaded = check_text(good, "rules.yaml", env={"TOK": TOKEN})
    assert loaded.ok
    assert loaded.config is not None
    assert loaded.config.http.token is not None
    assert TOKEN not in repr(loaded.config)


def test_the_error_for_an_exposed_dashboard_names_the_file_and_key() -> None:
    text = HEAD + 'http: {listen: "0.0.0.0:8080", dashboard: true}\n'
    result = check_text(text, "rules.yaml", env={})
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert (problem.file, problem.key) == ("rules.yaml", "http")
    assert "needs http.token" in problem.message
