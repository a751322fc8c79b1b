"""The event loop a timeline's flow sees: nothing on it runs until the run steps it.

The explorer steps a flow's sends by hand (`chatkit.phone.timeline`), so that between two
events of a timeline the flow does exactly what those events allow, and then stands
still. A flow may also start tasks of its own: ``asyncio.create_task(server.send(…))``,
``gather``, ``shield``. Those run on whatever loop is running, when it gets a turn. On a
real loop they would run whenever the judge's loop got one, unseen and unchecked. On
this one they wait in `SteppedLoop.queued` until the run takes them, at the same points
where it steps its sends, so they are checked like the rest of the flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVarTuple

_Ts = TypeVarTuple("_Ts")


class SteppedLoop(asyncio.BaseEventLoop):
    """A loop that only queues: `run_queued` runs what it holds, a round at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.queued: deque[asyncio.Handle] = deque()
        self.started: list[asyncio.Task[Any]] = []
        """Every task started on this loop, in order."""
        self.set_exception_handler(lambda loop, context: None)  # a task's error is its own

    def call_soon(
        self,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self.queued.append(handle)
        return handle

    def create_task(  # type: ignore[override]
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        task = super().create_task(coro, name=name, context=context)
        self.started.append(task)
        return task

    def run_queued(self) -> bool:
        """Run what was queued before this call, in order (what that queues waits for the
        next round, as on a real loop's turn); whether anything ran."""
        ran = False
        for _ in range(len(self.queued)):
            handle = self.queued.popleft()
            if not handle.cancelled():
                handle._run()  # what a real loop's turn does with each ready handle
                ran = True
        return ran

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """This loop is the running one (what ``asyncio.get_running_loop`` and
        ``create_task`` find) while the flow runs, whatever loop runs the phone."""
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self)
        try:
            yield
        finally:
            asyncio.events._set_running_loop(previous)
