"""REST 429: the Indexer's Retry-After is milliseconds (comlink sends msBeforeNext)."""

from __future__ import annotations

import httpx
import pytest

from alertbot.source.rest import MAX_RETRY_AFTER, IndexerRest, retry_after
from tests.notify.fakes import FakeHttp


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("50", 0.05),  # was read as 50 s (any value up to 60 was taken as seconds)
        ("60", 0.06),
        ("999", 0.999),
        ("1500", 1.5),
        ("0", 0.0),
        ("-5", 0.0),
        ("abc", 1.0),
        ("nan", 1.0),
        (None, 1.0),
        ("3600000", MAX_RETRY_AFTER),
    ],
)
def test_retry_after_is_read_in_milliseconds(header: str | None, seconds: float) -> None:
    headers = httpx.Headers({} if header is None else {"Retry-After": header})
    assert retry_after(headers) == pytest.approx(seconds)


async def test_a_429_waits_the_milliseconds_the_server_said_then_retries() -> None:
    server = FakeHttp(
        replies=[(429, {"Retry-After": "50"}, b'{"errors":[{"msg":"Too many requests"}]}')],
        default=(200, {"Content-Type": "application/json"}, b'{"height":"7"}'),
    )
    await server.start()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    rest = IndexerRest(f"http://127.0.0.1:{server.port}/v4", sleep=sleep)
    try:
        body = await rest.height()
    finally:
        await rest.close()
        await server.stop()
    assert body == {"height": "7"}
    assert waits == [pytest.approx(0.05)]
    assert len(server.requests) == 2
