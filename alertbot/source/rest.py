"""Indexer REST calls used for reconciliation and the polling fallback (TLS verified, 429-aware)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from alertbot.source.address import SubaccountRef

log = logging.getLogger("alertbot.source.rest")
MAX_RETRY_AFTER = 30.0


class RestError(Exception):
    """A REST call failed; the caller logs it and tries again at its next schedule."""


class IndexerRest:
    """Thin async client for the few endpoints alertbot needs."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout, headers={"Accept": "application/json"})
        self._sleep = sleep
        self.calls = 0
        self.failures = 0

    async def close(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a JSON body; one retry after a 429 honouring Retry-After (milliseconds here)."""
        for attempt in (1, 2):
            self.calls += 1
            try:
                response = await self._client.get(self.base_url + path, params=params)
            except httpx.HTTPError as exc:
                self.failures += 1
                raise RestError(f"GET {path}: {type(exc).__name__}: {exc}") from None
            if response.status_code == 429 and attempt == 1:
                await self._sleep(retry_after(response.headers))
                continue
            if response.status_code >= 400:
                self.failures += 1
                raise RestError(f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
            try:
                return orjson.loads(response.content)
            except orjson.JSONDecodeError:
                self.failures += 1
                raise RestError(f"GET {path}: body is not JSON") from None
        raise RestError(f"GET {path}: rate limited twice")

    async def subaccount(self, ref: SubaccountRef) -> Any:
        """The subaccount with equity and free collateral as the Indexer computes them."""
        return await self.get(f"/addresses/{ref.address}/subaccountNumber/{ref.number}")

    async def parent_subaccount(self, ref: SubaccountRef) -> Any:
        """A parent subaccount with its children."""
        return await self.get(f"/addresses/{ref.address}/parentSubaccountNumber/{ref.number}")

    async def orders(self, ref: SubaccountRef, *, limit: int = 100) -> Any:
        """The latest orders of any status (finds fills and cancels missed while away)."""
        params = {"address": ref.address, "subaccountNumber": ref.number, "limit": limit}
        params["returnLatestOrders"] = "true"
        return await self.get("/orders", params)

    async def parent_orders(self, ref: SubaccountRef, *, limit: int = 100) -> Any:
        """The latest orders of a parent subaccount and its children."""
        params = {"address": ref.address, "parentSubaccountNumber": ref.number, "limit": limit}
        return await self.get("/orders/parentSubaccountNumber", params)

    async def order(self, order_id: str) -> Any:
        """One order by its Indexer id (for orders that left the open set while away)."""
        return await self.get(f"/orders/{order_id}")

    async def fills(
        self, ref: SubaccountRef, *, limit: int = 100, before_height: int | None = None
    ) -> Any:
        """Recent fills, newest first (older pages with `before_height`)."""
        return await self.get("/fills", _listing(ref, "subaccountNumber", limit, before_height))

    async def parent_fills(
        self, ref: SubaccountRef, *, limit: int = 100, before_height: int | None = None
    ) -> Any:
        """Recent fills of a parent subaccount and its children."""
        params = _listing(ref, "parentSubaccountNumber", limit, before_height)
        return await self.get("/fills/parentSubaccountNumber", params)

    async def transfers(
        self, ref: SubaccountRef, *, limit: int = 100, before_height: int | None = None
    ) -> Any:
        """Recent transfers (deposits, withdrawals, transfers between subaccounts)."""
        params = _listing(ref, "subaccountNumber", limit, before_height)
        return await self.get("/transfers", params)

    async def parent_transfers(
        self, ref: SubaccountRef, *, limit: int = 100, before_height: int | None = None
    ) -> Any:
        """Recent transfers of a parent subaccount's children (not those between them)."""
        params = _listing(ref, "parentSubaccountNumber", limit, before_height)
        return await self.get("/transfers/parentSubaccountNumber", params)

    async def markets(self) -> Any:
        """Every perpetual market with its oracle price."""
        return await self.get("/perpetualMarkets")

    async def height(self) -> Any:
        """The latest block height."""
        return await self.get("/height")


def _listing(
    ref: SubaccountRef, number_key: str, limit: int, before_height: int | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"address": ref.address, number_key: ref.number, "limit": limit}
    if before_height is not None:
        params["createdBeforeOrAtHeight"] = before_height
    return params


def retry_after(headers: httpx.Headers) -> float:
    """Seconds to wait after a 429: the Indexer's Retry-After is always milliseconds.

    comlink sets it to rate-limiter-flexible's `msBeforeNext` (lib/rate-limit.ts), so "50" means
    50 ms, not 50 s. A missing or unreadable value waits 1 s; the wait is capped.
    """
    raw = headers.get("Retry-After")
    try:
        millis = float(raw) if raw is not None else 1000.0
    except ValueError:
        millis = 1000.0
    if millis != millis:  # NaN
        millis = 1000.0
    return min(max(millis / 1000.0, 0.0), MAX_RETRY_AFTER)
