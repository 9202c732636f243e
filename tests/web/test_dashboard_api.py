"""The dashboard's actions over HTTP with a bearer token, against a running bot (no browser)."""

from __future__ import annotations

import json

import httpx

from tests.apphelpers import until
from tests.notify.fakes import FakeHttp
from tests.web.browser import TOKEN, bot, free_port, write

BEARER = {"Authorization": f"Bearer {TOKEN}"}
RULES = """  - name: equity-low
    on: account
    when: equity < 1000
    severity: critical
"""


async def test_a_dead_letter_is_retried_from_the_api_and_delivered(tmp_path, sim, sink: FakeHttp):
    sink.default = (500, {}, b"down")  # the first attempt fails, and one attempt is all it gets
    port = free_port()
    path = write(tmp_path / "rules.yaml", sim, sink.url(), RULES, port, "  max_attempts: 1\n")
    async with bot(path) as app, httpx.AsyncClient(headers=BEARER) as client:
        sim.set_price("BTC-USD", 57000)  # equity 900: fires
        assert app._state is not None
        state = app._state
        await until(lambda: state.outbox.listing(["dead"]), "a dead letter")
        dead = state.outbox.listing(["dead"])[0]
        sink.default = (200, {}, b"ok")  # the receiver is back
        base = f"http://127.0.0.1:{port}/api/"
        missing = await client.post(base + "retry", json={"id": dead.id + 1000})
        assert missing.status_code == 409
        reply = await client.post(base + "retry", json={"id": dead.id})
        assert (reply.status_code, reply.json()) == (200, {"ok": True})
        sent = lambda: state.outbox.get(dead.id).status == "sent"  # noqa: E731
        await until(sent, "the retried letter, at once (its notifier is woken)", limit=2.0)
        bodies = [json.loads(r.body)["alerts"][0]["rule"] for r in sink.requests]
        assert bodies[-1] == "equity-low"  # delivered after the retry
        bad = await client.post(base + "nothing", json={})
        assert bad.status_code == 400
        silence = await client.post(base + "silence", json={"fingerprint": "nope", "seconds": 60})
        assert silence.status_code == 409  # no such alert: said, not crashed
