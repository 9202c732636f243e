"""Example plugin: a block-explorer link for the account of any alert with an `address` label."""

from __future__ import annotations

import re
from urllib.parse import quote

from alertbot.core.model import Notification
from alertbot.hookspecs import hookimpl

EXPLORER = "https://www.mintscan.io/dydx/address/{address}"
_ADDRESS = re.compile(r"^dydx1[02-9ac-hj-np-z]{38,58}$")  # bech32: no 1, b, i, o after the prefix


@hookimpl
def alertbot_enrich_alert(notification: Notification) -> dict[str, str] | None:
    """`explorer: https://www.mintscan.io/dydx/address/dydx1...` when the address looks valid."""
    address = notification.labels.get("address", "")
    if not _ADDRESS.match(address):
        return None
    return {"explorer": EXPLORER.format(address=quote(address))}
