"""`make demo`: the bundled simulator plays the demo scenario and alertbot alerts on it, live.

Everything runs on loopback in one process: the simulator (a local Indexer), the bot with the
repository's rules.yaml pointed at it, the console notifier, a local mail sink that prints
the mail the email notifier sends, and the live dashboard (its address and a token made for
this run are printed first). About a minute, then it stops.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from alertbot.app import App
from alertbot.config import Config
from alertbot.config_load import load_config
from alertbot.logs import setup_logging
from alertbot.notify.config import EmailConfig
from alertbot.sim import SimSettings, Simulator, load_scenario

SETTLE = 3.0  # seconds after the timeline for the last alerts to be told


async def demo(rules: Path, speed: float = 1.0) -> int:
    """Run the demo; returns how many notifications were sent."""
    config = load_config(rules)
    with tempfile.TemporaryDirectory(prefix="alertbot-demo-") as state, MailSink() as sink:
        token = secrets.token_urlsafe(18)  # this run's dashboard token, printed to log in
        http = config.http.model_copy(
            update={"listen": "127.0.0.1:0", "dashboard": True, "token": SecretStr(token)}
        )  # any free port
        local = {"state_dir": state, "http": http}
        config = with_mail(config.model_copy(update=local), sink.port)
        settings = SimSettings(time_scale=speed)
        async with Simulator(load_scenario("demo"), settings) as sim:
            sim.narrate = _narrator()
            print(f"simulator on {sim.ws_url}; alertbot running {rules} against it\n", flush=True)
            app = App(
                config, env={"ALERTBOT_WS_URL": sim.ws_url, "ALERTBOT_REST_URL": sim.rest_url}
            )
            bot = asyncio.create_task(app.run(), name="alertbot-demo")
            await _announce(app, bot, token)
            await sim.play()
            await asyncio.sleep(SETTLE / speed)
            app.stop()
            await bot
    print(f"\ndemo done: {app.notifications} notifications, {sink.count} mails", flush=True)
    return app.notifications


async def _announce(app: App, bot: asyncio.Task[None], token: str) -> None:
    """Print the dashboard's address and token once the bot listens."""
    ready = asyncio.ensure_future(app.ready.wait())
    await asyncio.wait({ready, bot}, return_when=asyncio.FIRST_COMPLETED)
    ready.cancel()
    if app.dashboard_url:
        print(f"dashboard: {app.dashboard_url}  (log in with the token {token})\n", flush=True)


class MailSink:
    """A local SMTP server (aiosmtpd) on 127.0.0.1 that prints every mail it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller  # a dev extra: `make demo` installs it

        self.count = 0
        self.port = _free_port()  # aiosmtpd probes its port on start, so it needs a real one
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook: print the mail's recipients and subject."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.count += 1
        rcpt = ", ".join(envelope.rcpt_tos)
        print(f"+++ mail to {rcpt}: {message['Subject']}", flush=True)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_mail(config: Config, port: int) -> Config:
    """The config plus a `demo-mail` email notifier that every rule also notifies."""
    url = f"mailto://127.0.0.1:{port}?from=alertbot@localhost&to=trader@localhost"
    mail = EmailConfig(type="email", url=SecretStr(url))
    notifiers = {**config.notifiers, "demo-mail": mail}
    everyone = list(config.defaults.notify or config.notifiers)
    rules = [
        rule.model_copy(update={"notify": [*(rule.notify or everyone), "demo-mail"]})
        for rule in config.rules
    ]
    return config.model_copy(update={"notifiers": notifiers, "rules": rules})


def _narrator() -> Callable[[str], None]:
    start = time.monotonic()

    def say(text: str) -> None:
        print(f"--- sim +{time.monotonic() - start:5.1f}s  {text}", flush=True)

    return say


def main() -> int:
    """Entry point of `python -m alertbot.demo [RULES] [--speed X]`."""
    args = sys.argv[1:]
    speed = float(args[args.index("--speed") + 1]) if "--speed" in args else 1.0
    rules = Path(next((a for a in args if a.endswith((".yaml", ".yml"))), "rules.yaml"))
    setup_logging("warning")
    sent = asyncio.run(demo(rules, speed))
    return 0 if sent else 1


if __name__ == "__main__":
    raise SystemExit(main())
