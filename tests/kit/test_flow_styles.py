"""Correct flows written in styles the reference does not use get full marks.

Each style below once lost points for the kit's sake, not the flow's: the phone's
stand-ins for the standard library (its clock, its ``asyncio``, its ``functools``) or
the sandbox's module copies behaved unlike the real thing. Each flow is the reference
solution in that style, graded in the families where it went wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatkit.grading.runner import grade
from chatkit.kit_home import kit_root

pytestmark = pytest.mark.timeout(120)

SOLUTION = (kit_root() / "solution" / "flow.py").read_text()

STYLES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "a dataclass, with the starter's future import": (
        (
            (
                "\n\nasync def send(",
                "\n\n@dataclass(frozen=True)\nclass Settings:\n    limit: int = 10\n\n\n"
                "SETTINGS = Settings()\n\n\nasync def send(",
            ),
            ("import uuid\n", "import uuid\nfrom dataclasses import dataclass\n"),
        ),
        ("normal flow",),
    ),
    "ordinary Python the check once refused": (
        (
            (
                "\n\nasync def send(",
                '\n\n__all__ = ["send", "reconcile", "rollback"]\n\n\n'
                "class Attempt(NamedTuple):\n    tries: int = 0\n\n\n"
                "class _Stats:\n    __slots__ = ()\n    _sent = 0\n\n\n"
                "async def send(",
            ),
            (
                "    chat.in_flight.add(message.client_id)\n",
                "    chat.in_flight.add(message.client_id)\n"
                "    _Stats._sent = Attempt()._replace(tries=_Stats._sent + 1).tries\n",
            ),
            ("import uuid\n", "import uuid\nfrom typing import NamedTuple\n"),
            (
                "    chat.error = reason\n",
                "    chat.error = reason\n\n\n"
                'if __name__ == "__main__":\n    print("run the grader instead")\n',
            ),
        ),
        ("normal flow",),
    ),
    "returns once its echo confirmed it, before the ack": (
        (
            ("import uuid\n", "import asyncio\nimport uuid\n"),
            (
                "    try:\n        stored = await server.send(chat_id, message.client_id, body)\n"
                "    except DeliveryError as error:\n"
                "        rollback(state, message.client_id, error.reason)\n"
                "    else:\n        reconcile(state, stored)\n    return message\n",
                "    confirmed = CONFIRMED.setdefault(message.client_id, asyncio.Event())\n"
                "    delivery = asyncio.create_task(server.send(chat_id, message.client_id, body))\n"
                "    echo = asyncio.create_task(confirmed.wait())\n"
                "    try:\n"
                "        await asyncio.wait({delivery, echo}, return_when=asyncio.FIRST_COMPLETED)\n"
                "    finally:\n        echo.cancel()\n"
                "    CONFIRMED.pop(message.client_id, None)\n"
                "    if not delivery.done():  # the echo proved delivery\n"
                "        delivery.add_done_callback(lambda task: task.exception())\n"
                "        return message\n"
                "    try:\n        stored = delivery.result()\n"
                "    except DeliveryError as error:\n"
                "        rollback(state, message.client_id, error.reason)\n"
                "    else:\n        reconcile(state, stored)\n    return message\n\n\n"
                "CONFIRMED: dict[str, asyncio.Event] = {}\n",
            ),
            (
                "    message.confirm(incoming)\n",
                "    message.confirm(incoming)\n"
                "    if message.client_id in CONFIRMED:\n"
                "        CONFIRMED[message.client_id].set()\n",
            ),
        ),
        ("normal flow", "server-first arrival", "all timelines"),
    ),
    "created_at from a timestamp": (
        (
            ("import uuid\n", "import time\nimport uuid\n"),
            (
                "created_at=datetime.now(UTC),",
                "created_at=datetime.fromtimestamp(time.time(), UTC),",
            ),
        ),
        ("normal flow", "edge cases"),
    ),
    "its own time-out, asked whether it expired": (
        (
            ("import uuid\n", "import asyncio\nimport uuid\n"),
            (
                "        stored = await server.send(chat_id, message.client_id, body)\n"
                "    except DeliveryError as error:\n"
                "        rollback(state, message.client_id, error.reason)\n",
                "        async with asyncio.timeout(10) as deadline:\n"
                "            stored = await server.send(chat_id, message.client_id, body)\n"
                "    except DeliveryError as error:\n"
                "        rollback(state, message.client_id, error.reason)\n"
                "    except TimeoutError:\n"
                "        assert deadline.expired()\n"
                "        rollback(state, message.client_id, 'no answer within 10 s')\n",
            ),
        ),
        ("failure and rollback", "edge cases"),
    ),
    "the chat looked up before the words are checked": (
        (
            (
                "    check_body(body)\n    chat = state.chat(chat_id)\n",
                "    chat = state.chat(chat_id)\n    check_body(body)\n",
            ),
        ),
        ("edge cases",),
    ),
    "a second tap waits for the attempt on its way": (
        (
            ("import uuid\n", "import asyncio\nimport uuid\n"),
            (
                "        return message  # a retry of something the server already confirmed\n",
                "        return message  # a retry of something the server already confirmed\n"
                "    elif message.client_id in ON_ITS_WAY:\n"
                "        await ON_ITS_WAY[message.client_id].wait()\n"
                "        return message\n",
            ),
            (
                "    chat.in_flight.add(message.client_id)\n\n    try:\n",
                "    chat.in_flight.add(message.client_id)\n"
                "    done = ON_ITS_WAY[message.client_id] = asyncio.Event()\n\n    try:\n",
            ),
            (
                "        reconcile(state, stored)\n    return message\n",
                "        reconcile(state, stored)\n"
                "    finally:\n"
                "        del ON_ITS_WAY[message.client_id]\n"
                "        done.set()\n"
                "    return message\n\n\n"
                "ON_ITS_WAY: dict[str, asyncio.Event] = {}\n",
            ),
        ),
        ("edge cases",),
    ),
    "what it was handed, and a lock, kept at module level": (
        (
            ("import uuid\n", "import asyncio\nimport uuid\n"),
            (
                "\n\nasync def send(",
                "\n\nLOCK = asyncio.Lock()\nLAST: list[object] = []\n\n\nasync def send(",
            ),
            (
                "    chat.in_flight.add(message.client_id)\n",
                "    chat.in_flight.add(message.client_id)\n"
                "    LAST[:] = [state, server, chat, message]  # the latest only\n"
                "    async with LOCK:\n        pass\n",
            ),
        ),
        ("scale",),
    ),
    "a bounded cache": (
        (
            ("import uuid\n", "import functools\nimport uuid\n"),
            (
                "\n\nasync def send(",
                "\n\n@functools.lru_cache(maxsize=64)\ndef label(chat_id: str) -> str:\n"
                "    return chat_id.strip()\n\n\nasync def send(",
            ),
            ("    chat = state.chat(chat_id)\n", "    chat = state.chat(label(chat_id))\n"),
        ),
        ("all timelines",),
    ),
    "the request sent in a task group, its failures caught with except*": (
        (
            ("import uuid\n", "import asyncio\nimport uuid\n"),
            (
                "        stored = await server.send(chat_id, message.client_id, body)\n"
                "    except DeliveryError as error:\n"
                "        rollback(state, message.client_id, error.reason)\n",
                "        async with asyncio.TaskGroup() as group:\n"
                "            sending = group.create_task(\n"
                "                server.send(chat_id, message.client_id, body)\n"
                "            )\n"
                "        stored = sending.result()\n"
                "    except* DeliveryError as errors:\n"
                "        rollback(state, message.client_id, errors.exceptions[0].reason)\n",
            ),
        ),
        ("all timelines", "failure and rollback"),
    ),
    **{
        f"the request awaited through {how}": (
            (
                ("import uuid\n", "import asyncio\nimport uuid\n"),
                (
                    "stored = await server.send(chat_id, message.client_id, body)",
                    f"stored = {awaited}",
                ),
            ),
            ("all timelines",),
        )
        for how, awaited in (
            ("a task", "await asyncio.create_task(server.send(chat_id, message.client_id, body))"),
            (
                "ensure_future",
                "await asyncio.ensure_future(server.send(chat_id, message.client_id, body))",
            ),
            ("gather", "(await asyncio.gather(server.send(chat_id, message.client_id, body)))[0]"),
            ("shield", "await asyncio.shield(server.send(chat_id, message.client_id, body))"),
        )
    },
}

_ECHO_FIRST = STYLES["returns once its echo confirmed it, before the ack"][0]
STYLES["cancels the request once its echo confirmed it"] = (
    tuple(
        (
            old,
            new.replace(
                "delivery.add_done_callback(lambda task: task.exception())", "delivery.cancel()"
            ),
        )
        for old, new in _ECHO_FIRST
    ),
    ("server-first arrival", "failover"),
)
"""Each style: its edits of the reference (each ``old`` found exactly once), and the
families it once lost points in."""


@pytest.mark.parametrize("style", sorted(STYLES))
def test_a_correct_flow_in_another_style_gets_full_marks(style: str, tmp_path: Path) -> None:
    edits, families = STYLES[style]
    source = SOLUTION
    for old, new in edits:
        assert source.count(old) == 1, f"{style}: {old!r} is not in the solution once"
        source = source.replace(old, new)
    (tmp_path / "flow.py").write_text(source)
    report = grade(str(tmp_path), families=list(families))
    assert report.load_error is None, report.load_error
    failed = [
        f"{result.name}: {result.message[:200]}"
        for result in report.results
        if result.outcome.value != "passed"
    ]
    assert not failed, f"{style}: {failed}"
    assert report.score == 100
