"""The names of the tasks a flow starts: counted per phone, not per process.

Python names a task it is not given a name for ``Task-N``, from one count the whole
process shares. The explorer's phone runs thousands of timelines, each with a fresh
copy of the flow, so its tasks would soon be numbered in the thousands, where a
scenario's phone has started a handful: a flow reading the number could tell which
one it is in, and behave only while it is not looked at. Each phone's loop, and each
timeline's, numbers its tasks from one.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine, Generator
from contextvars import Context
from typing import Any

TaskFactory = Callable[..., "asyncio.Task[Any]"]


def numbered_tasks() -> TaskFactory:
    """A task factory (`asyncio.AbstractEventLoop.set_task_factory`) that names each task
    ``Task-1``, ``Task-2``… for its loop alone (a name the caller gives replaces it)."""
    numbers = itertools.count(1)

    def factory(
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
        *,
        context: Context | None = None,
        **options: Any,
    ) -> asyncio.Task[Any]:
        options.setdefault("name", f"Task-{next(numbers)}")
        return asyncio.Task(coro, loop=loop, context=context, **options)

    return factory
