"""The process the SIGKILL test kills: submits N notifications and delivers them to a webhook.

Usage: python -m tests.delivery.killee STATE_DIR URL N MAX_BATCH (submit|resume)
`submit` writes N notifications, then delivers until killed; `resume` delivers what is pending and
exits, printing the delivery status as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys

from alertbot.notify.delivery import Delivery
from alertbot.notify.delivery_config import DeliveryConfig
from alertbot.state import open_state
from tests.delivery.fakes import HttpNotifier, note


async def main(state_dir: str, url: str, count: int, max_batch: int, mode: str) -> None:
    db = open_state(state_dir)
    hook = HttpNotifier("hook", url, max_batch=max_batch)
    delivery = Delivery(db, {"hook": hook}, DeliveryConfig(timeout=30))
    if mode == "submit":
        for i in range(count):
            delivery.submit(note(i))
    print("submitted", flush=True)
    await delivery.start()
    if mode == "submit":
        await asyncio.Event().wait()  # deliver until SIGKILL
    await delivery.stop(timeout=20)
    await hook.close()
    print(json.dumps(delivery.status()), flush=True)
    db.close()


if __name__ == "__main__":
    state, url, count, batch, mode = sys.argv[1:6]
    asyncio.run(main(state, url, int(count), int(batch), mode))
