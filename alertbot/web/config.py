"""The `http:` section of rules.yaml: where /healthz, /metrics and the dashboard listen."""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, field_validator, model_validator

from alertbot.core.durations import Duration
from alertbot.core.strict import Strict

MIN_TOKEN = 16  # characters of http.token: guessing must be hopeless
_LISTEN_HINT = "write host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080"


def split_listen(value: str) -> tuple[str, int]:
    """(host, port) from `host:port`; raise ValueError saying what is wrong and what to write."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"invalid listen address {value!r}: {_LISTEN_HINT}")
    if host.startswith("[") and host.endswith("]"):
        host = _check_host(host[1:-1], value)
        if ":" not in host:
            raise ValueError(f"invalid listen address {value!r}: brackets are for IPv6 only")
    elif ":" in host:
        raise ValueError(f"invalid listen address {value!r}: write IPv6 hosts in brackets")
    return _check_host(host, value), _check_port(port_text, value)


def _check_host(host: str, value: str) -> str:
    if host == "localhost":
        return host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        msg = f"invalid listen host {host!r} in {value!r}: use an IP address or localhost"
        raise ValueError(msg) from None
    return host


def _check_port(port_text: str, value: str) -> int:
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"invalid listen port {port_text!r} in {value!r}: use 0 to 65535")
    return int(port_text)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    return host == "localhost" or ipaddress.ip_address(host).is_loopback


class HttpConfig(Strict):
    """The health and metrics endpoint: on by default, loopback only unless told otherwise."""

    enabled: bool = True
    listen: str = "127.0.0.1:8080"  # host:port; port 0 picks a free port (tests)
    unhealthy_after: Duration = 120.0  # a connection down/silent or the outbox stuck this long
    dashboard: bool = False  # the live page at / (needs `token`)
    token: SecretStr | None = None  # the dashboard's token: `${ENV}` only (config_load checks)
    max_clients: int = Field(64, ge=1, le=10_000)  # connections at once (pages + probes)
    timeout: Duration = 10.0  # a request head or an idle keep-alive connection, at most
    equity_history: Duration = 6 * 3600.0  # how far back the equity chart (and its store) goes

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN:
            raise ValueError(
                f"http.token must be at least {MIN_TOKEN} characters "
                "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
            )
        return value

    @model_validator(mode="after")
    def _token_off_loopback(self) -> HttpConfig:
        if self.dashboard and self.token is None and not is_loopback(self.host):
            raise ValueError(
                f"http.dashboard on {self.listen} (not loopback) needs http.token: set "
                "token: ${ALERTBOT_HTTP_TOKEN}, or listen on 127.0.0.1"
            )
        return self

    @field_validator("listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        split_listen(value)
        return value.strip()

    @property
    def host(self) -> str:
        """The address to bind; localhost binds 127.0.0.1 only (one socket, one port)."""
        host = split_listen(self.listen)[0]
        return "127.0.0.1" if host == "localhost" else host

    @property
    def port(self) -> int:
        """The configured port (0: any free port; WebServer.port says which)."""
        return split_listen(self.listen)[1]
