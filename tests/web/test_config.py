"""The http: section: safe defaults, and a clear message for every malformed listen address."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from alertbot.web.config import HttpConfig


def test_defaults_listen_on_loopback_with_a_two_minute_limit() -> None:
    config = HttpConfig()
    assert (config.enabled, config.host, config.port) == (True, "127.0.0.1", 8080)
    assert config.unhealthy_after == 120.0


def test_durations_are_written_as_in_rules_yaml() -> None:
    assert HttpConfig.model_validate({"unhealthy_after": "90s"}).unhealthy_after == 90.0


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [
        ("0.0.0.0:9100", "0.0.0.0", 9100),
        ("[::]:8080", "::", 8080),
        ("[::1]:0", "::1", 0),
        ("localhost:65535", "127.0.0.1", 65535),
        (" 10.0.0.5:80 ", "10.0.0.5", 80),
    ],
)
def test_accepted_listen_addresses(listen: str, host: str, port: int) -> None:
    config = HttpConfig(listen=listen)
    assert (config.host, config.port) == (host, port)


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("example.com:80", "use an IP address or localhost"),
        ("127.0.0.1:70000", "use 0 to 65535"),
        ("127.0.0.1:http", "use 0 to 65535"),
        ("127.0.0.1:", "use 0 to 65535"),
        ("127.0.0.1", "write host:port"),
        (":8080", "write host:port"),
        ("::1:8080", "write IPv6 hosts in brackets"),
        ("[127.0.0.1]:80", "brackets are for IPv6 only"),
        ("[nonsense]:80", "use an IP address or localhost"),
    ],
)
def test_rejected_listen_addresses_say_what_to_write(listen: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        HttpConfig(listen=listen)
    assert info.value.errors()[0]["loc"] == ("listen",)


def test_unknown_keys_and_mutation_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        HttpConfig.model_validate({"port": 8080})
    with pytest.raises(ValidationError, match="frozen"):
        HttpConfig().enabled = False  # type: ignore[misc]  # proving it is refused
    with pytest.raises(ValidationError, match="duration"):
        HttpConfig.model_validate({"unhealthy_after": "soon"})
