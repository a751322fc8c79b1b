"""Rule 14's count (`chatkit.phone.kept`): what a flow keeps, wherever it keeps it.

Each holder below keeps one value for every message sent, and is never emptied: the
leak a real client shipped. Wherever it lives (a private name, a class, a function's
attributes, a generator's frame, a slotted object, a `Chat` of the flow's own), the
count grows with it; a holder that keeps only the latest does not grow.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from chatkit import ChatState
from chatkit.kit_home import kit_root
from chatkit.phone.kept import kept_values
from chatkit.phone.shipped import restore_shipped
from chatkit.target import load_flow

SOLUTION = (kit_root() / "solution" / "flow.py").read_text()
SENDS = 300

LEAKS = {
    "a module set": "SEEN = set()\n\n\ndef keep(x):\n    SEEN.add(x)\n",
    "a private name": "__seen = set()\n\n\ndef keep(x):\n    __seen.add(x)\n",
    "a class attribute": (
        "class Book:\n    seen = {}\n\n\ndef keep(x):\n    Book.seen[x] = True\n"
    ),
    "a function's attribute": "def keep(x):\n    keep.seen.append(x)\n\n\nkeep.seen = []\n",
    "a method's default": (
        "class Book:\n    def add(self, x, seen=[]):\n        seen.append(x)\n\n\n"
        "BOOK = Book()\n\n\ndef keep(x):\n    BOOK.add(x)\n"
    ),
    "a slotted object": (
        "from dataclasses import dataclass, field\n\n\n@dataclass(slots=True)\nclass Book:\n"
        "    seen: set = field(default_factory=set)\n\n\nBOOK = Book()\n\n\n"
        "def keep(x):\n    BOOK.seen.add(x)\n"
    ),
    "a generator's frame": (
        "def _book():\n    seen = set()\n    while True:\n        seen.add((yield))\n\n\n"
        "BOOK = _book()\nnext(BOOK)\n\n\ndef keep(x):\n    BOOK.send(x)\n"
    ),
    "a chat of its own": (
        "from chatkit import Chat\n\nMINE = Chat('mine')\n\n\n"
        "def keep(x):\n    MINE.in_flight.add(x)\n"
    ),
    "an object's __doc__": (
        "class Book:\n    pass\n\n\nBOOK = Book()\nBOOK.__doc__ = []\n\n\n"
        "def keep(x):\n    BOOK.__doc__.append(x)\n"
    ),
    "an iterator of Python's": (
        "import itertools\n\nBOOK = itertools.repeat(set())\n\n\n"
        "def keep(x):\n    next(BOOK).add(x)\n"
    ),
    "a bound method": "KEEP = set().add\n\n\ndef keep(x):\n    KEEP(x)\n",
    "a dict's own attribute": (
        "class Notes(dict):\n    pass\n\n\nNOTES = Notes()\nNOTES.seen = set()\n\n\n"
        "def keep(x):\n    NOTES.seen.add(x)\n"
    ),
    "a class that names a kit module": (
        'class Book:\n    __module__ = "chatkit.state"\n\n'
        "    def __init__(self):\n        self.seen = set()\n\n\n"
        "BOOK = Book()\n\n\ndef keep(x):\n    BOOK.seen.add(x)\n"
    ),
    "a class of Python's": (
        "import collections\n\ncollections.Counter.kept_by_a_test = set()\n\n\n"
        "def keep(x):\n    collections.Counter.kept_by_a_test.add(x)\n"
    ),
    "a kit class's method": (
        "from chatkit import Message\n\nMessage.confirm.kept_by_a_test = set()\n\n\n"
        "def keep(x):\n    Message.confirm.kept_by_a_test.add(x)\n"
    ),
    "a kit function's __doc__": (
        "from chatkit import check_body\n\ncheck_body.__doc__ = set()\n\n\n"
        "def keep(x):\n    check_body.__doc__.add(x)\n"
    ),
    "a helper named like the kit": (
        "import chatkitbox\n\nBOX = chatkitbox.Box()\n\n\ndef keep(x):\n    BOX.seen.add(x)\n"
    ),
}
HELPER = "class Box:\n    def __init__(self):\n        self.seen = set()\n"
"""``chatkitbox.py``, a helper of the flow's whose name starts like the kit's."""


def flow_keeping(tmp_path: Path, holder: str) -> object:
    (tmp_path / "chatkitbox.py").write_text(HELPER)
    (tmp_path / "flow.py").write_text(
        SOLUTION.replace("\n\nasync def send(", f"\n\n{holder}\n\nasync def send(", 1)
    )
    return load_flow(tmp_path / "flow.py")


def total(flow: object, folder: Path, state: ChatState) -> int:
    return sum(kept_values(flow, str(folder), [state]).values())


@pytest.mark.parametrize("leak", LEAKS)
def test_a_holder_that_only_grows_is_counted_wherever_it_is(leak: str, tmp_path: Path) -> None:
    try:
        flow = flow_keeping(tmp_path, LEAKS[leak])
        state = ChatState("you")
        before = total(flow, tmp_path, state)
        for number in range(SENDS):
            flow.keep(f"id-{number}")  # type: ignore[attr-defined]
        assert total(flow, tmp_path, state) - before >= SENDS
    finally:
        restore_shipped()  # Python's classes are this process's: put them back as shipped


TASK_HOLDER = (
    "import asyncio\n\nINBOX = asyncio.Queue()\n\n\n"
    "async def _keeper():\n    mine = set()\n    while True:\n"
    "        mine.add(await INBOX.get())\n\n\n"
    "KEEPER = asyncio.ensure_future(_keeper())\n\n\n"
    "def keep(x):\n    INBOX.put_nowait(x)\n"
)
"""A set that only grows, held by nothing but a local of a task the flow started."""


def test_what_a_task_of_the_flows_keeps_in_its_locals_is_counted(tmp_path: Path) -> None:
    async def keep_many() -> None:
        flow: Any = flow_keeping(tmp_path, TASK_HOLDER)
        state = ChatState("you")
        before = total(flow, tmp_path, state)
        for number in range(SENDS):
            flow.keep(f"id-{number}")
        while not flow.INBOX.empty():
            await asyncio.sleep(0)
        assert total(flow, tmp_path, state) - before >= SENDS
        flow.KEEPER.cancel()

    asyncio.run(keep_many())


def test_what_the_flow_was_handed_and_the_latest_only_count_nothing_more(tmp_path: Path) -> None:
    flow = flow_keeping(
        tmp_path, "LATEST = []\n\n\ndef keep(state, x):\n    LATEST[:] = [state, x]\n"
    )
    state = ChatState("you")
    before = total(flow, tmp_path, state)
    for number in range(SENDS):
        state.chat("general").in_flight.add(f"id-{number}")  # the state grows: its own job
        flow.keep(state, f"id-{number}")  # type: ignore[attr-defined]
    assert total(flow, tmp_path, state) - before <= 2
