"""The event loop a server process runs on: uvloop where it is installed, asyncio's otherwise.

Every message crosses the event loop several times (a frame read, a handler task, an
ack and one echo per member written), so the loop's own cost is a large share of the
server's CPU time per message (``benchmarks/live_server.py``), and uvloop's loop, in C,
costs less. uvloop has no Windows build, so there (and wherever it is missing) the
server runs on asyncio's loop, unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to the end on a new event loop, as `asyncio.run` does."""
    try:
        import uvloop
    except ImportError:  # Windows, or an install without it: asyncio's own loop
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
