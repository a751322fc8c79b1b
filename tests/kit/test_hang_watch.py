"""The hang watch stops one stretch of learner code that runs too long, and nothing else.

A false alarm here would time out a correct flow in the middle of a scenario, so these
check the two things that can look like a long stretch and are not one: a garbage
collection, and a coroutine that pauses often.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Literal

import pytest

from chatkit.limits import CALL_LIMIT_SECONDS
from chatkit.phone.hang_watch import HangWatch, StuckInLearnerCode


class HandClock:
    """A clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


Callback = Callable[[Literal["start", "stop"], dict[str, int]], object]


@pytest.fixture
def callbacks() -> Iterator[list[Callback]]:
    """``gc.callbacks``, given back as it was."""
    before = list(gc.callbacks)
    yield gc.callbacks
    gc.callbacks[:] = before


def test_a_collection_never_counts_even_read_from_inside_its_callbacks(
    tmp_path: Path, callbacks: list[Callback]
) -> None:
    """The watch's thread may read the clock while the main thread is in a collection's
    last callbacks, before the watch has taken that collection off: it must not see the
    collection's time as the learner's."""
    clock = HandClock()
    seen: list[float] = []

    def collection_takes_a_second(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            clock.now += 1.0

    def read_before_the_watch_hears_it_ended(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            seen.append(watch.busy())

    with HangWatch(tmp_path, clock=clock) as watch:
        callbacks.append(collection_takes_a_second)  # runs after the watch's, at the start
        callbacks.insert(0, read_before_the_watch_hears_it_ended)  # runs before it, at the end
        clock.now += 0.25
        gc.collect()
        after = watch.busy()
    assert seen == [0.25], "mid-collection, the watch counts up to the collection's start"
    assert after == 0.25, "once it ended, the collection's second is left out"


@pytest.mark.timeout(10)
def test_a_coroutine_that_pauses_often_is_never_stuck(
    tmp_path: Path, watched_module: Callable[[str], ModuleType]
) -> None:
    """Busy for five limits in all, but never for more than a fifth of one at a time:
    the same coroutine frame seen again after an await is a new stretch."""
    flow = watched_module(
        "import asyncio, time\n\n"
        "async def send(total, stretch):\n"
        "    end = time.process_time() + total\n"
        "    while time.process_time() < end:\n"
        "        pause = time.process_time() + stretch\n"
        "        while time.process_time() < pause:\n"
        "            pass\n"
        "        await asyncio.sleep(0)\n",
    )
    with HangWatch(tmp_path):
        asyncio.run(flow.send(5 * CALL_LIMIT_SECONDS, CALL_LIMIT_SECONDS / 5))


@pytest.mark.timeout(10)
def test_a_coroutine_that_never_pauses_is_stopped_and_named(
    tmp_path: Path, watched_module: Callable[[str], ModuleType]
) -> None:
    flow = watched_module(
        "import asyncio\n\nasync def send():\n    await asyncio.sleep(0)\n    while True:\n        pass\n",
    )
    stuck = pytest.raises(StuckInLearnerCode, match=r"^send ran for more than 0\.1 s")
    with stuck, HangWatch(tmp_path):
        asyncio.run(flow.send())
