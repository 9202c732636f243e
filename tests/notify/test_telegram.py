"""The Telegram notifier against a loopback server answering like the Bot API."""

from __future__ import annotations

import json
import logging

from alertbot.notify.builtin.telegram import LIMIT, TelegramNotifier
from alertbot.notify.config import TelegramConfig
from tests.notify.fakes import FakeHttp, note

TOKEN = "123456:AAH-secret_token_value"
OK = (200, {}, b'{"ok": true, "result": {"message_id": 1}}')


def telegram(http: FakeHttp, **extra: object) -> TelegramNotifier:
    cfg = TelegramConfig.model_validate(
        {"bot_token": TOKEN, "chat_id": -1001, "api_url": http.url(""), **extra}
    )
    return TelegramNotifier("tg", cfg)


async def test_html_mode_escapes_and_emphasises(http: FakeHttp) -> None:
    http.default = OK
    notifier = telegram(http)
    assert (await notifier.send([note(title="<PnL> & co", message="1 < 2 > 0")])).ok
    await notifier.close()
    (request,) = http.requests
    assert request.path == f"/bot{TOKEN}/sendMessage"
    body = request.json()
    assert body["chat_id"] == -1001
    assert body["parse_mode"] == "HTML"
    assert body["link_preview_options"] == {"is_disabled": True}
    assert "disable_notification" not in body
    assert body["text"].splitlines()[:2] == [
        "🔴 <b>CRITICAL</b> <b>&lt;PnL&gt; &amp; co</b>",
        "1 &lt; 2 &gt; 0",
    ]
    assert "<code>subaccount=0</code>" in body["text"]


async def test_markdown_v2_escapes_every_reserved_character(http: FakeHttp) -> None:
    http.default = OK
    notifier = telegram(http, parse_mode="MarkdownV2")
    reserved = "_*[]()~`>#+-=|{}.!\\"
    assert (await notifier.send([note(severity="info", title="t", message=reserved)])).ok
    await notifier.close()
    lines = http.requests[0].json()["text"].splitlines()
    assert lines[0] == "🔵 *INFO* *t*"
    assert lines[1] == "".join("\\" + c for c in reserved)


async def test_long_messages_are_split_in_order_under_the_limit(http: FakeHttp) -> None:
    http.default = OK
    notifier = telegram(http)
    lines = [f"line {i:04d} " + "&" * 60 for i in range(300)]  # escaped: ~320 chars each
    result = await notifier.send([note(title="t", message="\n".join(lines))])
    await notifier.close()
    texts = [r.json()["text"] for r in http.requests]
    assert result.ok
    assert result.detail == f"{len(texts)} messages"
    assert len(texts) >= 20
    assert all(len(t) <= LIMIT for t in texts)
    sent = "\n".join(texts)
    numbers = [int(w) for w in sent.split() if w.isdigit()]
    assert numbers == list(range(300))  # every line, once, in order
    assert "&amp;" * 60 in sent
    assert "&am\n" not in sent  # never split inside an entity


async def test_one_huge_line_is_cut_between_entities(http: FakeHttp) -> None:
    http.default = OK
    notifier = telegram(http)
    assert (await notifier.send([note(message="<" * 10_000)])).ok
    await notifier.close()
    texts = [r.json()["text"] for r in http.requests]
    assert all(len(t) <= LIMIT for t in texts)
    body = "".join(t.split("\n", 1)[-1] if i == 0 else t for i, t in enumerate(texts))
    assert body.count("&lt;") == 10_000


async def test_a_retry_resumes_at_the_failed_part(http: FakeHttp) -> None:
    flood = (429, {}, b'{"ok": false, "error_code": 429, "parameters": {"retry_after": 5}}')
    http.replies = [OK, flood]
    http.default = OK
    notifier = telegram(http)
    batch = [note(message="\n".join("x" * 1000 for _ in range(10)))]
    first = await notifier.send(batch)
    assert (first.ok, first.retry_after) == (False, 5.0)
    assert first.detail.startswith("part 2/3: HTTP 429")
    second = await notifier.send(batch)
    await notifier.close()
    assert second.ok
    texts = [r.json()["text"] for r in http.requests]
    assert len(texts) == 4  # part 1, part 2 refused, then parts 2 and 3 only
    assert texts[1] == texts[2]


async def test_bad_token_is_permanent_and_never_shown(http: FakeHttp, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    http.default = (401, {}, json.dumps({"ok": False, "description": "Unauthorized"}).encode())
    notifier = telegram(http)
    result = await notifier.send([note()])
    await notifier.close()
    assert (result.ok, result.permanent, result.detail) == (False, True, "HTTP 401: Unauthorized")
    assert notifier.describe() == "telegram chat -1001 via 127.0.0.1 (bot token ***)"
    assert TOKEN not in caplog.text
    assert "secret_token" not in repr(notifier)


async def test_silent_severities_and_topics(http: FakeHttp) -> None:
    http.default = OK
    notifier = telegram(http, silent=["info"], message_thread_id=7)
    await notifier.send([note(severity="info")])
    await notifier.send([note(severity="info"), note(severity="error")])
    await notifier.close()
    first, second = (r.json() for r in http.requests)
    assert first["disable_notification"] is True
    assert "disable_notification" not in second
    assert first["message_thread_id"] == 7


async def test_a_render_plugin_supplies_title_and_raw_body(http: FakeHttp, tmp_path) -> None:
    from alertbot.plugins import make_plugin_manager

    (tmp_path / "words.py").write_text(
        "def alertbot_render(notification, notifier_type):\n"
        "    if notifier_type == 'telegram':\n"
        "        return ('Custom <title>', '<i>raw body</i>')\n"
    )
    http.default = OK
    cfg = TelegramConfig(bot_token=TOKEN, chat_id=1, api_url=http.url(""))
    notifier = TelegramNotifier("tg", cfg, plugins=make_plugin_manager(tmp_path, env={}))
    assert (await notifier.send([note()])).ok
    await notifier.close()
    text = http.requests[0].json()["text"]
    assert text == "🔴 <b>CRITICAL</b> <b>Custom &lt;title&gt;</b>\n<i>raw body</i>"
