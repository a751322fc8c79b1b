"""Waiting for an ack by the client's own clock: a busy screen is not a silent server.

A send gives up after `~chatkit.tui.session.ACK_TIMEOUT_S` without an ack, and the
learner's ``rollback`` shows it failed. Measured on the wall clock, a screen busy
drawing a burst of messages made that wait run out while the ack sat unread in
the socket: a message the server had stored turned red. `listening` counts only
the time the client was free to hear the answer: it waits in short steps, and a
step that came back late (the event loop was busy elsewhere) counts as one step,
not as however long the loop was away. So a time-out means the client listened
for that long and heard nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from chatkit.model import TIMED_OUT, DeliveryError

T = TypeVar("T")

STEP_S = 0.1
"""How long each step waits; a late step counts as this long."""


async def listening(work: Awaitable[T], seconds: float, step: float = STEP_S) -> T:
    """``await work``, giving up (`DeliveryError`, "no answer from the server in time")
    after ``seconds`` of the client's own listening time."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    heard = 0.0
    try:
        while True:
            wait = min(step, seconds - heard)
            started = loop.time()
            done, _ = await asyncio.wait({task}, timeout=wait)
            if done:
                return task.result()
            heard += min(loop.time() - started, wait)
            if heard >= seconds:
                raise DeliveryError(TIMED_OUT)
    finally:
        if not task.done():
            task.cancel()
