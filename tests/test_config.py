"""rules.yaml validation: every problem at once, each with file, line, column and key."""

from __future__ import annotations

import pytest

from alertbot.config_load import parse_config
from alertbot.core.durations import format_duration, parse_duration
from alertbot.core.errors import ConfigError

ADDR = "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art"


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "rules.yaml", env=env or {})
    return [str(p) for p in info.value.problems]


def test_minimal_config_gets_defaults():
    config = parse_config(f"source:\n  subaccounts: [{ADDR}/0]\n", "rules.yaml", env={})
    source = config.source
    assert source.subaccounts[0].address == ADDR
    assert source.subaccounts[0].number == 0
    assert source.silence_timeout == 60.0
    assert source.urls({}) == ("wss://indexer.dydx.trade/v4/ws", "https://indexer.dydx.trade/v4")


def test_testnet_and_env_overrides():
    text = f"source:\n  network: testnet\n  markets: [BTC-USD]\n  subaccounts: [{ADDR}/1]\n"
    source = parse_config(text, "rules.yaml", env={}).source
    assert source.urls({})[0] == "wss://indexer.v4testnet.dydx.exchange/v4/ws"
    env = {
        "ALERTBOT_WS_URL": "ws://127.0.0.1:1/v4/ws",
        "ALERTBOT_REST_URL": "http://127.0.0.1:1/v4/",
    }
    assert source.urls(env) == ("ws://127.0.0.1:1/v4/ws", "http://127.0.0.1:1/v4")


def test_every_problem_is_reported_with_its_position():
    text = (
        "source:\n"
        f"  subaccounts: [{ADDR}/0, {ADDR[:-1]}x/0, {ADDR}/128000]\n"
        "  silence_timout: 30s\n"
        "  gap_timeout: soon\n"
        "  candles: [1MINUTE]\n"
        "rulez: []\n"
    )
    found = problems(text)
    assert found[0].startswith("rules.yaml:2:")
    assert "source.subaccounts[1]" in found[0]
    assert "checksum" in found[0]
    assert "source.subaccounts[2]" in found[1]
    assert "0..127999" in found[1]
    assert found[2] == (
        "rules.yaml:3:3: source.silence_timout: unknown key 'silence_timout'; "
        "did you mean 'silence_timeout'?"
    )
    assert found[3].startswith("rules.yaml:4:16: source.gap_timeout: invalid duration 'soon'")
    assert found[4].startswith("rules.yaml:5:13: source.candles[0]:")
    assert found[5] == "rules.yaml:6:1: rulez: unknown key 'rulez'; did you mean 'rules'?"


def test_parent_subaccount_range_and_nothing_to_watch():
    assert any("0..127" in p for p in problems(f"source:\n  parent_subaccounts: [{ADDR}/128]\n"))
    assert any("nothing to watch" in p for p in problems("source: {}\n"))


def test_missing_environment_variable_is_named():
    found = problems(f"source:\n  subaccounts: [{ADDR}/0]\n  ws_url: ${{WS}}\n")
    assert found == [
        "rules.yaml:3:11: source.ws_url: environment variable WS is not set (used as ${WS})"
    ]
    config = parse_config(
        f"source:\n  subaccounts: [{ADDR}/0]\n  ws_url: ${{WS}}\n", "r.yaml", env={"WS": "ws://x"}
    )
    assert config.source.ws_url == "ws://x"


def test_yaml_syntax_error_and_duplicate_keys():
    assert problems("source: [\n")[0].startswith("rules.yaml:2:1: YAML syntax error")
    dup = problems("source:\n  markets: [BTC-USD]\n  markets: [ETH-USD]\n")
    assert dup == ["rules.yaml:3:3: source.markets: duplicate key 'markets'"]


def test_unsafe_yaml_tags_are_refused():
    found = problems("source: !!python/object/apply:os.system ['true']\n")
    assert found == [
        "rules.yaml:1:9: source: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' "
        "is not allowed here"
    ]


def test_state_dir_env_override():
    text = f"source:\n  subaccounts: [{ADDR}/0]\nstate_dir: /tmp/x\n"
    config = parse_config(text, "rules.yaml", env={"ALERTBOT_STATE_DIR": "/var/lib/alertbot"})
    assert config.state_dir == "/var/lib/alertbot"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("2m", 120), ("1h", 3600), ("1d", 86400), ("1h30m", 5400)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "1 h", "-1s", "1y", "s"])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_format_duration():
    assert format_duration(0.25) == "250ms"
    assert format_duration(90) == "1m30s"
    assert format_duration(86400 + 61) == "1d1m1s"


def test_deployment_environment_overrides():
    text = f"source:\n  subaccounts: [{ADDR}/0]\nhttp: {{unhealthy_after: 1m}}\n"
    env = {"ALERTBOT_PLUGINS_DIR": "/plugins", "ALERTBOT_HTTP_LISTEN": "0.0.0.0:8080"}
    config = parse_config(text, "rules.yaml", env=env)
    assert config.plugins_dir == "/plugins"
    assert (config.http.unhealthy_after, config.http.listen) == (60.0, "0.0.0.0:8080")


def test_a_bad_listen_override_is_a_problem_naming_the_variable():
    text = f"source:\n  subaccounts: [{ADDR}/0]\n"
    with pytest.raises(ConfigError, match="ALERTBOT_HTTP_LISTEN: invalid listen address"):
        parse_config(text, "rules.yaml", env={"ALERTBOT_HTTP_LISTEN": "nonsense"})
