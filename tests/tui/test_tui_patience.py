"""`listening`: a send's time-out counts the client's listening time, not the wall clock."""

from __future__ import annotations

import asyncio
import time

import pytest

from chatkit.model import TIMED_OUT, DeliveryError
from chatkit.tui.patience import listening

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]


async def test_a_loop_busy_for_longer_than_the_wait_does_not_time_the_send_out() -> None:
    loop = asyncio.get_running_loop()
    ack: asyncio.Future[str] = loop.create_future()

    def screen_busy_then_the_ack_is_read() -> None:
        time.sleep(0.3)  # the event loop is blocked (a long redraw), longer than the wait
        loop.call_soon(ack.set_result, "stored")

    loop.call_soon(screen_busy_then_the_ack_is_read)
    assert await listening(ack, 0.2, step=0.05) == "stored"


async def test_a_wall_clock_time_out_would_have_failed_it() -> None:
    """The same race with `asyncio.timeout`: the send fails though the ack was there."""
    loop = asyncio.get_running_loop()
    ack: asyncio.Future[str] = loop.create_future()

    def screen_busy_then_the_ack_is_read() -> None:
        time.sleep(0.3)
        loop.call_soon(ack.set_result, "stored")

    loop.call_soon(screen_busy_then_the_ack_is_read)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await ack


async def test_silence_times_out_after_the_listening_time() -> None:
    loop = asyncio.get_running_loop()
    never: asyncio.Future[str] = loop.create_future()
    started = time.monotonic()
    with pytest.raises(DeliveryError) as error:
        await listening(never, 0.2, step=0.05)
    assert error.value.reason == TIMED_OUT
    assert time.monotonic() - started >= 0.2
    assert never.cancelled()  # nothing is left waiting
