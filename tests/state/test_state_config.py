"""The `state:` section: backend and dsn checked at load, the dsn's password never printed."""

from __future__ import annotations

import pytest

from alertbot.config_load import parse_config
from alertbot.core.errors import ConfigError
from alertbot.core.secrets import mask
from alertbot.state.config import masked_dsn

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"
BASE = f"source:\n  subaccounts: [{ADDR}/0]\n"


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "rules.yaml", env=env or {})
    return [str(p) for p in info.value.problems]


def test_sqlite_is_the_default():
    config = parse_config(BASE, "rules.yaml", env={})
    assert config.state.backend == "sqlite"
    assert config.state.dsn is None


def test_postgresql_takes_its_dsn_from_the_environment():
    dsn = "postgresql://bot:Sekr1tPw@db.internal:5432/alerts"
    text = BASE + "state:\n  backend: postgresql\n  dsn: ${ALERTBOT_PG_DSN}\n"
    config = parse_config(text, "rules.yaml", env={"ALERTBOT_PG_DSN": dsn})
    assert config.state.dsn_text == dsn
    assert "Sekr1tPw" not in repr(config.state)
    # loading remembered the password: any message that quotes the dsn is scrubbed of it
    assert "Sekr1tPw" not in mask(f"cannot connect to {dsn}: refused")
    assert "postgresql" in mask("postgresql backend for bot")  # only the password is secret


def test_postgresql_without_a_dsn_is_an_error_at_its_line():
    found = problems(BASE + "state:\n  backend: postgresql\n")
    assert len(found) == 1
    assert found[0].startswith("rules.yaml:4:")
    assert "needs a dsn" in found[0]


def test_a_dsn_without_the_backend_is_an_error():
    found = problems(BASE + "state:\n  dsn: postgresql://a@b/c\n")
    assert "only used with backend: postgresql" in found[0]


def test_a_bad_dsn_is_refused_without_echoing_it():
    found = problems(BASE + "state:\n  backend: postgresql\n  dsn: 'host=a password=Hunter2x ='\n")
    assert "not a PostgreSQL connection string" in found[0]
    assert "Hunter2x" not in found[0]


def test_unknown_state_keys_are_errors():
    found = problems(BASE + "state:\n  backend: sqlite\n  bakend: x\n")
    assert any("bakend" in p for p in found)


def test_masked_dsn_hides_the_password_only():
    assert masked_dsn("postgresql://u:pw@h:6000/d") == "postgresql://u:***@h:6000/d"
    assert masked_dsn("host=h user=u dbname=d") == "postgresql://u@h:5432/d"


def test_a_claim_shorter_than_a_send_is_warned_with_its_place(caplog):
    from alertbot.config_load import check_text

    pg = "state:\n  backend: postgresql\n  dsn: postgresql://bot@127.0.0.1/a\n  claim_ttl: 12s\n"
    hook = "notifiers:\n  hook: {type: webhook, url: 'http://127.0.0.1:9/x', timeout: 8s}\n"
    result = check_text(BASE + pg + hook, "rules.yaml", env={})
    assert result.ok
    [warning] = [str(w) for w in result.warnings]
    assert warning.startswith("rules.yaml:6:14: state.claim_ttl: 12s is not longer than a send")
    assert "to 'hook' may take (13s" in warning
    with caplog.at_level("WARNING", logger="alertbot.config_load"):
        parse_config(BASE + pg + hook, "rules.yaml", env={})  # `run` and reloads log it
    assert "state.claim_ttl: 12s is not longer" in caplog.text
    longer = pg.replace("12s", "14s")
    assert not check_text(BASE + longer + hook, "rules.yaml", env={}).warnings
    sqlite = "state:\n  claim_ttl: 1s\n"  # no shared outbox: nothing to claim twice
    assert not check_text(BASE + sqlite + hook, "rules.yaml", env={}).warnings
