"""A service that echoes the request (path, query, headers) in its error page leaks nothing.

Every HTTP notifier type fails against a loopback sink whose 500 body repeats what it received;
no secret, nor any part of a secret URL, may appear in the logs (text and JSON), the outbox's
last_error, `alertbot outbox list --dead`, the fallback's dead-letter notice or notify-test.
"""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator

import pytest

from alertbot import cli
from alertbot.config_load import load_config
from alertbot.logs import JsonFormatter, TextFormatter
from alertbot.notifier_setup import build_notifiers
from alertbot.notify.delivery import Delivery
from alertbot.plugins import make_plugin_manager
from alertbot.state import open_state
from tests.delivery.fakes import Recorder, note
from tests.notify.fakes import FakeHttp, Request
from tests.rules.helpers import ADDR

SECRETS = {
    "HOOK_URL": "/hooks/WEBHOOKPATHSECRET123?token=QUERYSECRET456",
    "HOOK_AUTH": "Bearer HEADERSECRET789",
    "SLACK_URL": "/services/T0000000/B0000000/SLACKPATHSECRETxyz123",
    "TG_TOKEN": "123456:TELEGRAMSECRETtoken_abc",
    "APPRISE_URL": "/apprise/APPRISEPATHSECRET1?+X-Token=APPRISEHEADERSECRET",
}
FRAGMENTS = [
    "WEBHOOKPATHSECRET123",
    "QUERYSECRET456",
    "HEADERSECRET789",
    "SLACKPATHSECRETxyz123",
    "TELEGRAMSECRETtoken_abc",
    "APPRISEPATHSECRET1",
    "APPRISEHEADERSECRET",
]


def echo(request: Request) -> tuple[int, dict[str, str], bytes]:
    """An error page repeating the request, as some services (and proxies) do."""
    headers = " ".join(f"{k}={v}" for k, v in request.headers.items())
    return 500, {}, f"bad request to {request.path} with {headers}".encode()


@pytest.fixture
async def echoing() -> AsyncIterator[FakeHttp]:
    http = FakeHttp(respond=echo)
    await http.start()
    yield http
    await http.stop()


def config_text(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    return f"""
version: 1
source: {{subaccounts: [{ADDR}/0]}}
state_dir: state
notifiers:
  hook: {{type: webhook, url: "{base}${{HOOK_URL}}", headers: {{Authorization: "${{HOOK_AUTH}}"}}}}
  slack: {{type: slack, webhook_url: "{base}${{SLACK_URL}}"}}
  tg: {{type: telegram, bot_token: "${{TG_TOKEN}}", chat_id: 42, api_url: "{base}"}}
  apprise: {{type: apprise, url: "json://127.0.0.1:{port}${{APPRISE_URL}}"}}
  ops: {{type: console}}
delivery: {{max_attempts: 1, fallback: ops}}
rules: []
"""


async def test_an_echoing_service_leaks_no_secret_anywhere(echoing, tmp_path, monkeypatch, capsys):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "rules.yaml"
    path.write_text(config_text(echoing.port), encoding="utf-8")
    config = load_config(path)
    notifiers = build_notifiers(config, make_plugin_manager(None))
    ops = Recorder("ops")
    notifiers["ops"] = ops
    text, json_lines = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(text), logging.StreamHandler(json_lines)]
    handlers[0].setFormatter(TextFormatter("%(levelname)s %(name)s: %(message)s"))
    handlers[1].setFormatter(JsonFormatter())
    root = logging.getLogger()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    store = open_state(config.state_dir)
    try:
        delivery = Delivery(store, notifiers, config.delivery)
        delivery.submit(note(1, notify=("hook", "slack", "tg", "apprise")))
        await delivery.start()
        await delivery.stop(timeout=20)
        errors = [r[0] for r in store.db.query("SELECT last_error FROM outbox")]  # type: ignore[attr-defined]
    finally:
        store.close()
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(logging.WARNING)
        for notifier in notifiers.values():
            await notifier.close()
    received = " ".join(f"{r.path} {r.headers}" for r in echoing.requests)
    assert [f for f in FRAGMENTS if f not in received] == []  # every secret was echoed back
    assert cli.main(["outbox", "list", "--dead", "-c", str(path)]) == 0
    listing = capsys.readouterr().out
    fallback = "\n".join(n.message + n.title for n in ops.notes)
    seen = {
        "text logs": text.getvalue(),
        "JSON logs": json_lines.getvalue(),
        "last_error": "\n".join(errors),
        "outbox list --dead": listing,
        "fallback notice": fallback,
    }
    assert "500" in seen["last_error"]  # the failures are there, told without the secrets
    assert len(ops.notes) == 4  # one dead-letter notice per notifier
    leaks = {where: [f for f in FRAGMENTS if f in out] for where, out in seen.items()}
    assert leaks == {where: [] for where in seen}
