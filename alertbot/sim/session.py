"""One WebSocket connection as socks runs it: counter, subscriptions, limits, batches, pings."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from alertbot.sim import protocol as proto
from alertbot.sim.settings import SimSettings
from alertbot.source.protocol import CAPS


class SnapshotFailed(Exception):
    """The snapshot fetch failed; `legacy` errors omit channel and id like 2024 servers."""

    def __init__(self, text: str, *, legacy: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.legacy = legacy


class Host(Protocol):
    """What a session needs from the simulator (kept narrow so sessions test in isolation)."""

    settings: SimSettings

    def tickers(self) -> set[str]: ...
    def snapshot(self, channel: str, sub_id: str) -> Any: ...
    def snapshot_delay(self, channel: str) -> float: ...
    def log_subscribe(self, index: int, channel: str, raw_id: str | None) -> None: ...
    def stalled_after(self, moment: float) -> bool: ...
    async def wait_unstalled(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Close:
    code: int
    reason: str


def _truthy(value: Any) -> bool:
    return isinstance(value, list | dict) or bool(value)


class Session:
    """State of one connection; `deliver` is called synchronously by the simulator's controls."""

    def __init__(self, ws: ServerConnection, index: int, host: Host) -> None:
        settings = host.settings
        self.ws = ws
        self.index = index
        self.host = host
        self.id = str(uuid.uuid4())
        self.message_id = 0
        self.drop = 0
        self.closing = False
        self.subs: dict[tuple[str, str], bool] = {}  # (channel, id) -> batched
        self.counts: dict[str, int] = defaultdict(int)
        self.batches: dict[tuple[str, str], list[tuple[Any, int | None]]] = {}
        self.outbox: asyncio.Queue[bytes | _Close] = asyncio.Queue()
        self.done = asyncio.Event()
        self._late: set[asyncio.Task[None]] = set()
        self._invalid = proto.RateLimiter(
            settings.invalid_rate_points, settings.invalid_rate_window
        )
        self._rate = proto.RateLimiter(
            settings.subscribe_rate_points, settings.subscribe_rate_window
        )

    # --- lifecycle ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve the connection until it closes; every helper task is owned and cancelled here."""
        self._queue(proto.connected(self.id))
        tasks = [
            asyncio.create_task(self._writer(), name=f"sim-writer-{self.index}"),
            asyncio.create_task(self._heartbeat(), name=f"sim-heartbeat-{self.index}"),
            asyncio.create_task(self._flusher(), name=f"sim-batches-{self.index}"),
        ]
        try:
            async for raw in self.ws:
                self.handle(raw)
        except ConnectionClosed:
            pass
        finally:
            self.closing = True
            pending = [*tasks, *self._late]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self.done.set()

    def pause_reading(self, paused: bool) -> None:
        """Stop (or resume) reading the socket, so client pings and pongs go unanswered."""
        transport = self.ws.transport
        if transport.is_closing():
            return
        if paused:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def abort(self) -> None:
        """Drop TCP without a close frame (the client sees 1006)."""
        self.closing = True
        self.ws.transport.abort()

    async def close(self, code: int, reason: str) -> None:
        """Close now with a close frame, ahead of anything still queued."""
        self.closing = True
        self.pause_reading(False)  # a stalled socket must still read the client's close frame
        with contextlib.suppress(ConnectionClosed):
            await self.ws.close(code, reason)

    # --- outgoing -----------------------------------------------------------------------------
    def _queue(self, message: proto.Message) -> None:
        self.outbox.put_nowait(orjson.dumps(message))

    def _error(self, text: str, mid: int, channel: str | None = None, sub_id: Any = None) -> None:
        self._queue(proto.error(text, self.id, mid, channel, sub_id))

    def _close_after_queue(self, code: int, reason: str) -> None:
        self.closing = True
        self.outbox.put_nowait(_Close(code, reason))

    async def _writer(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                item = await self.outbox.get()
                await self.host.wait_unstalled()
                if isinstance(item, _Close):
                    await self.ws.close(item.code, item.reason)
                    return
                await self.ws.send(item, text=True)

    async def _heartbeat(self) -> None:
        settings = self.host.settings
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(settings.heartbeat_interval)
            await self.host.wait_unstalled()
            sent = loop.time()
            try:
                waiter = await self.ws.ping()
            except ConnectionClosed:
                return
            pong = asyncio.ensure_future(waiter)
            done, _ = await asyncio.wait([pong], timeout=settings.heartbeat_timeout)
            if not done and not self.host.stalled_after(sent):
                await self.close(1011, "Heartbeat timeout")
                return

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.host.settings.batch_interval)
            self.flush()

    def flush(self) -> None:
        """Send buffered batched updates: one channel_batch_data per (channel, id, child)."""
        batches, self.batches = self.batches, {}
        for (channel, sub_id), items in batches.items():
            groups: dict[int | None, list[Any]] = {}
            for contents, number in items:
                groups.setdefault(number, []).append(contents)
            for number, contents_list in groups.items():
                self._data("channel_batch_data", channel, sub_id, contents_list, number)

    def _data(
        self, kind: str, channel: str, sub_id: str, contents: Any, number: int | None
    ) -> None:
        self.message_id += 1
        if self.drop > 0:
            self.drop -= 1
            return
        self._queue(proto.data(kind, channel, self.id, self.message_id, sub_id, contents, number))

    def deliver(self, channel: str, sub_id: str, contents: Any, number: int | None) -> None:
        """Forward one update if this connection is subscribed to (channel, id)."""
        batched = self.subs.get((channel, sub_id))
        if batched is None or self.closing:
            return
        if batched:
            self.batches.setdefault((channel, sub_id), []).append((contents, number))
        else:
            self._data("channel_data", channel, sub_id, contents, number)

    # --- incoming -----------------------------------------------------------------------------
    def handle(self, raw: str | bytes) -> None:
        """Dispatch one client frame exactly as socks' onMessage does."""
        if self.closing:
            return
        try:
            message = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._invalid_message("Invalid message: could not parse")
            return
        if message is None:  # JSON.parse("null").type throws inside socks' handler
            self._error("Internal error", self.message_id)
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if not kind:
            self._invalid_message("Invalid message: type is required")
        elif kind == "subscribe":
            self._subscribe(message)
        elif kind == "unsubscribe":
            self._unsubscribe(message)
        elif kind != "ping":
            self._invalid_message(f"Invalid message type: {proto.js_str(kind)}")

    def _invalid_message(self, text: str) -> None:
        if self._invalid.hit("invalidMessage"):
            self._error(proto.TOO_MANY_INVALID, self.message_id)
            self._close_after_queue(1008, proto.RATE_LIMITED_REASON)
            return
        self._error(text, self.message_id)

    @staticmethod
    def _raw_id(message: proto.Message) -> str | None:
        raw = message.get("id")
        return None if raw is None else (raw if isinstance(raw, str) else proto.js_str(raw))

    def _subscribe(self, message: proto.Message) -> None:
        channel = message.get("channel")
        raw_id = self._raw_id(message)
        self.host.log_subscribe(self.index, str(channel), raw_id)
        problem = proto.basic_problem(message)
        if problem:
            self._error(problem, self.message_id)
            return
        channel = str(channel)  # basic_problem guarantees a known channel
        self.message_id += 1
        mid = self.message_id
        self.counts[channel] += 1
        sub_id = self._admit(channel, message.get("id"), raw_id, mid)
        if sub_id is None:
            self.counts[channel] -= 1
            return
        batched = _truthy(message.get("batched"))
        delay = self.host.snapshot_delay(channel)
        if delay <= 0:
            self._answer(channel, raw_id, sub_id, mid, batched)
            return
        task = asyncio.create_task(self._answer_late(delay, channel, raw_id, sub_id, mid, batched))
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    def _admit(self, channel: str, sent_id: Any, raw_id: str | None, mid: int) -> str | None:
        """Id validation, cap and rate limit, in socks' order; the subscription id or None."""
        if not proto.valid_subscription(channel, raw_id, self.host.tickers()):
            self._error(proto.invalid_subscription(channel, sent_id), mid)
            return None
        limit = self.host.settings.caps.get(channel, CAPS[channel])
        if self.counts[channel] > limit:
            self._error(proto.cap_reached(channel, limit), mid)
            return None
        sub_id = proto.normalize_id(channel, raw_id)
        if self._rate.hit(channel + sub_id):
            self._error(proto.too_many_subscribes(channel, sub_id), mid)
            self._close_after_queue(1008, proto.RATE_LIMITED_REASON)
            return None
        return sub_id

    async def _answer_late(self, delay: float, *args: Any) -> None:
        await asyncio.sleep(delay)
        if not self.closing:
            self._answer(*args)

    def _answer(
        self, channel: str, raw_id: str | None, sub_id: str, mid: int, batched: bool
    ) -> None:
        try:
            contents = self.host.snapshot(channel, sub_id)
        except SnapshotFailed as exc:
            legacy = exc.legacy
            self._error(exc.text, mid, None if legacy else channel, None if legacy else raw_id)
            self.counts[channel] -= 1
            return
        if (channel, sub_id) in self.subs:
            self._error(proto.already_subscribed(channel, sub_id), mid, channel, raw_id)
            self.counts[channel] -= 1
            return
        self.subs[(channel, sub_id)] = batched
        self._queue(proto.subscribed(channel, sub_id, contents, self.id, mid))

    def _unsubscribe(self, message: proto.Message) -> None:
        problem = proto.basic_problem(message)
        if problem:
            self._error(problem, self.message_id)
            return
        channel = str(message["channel"])
        raw_id = self._raw_id(message)
        sub_id = proto.normalize_id(channel, raw_id)
        if self.subs.pop((channel, sub_id), None) is not None:
            self.counts[channel] -= 1
            self.batches.pop((channel, sub_id), None)
        self.message_id += 1
        self._queue(proto.unsubscribed(self.id, self.message_id, channel, message.get("id")))
