"""alertbot: alerts for dYdX v4 traders from the Indexer WebSocket."""

from __future__ import annotations

__version__ = "0.1.0"
