"""The bundled Indexer: WebSocket and REST on one loopback port, driven by controls or timeline."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from alertbot.sim import player, rest
from alertbot.sim import protocol as proto
from alertbot.sim.fmt import num
from alertbot.sim.scenario import Scenario
from alertbot.sim.session import Session, SnapshotFailed
from alertbot.sim.settings import SimSettings
from alertbot.sim.state import Update
from alertbot.sim.world import build_exchange, default_scenario

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
WS_PATH = "/v4/ws"
logger = logging.getLogger("alertbot.sim")


class Simulator:
    """A local stand-in for the dYdX Indexer, exact on the wire, with fault-injection controls."""

    def __init__(
        self, scenario: Scenario | None = None, settings: SimSettings | None = None
    ) -> None:
        self.settings = settings or SimSettings()
        if self.settings.host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"the simulator only binds to loopback ({', '.join(LOOPBACK_HOSTS)}), "
                f"not {self.settings.host!r}"
            )
        self.scenario = scenario or default_scenario()
        self.exchange, self.order_refs = build_exchange(self.scenario)
        self.subscribe_log: list[tuple[float, int, str, str | None]] = []
        self.closes: list[tuple[int, str] | None] = []  # each client's close frame; None: none
        self.narrate: Callable[[str], None] = logger.info
        self.port = 0
        self._host = "127.0.0.1"
        self._sessions: set[Session] = set()
        self._next_index = 0
        self._server: Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._oracle: asyncio.Task[None] | None = None
        self._blocked: set[str] = set()
        self._fail: dict[str, list[bool]] = {}
        self._delay: dict[str, float] = {}
        self._refuse = False
        self._unstalled = asyncio.Event()
        self._unstalled.set()
        self._stall_until = 0.0
        self._stall_ended = -math.inf

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and serve; the timeline only runs when `play` is awaited."""
        host = "127.0.0.1" if self.settings.host == "localhost" else self.settings.host
        self._server = await serve(
            self._handle,
            host,
            self.settings.port,
            process_request=self._process_request,
            ping_interval=None,  # socks' heartbeat is implemented per session
            compression=None,  # socks does not negotiate permessage-deflate
            max_size=2**24,
            close_timeout=2,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._host = host
        if self.settings.block_interval > 0:
            self._ticker = asyncio.create_task(self._blocks(), name="sim-blocks")
        if self.settings.oracle_interval > 0:
            self._oracle = asyncio.create_task(self._oracles(), name="sim-oracles")

    async def stop(self) -> None:
        """Shut down as socks does on deploys: every socket gets 1012 'Service restarting'."""
        for task in (self._ticker, self._oracle):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._ticker = self._oracle = None
        self._unstall()
        if self._server is not None:
            self._server.close(code=1012, reason=proto.RESTARTING_REASON)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def ws_url(self) -> str:
        """Where clients connect, e.g. ws://127.0.0.1:PORT/v4/ws."""
        return f"ws://{self._authority}{WS_PATH}"

    @property
    def rest_url(self) -> str:
        """The REST base, e.g. http://127.0.0.1:PORT/v4."""
        return f"http://{self._authority}/v4"

    @property
    def _authority(self) -> str:
        host = self._host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    @property
    def connections(self) -> int:
        """Open WebSocket connections."""
        return len(self._sessions)

    async def play(self) -> None:
        """Play the scenario's timeline at `settings.time_scale`; returns after the last step."""
        await player.play(self, self.scenario, self.settings.time_scale)

    async def _blocks(self) -> None:
        while True:
            await asyncio.sleep(self.settings.block_interval)
            self.new_block()

    async def _oracles(self) -> None:
        while True:
            await asyncio.sleep(self.settings.oracle_interval)
            self._publish(self.exchange.oracle_heartbeat())

    # --- transport ----------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        session = Session(ws, self._next_index, self)
        self._next_index += 1
        self._sessions.add(session)
        if not self._unstalled.is_set():
            session.pause_reading(True)
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            rcvd = ws.protocol.close_rcvd
            self.closes.append(None if rcvd is None else (rcvd.code, rcvd.reason))

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
        if upgrade and path == WS_PATH:
            return connection.respond(503, "Service Unavailable\n") if self._refuse else None
        if not upgrade and path.startswith("/v4/"):
            status, body = rest.route(self.exchange, request.path, self._blocked)
            return _json(connection, status, body)
        return _json(connection, 404, {"errors": [{"msg": f"Cannot GET {path}"}]})

    # --- Host protocol (used by sessions) -----------------------------------------------------
    def tickers(self) -> set[str]:
        """Tickers socks' market cache knows."""
        return set(self.exchange.markets)

    def snapshot(self, channel: str, sub_id: str) -> Any:
        """The `subscribed` contents, or SnapshotFailed with socks' text."""
        queue = self._fail.get(channel)
        if queue:
            raise SnapshotFailed(proto.fetch_failed(channel), legacy=queue.pop(0))
        try:
            return rest.channel_snapshot(self.exchange, channel, sub_id, self._blocked)
        except rest.RestError as exc:
            text = rest.COMPLIANCE_BLOCKED if exc.status == 403 else proto.fetch_failed(channel)
            raise SnapshotFailed(text) from None

    def snapshot_delay(self, channel: str) -> float:
        """Seconds the snapshot fetch takes for `channel`."""
        return self._delay.get(channel, 0.0)

    def log_subscribe(self, index: int, channel: str, raw_id: str | None) -> None:
        """Record every subscribe request for pacing assertions."""
        self.subscribe_log.append((time.monotonic(), index, channel, raw_id))

    def stalled_after(self, moment: float) -> bool:
        """True if a stall was in force at any time since `moment` (loop time)."""
        return not self._unstalled.is_set() or self._stall_ended >= moment

    async def wait_unstalled(self) -> None:
        """Return once no stall is in force."""
        await self._unstalled.wait()

    # --- broadcasting -------------------------------------------------------------------------
    def _publish(self, updates: list[Update]) -> None:
        for update in updates:
            routes = _routes(update)
            for session in list(self._sessions):
                for channel, sub_id, number in routes:
                    session.deliver(channel, sub_id, update.contents, number)

    # --- controls -----------------------------------------------------------------------------
    def set_price(self, ticker: str, price: float) -> None:
        """Oracle price update (v4_markets oraclePrices); the book and equity follow it."""
        self._publish(self.exchange.set_price(ticker, price))

    def place_order(
        self,
        account: str,
        ticker: str,
        side: str,
        size: float,
        price: float,
        *,
        type: str = "LIMIT",
        order_id: str | None = None,
        client_id: str | None = None,
        status: str = "OPEN",
        trigger_price: float | None = None,
        reduce_only: bool = False,
        good_til: float | None = None,
    ) -> str:
        """Place an order (conditional types start UNTRIGGERED); returns its uuid."""
        order, updates = self.exchange.place_order(
            account, ticker, side, size, price, type=type, order_id=order_id,
            client_id=client_id, status=status, trigger_price=trigger_price,
            reduce_only=reduce_only, good_til=good_til,
        )  # fmt: skip
        self._publish(updates)
        return order.id

    def fill_order(
        self,
        order_id: str,
        size: float | None = None,
        price: float | None = None,
        *,
        liquidity: str = "MAKER",
    ) -> str:
        """Fill the rest (or `size`) of an order; one subaccount message plus a trade."""
        fill, updates = self.exchange.fill_order(order_id, size, price, liquidity)
        self._publish(updates)
        return fill.id

    def cancel_order(
        self,
        order_id: str,
        *,
        reason: str = "ORDER_REMOVAL_REASON_USER_CANCELED",
        best_effort: bool = False,
    ) -> None:
        """Cancel an order (BEST_EFFORT_CANCELED when `best_effort`)."""
        self._publish(self.exchange.cancel_order(order_id, reason, best_effort=best_effort))

    def trigger_order(self, order_id: str) -> None:
        """A conditional order triggers: UNTRIGGERED -> OPEN."""
        self._publish(self.exchange.trigger_order(order_id))

    def liquidate(self, account: str, ticker: str, price: float | None = None) -> str:
        """Close a position with a LIQUIDATED taker fill; returns the fill id."""
        fill, updates = self.exchange.liquidate(account, ticker, price)
        self._publish(updates)
        return fill.id

    def funding_tick(
        self, ticker: str, rate: float | None = None, *, next_rate: float | None = None
    ) -> None:
        """An hourly funding tick: netFunding and USDC of every position in `ticker` change."""
        self._publish(self.exchange.funding_tick(ticker, rate, next_rate))

    def transfer(self, account: str, amount: float, *, type: str = "DEPOSIT") -> None:
        """Move USDC (DEPOSIT/WITHDRAWAL/TRANSFER_IN/TRANSFER_OUT)."""
        self._publish(self.exchange.transfer(account, amount, type))

    def new_block(self) -> None:
        """Height + 1 and a v4_block_height update."""
        self._publish(self.exchange.new_block())

    def set_clock_offset(self, seconds: float) -> None:
        """Stamp what happens from now on `seconds` away from the wall clock (-3600: an hour
        ago), so history older than a bot's catch-up lookback can be made."""
        self.exchange.clock = lambda: time.time() + seconds

    async def disconnect_all(self, code: int = 1006) -> None:
        """Drop every connection: 1006 aborts TCP, other codes close with the doc's reason."""
        sessions = list(self._sessions)
        if code == 1006:
            for session in sessions:
                session.abort()
        else:
            reason = proto.CLOSE_REASONS.get(code, "")
            await asyncio.gather(*(s.close(code, reason) for s in sessions))
        waiters = [asyncio.create_task(s.done.wait()) for s in sessions]
        if waiters:
            await asyncio.wait(waiters, timeout=5)
            for waiter in waiters:
                waiter.cancel()

    def send_raw(self, frame: str) -> None:
        """Send `frame` as is, as a text frame, on every open connection (malformed on purpose)."""
        for session in self._sessions:
            session.outbox.put_nowait(frame.encode())

    def drop_messages(self, n: int) -> None:
        """The next `n` data messages on every open connection are counted but never sent."""
        for session in self._sessions:
            session.drop += n

    def stall(self, seconds: float) -> None:
        """Go silent for `seconds`: nothing sent, no pings, socket reads paused (no pongs)."""
        loop = asyncio.get_running_loop()
        self._stall_until = max(self._stall_until, loop.time() + seconds)
        self._unstalled.clear()
        for session in self._sessions:
            session.pause_reading(True)
        loop.call_later(seconds, self._maybe_unstall)

    def resume(self) -> None:
        """End a stall now."""
        self._unstall()

    def _maybe_unstall(self) -> None:
        if asyncio.get_running_loop().time() + 1e-3 >= self._stall_until:
            self._unstall()

    def _unstall(self) -> None:
        if self._unstalled.is_set():
            return
        self._stall_ended = asyncio.get_running_loop().time()
        self._unstalled.set()
        for session in self._sessions:
            session.pause_reading(False)

    def fail_snapshots(self, channel: str, count: int = 1, *, legacy: bool = False) -> None:
        """The next `count` subscribes on `channel` fail with the fetch error."""
        self._fail.setdefault(channel, []).extend([legacy] * count)

    def delay_snapshots(self, channel: str, seconds: float) -> None:
        """Answer subscribes on `channel` `seconds` late (0 turns it off); others keep flowing."""
        self._delay[channel] = seconds

    def refuse_connections(self, refuse: bool = True) -> None:
        """Answer WebSocket upgrades with HTTP 503 while REST keeps working."""
        self._refuse = refuse

    def block_address(self, address: str) -> None:
        """Compliance-block an address: WS subscribes get the legal text, REST answers 403."""
        self._blocked.add(address)

    # --- introspection ------------------------------------------------------------------------
    def equity(self, account: str) -> tuple[float, float]:
        """(equity, freeCollateral) exactly as REST reports them."""
        eq, free = self.exchange.equity(account)
        return float(num(eq)), float(num(free))


def _routes(update: Update) -> list[tuple[str, str, int | None]]:
    """Where an update goes: subaccount updates also reach the parent channel with the child."""
    if update.channel != "v4_subaccounts":
        return [(update.channel, update.id, None)]
    address, number = update.id.rsplit("/", 1)
    child = int(number)
    parent_id = f"{address}/{child % rest.CHILD_STRIDE}"
    return [(update.channel, update.id, None), ("v4_parent_subaccounts", parent_id, child)]


def _json(connection: ServerConnection, status: int, body: Any) -> Response:
    response = connection.respond(status, orjson.dumps(body).decode())
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    return response
