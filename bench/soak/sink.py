"""The local receivers a soak case delivers to: a webhook with fault modes, an SMTP inbox.

Both count *fills*: every delivered notification of the `filled` rule names its fill id in its
title (`Fill <id>`), grouped messages list their members. A copy counts as delivered when the
receiver accepted it (answered 2xx, or 250 to DATA): what a 500, a 429 or a hang saw was not.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller

FILL = re.compile(r"Fill ([0-9a-f-]{8,})")


@dataclass
class Copy:
    """One fill id received in one accepted message."""

    fill: str
    at: float  # time.monotonic() when the message was accepted
    message: int  # the message's sequence number at this receiver


@dataclass
class Tally:
    """What a receiver accepted, in order."""

    copies: list[Copy] = field(default_factory=list)
    messages: int = 0
    refused: int = 0  # requests answered with an error, or never answered

    def accept(self, fills: list[str]) -> None:
        """Count one accepted message carrying `fills`."""
        self.messages += 1
        now = time.monotonic()
        self.copies.extend(Copy(fill, now, self.messages) for fill in fills)

    def fills(self) -> set[str]:
        """Every fill id delivered at least once."""
        return {copy.fill for copy in self.copies}


def webhook_fills(body: bytes) -> list[str]:
    """The fill ids of one webhook document (`alerts[].members[]` or the alert itself)."""
    document: Any = json.loads(body)
    titles = [
        member["title"]
        for alert in document["alerts"]
        for member in alert.get("members") or [alert]
    ]
    return [match.group(1) for title in titles if (match := FILL.search(title))]


class Webhook:
    """An HTTP receiver on 127.0.0.1 whose behaviour the case switches while the bot runs.

    Modes: `ok` (200), `down` (the port is closed: connection refused), `hang` (reads the request,
    never answers), `slow` (answers 200 after `delay`), `500`, `429` (with `retry_after`).
    """

    def __init__(self) -> None:
        self.tally = Tally()
        self.mode = "ok"
        self.delay = 0.0
        self.retry_after = "86400"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Event()

    def url(self) -> str:
        """The URL the bot posts to."""
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        """Listen (on the same port again after `down`)."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the port and every open connection."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def set_mode(self, mode: str) -> None:
        """Switch behaviour; `down` closes the port, leaving `down` opens it again."""
        if mode == "down" and self._server is not None:
            await self.stop()
        elif mode != "down" and self._server is None:
            await self.start()
        self.mode = mode
        self._changed.set()
        self._changed = asyncio.Event()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while body := await _read_body(reader):
                status, headers = await self._answer()
                if status == 0:
                    return  # hung until the mode changed: drop it unanswered
                if status == 200:
                    self.tally.accept(webhook_fills(body))
                else:
                    self.tally.refused += 1
                head = f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                writer.write(head.encode() + b"\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self) -> tuple[int, dict[str, str]]:
        if self.mode == "hang":
            self.tally.refused += 1
            await self._changed.wait()
            return 0, {}
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "500":
            return 500, {}
        if self.mode == "429":
            return 429, {"Retry-After": self.retry_after}
        return 200, {}


async def _read_body(reader: asyncio.StreamReader) -> bytes | None:
    line = await reader.readline()
    if not line:
        return None
    length = 0
    while (raw := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = raw.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return await reader.readexactly(length)


class Inbox:
    """An aiosmtpd server on 127.0.0.1 that counts the fills in every accepted mail."""

    def __init__(self, port: int) -> None:
        self.tally = Tally()
        self.port = port
        self.delay = 0.0
        self._controller: Controller | None = None

    def url(self) -> str:
        """The bot's mailto:// URL (plain SMTP, no AUTH)."""
        return f"mailto://127.0.0.1:{self.port}?from=bot@example.com&to=ops@example.com"

    def start(self) -> None:
        """Accept mail (again)."""
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        """Refuse connections."""
        if self._controller is not None:
            with contextlib.suppress(Exception):  # aiosmtpd's own shutdown races are not ours
                self._controller.stop()
            self._controller = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Count the mail's fills (after `delay`: a slow server)."""
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get("Subject", "") + "\n" + _text(message)
        self.tally.accept(sorted(set(FILL.findall(text))))
        return "250 OK"


def _text(message: Any) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return "" if part is None else str(part.get_content())
