"""uvicorn's HTTP/1.1 protocol with a deadline for the request head (slowloris).

uvicorn closes idle keep-alive connections, but waits forever for a head that never completes:
a client sending a byte a minute would hold a connection slot for good. Here a connection must
deliver each complete request head within `timeout` seconds of connecting (or of its previous
response), else it is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol


class GuardedH11(H11Protocol):
    """H11Protocol plus a request-head deadline; `head_timeout` is set by `guarded()`."""

    head_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(None)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm(self.cycle)

    def _arm(self, cycle: Any) -> None:
        self.loop.call_later(self.head_timeout, self._expire, cycle)

    def _expire(self, cycle: Any) -> None:
        """No new request head since armed, and still ours (not upgraded to a WebSocket): close."""
        transport = self.transport
        if self.cycle is cycle and transport.get_protocol() is self and not transport.is_closing():
            transport.close()


def guarded(timeout: float) -> type[GuardedH11]:
    """A protocol class whose request heads must arrive within `timeout` seconds."""
    return type("GuardedH11", (GuardedH11,), {"head_timeout": timeout})
