"""The static check teaches, and does not refuse ordinary Python a flow writes.

It refuses what a phone could not do or should not reach (Python's internals, the kit's
private names); a learner's own names, the dunders it allows and a module's metadata
are the learner's business.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatkit.sandbox.check import check_target

ALLOWED = {
    "super().__init__() in a class of one's own": (
        "class Book(dict):\n"
        "    def __init__(self) -> None:\n"
        "        super().__init__()\n"
        "        self.count = 0\n"
    ),
    "the name of an object's class": (
        "def kind(message: object) -> str:\n    return type(message).__name__\n"
    ),
    "a private field of one's own dataclass, through any name": (
        "from dataclasses import dataclass\n\n\n"
        "@dataclass\nclass _Note:\n    _id: str\n\n\n"
        "def note_id(note: _Note) -> str:\n    return note._id\n"
    ),
    "a private attribute one's own objects set": (
        "class Seen:\n    def __init__(self) -> None:\n        self._ids: set[str] = set()\n\n\n"
        "def has(seen: Seen, client_id: str) -> bool:\n    return client_id in seen._ids\n"
    ),
    "a module's author and version": '__author__ = "Priya"\n__version__ = "1.0"\n',
}

REFUSED = {
    "the kit's private name": (
        "from chatkit import ChatState\n\n\n"
        "def rows(state: ChatState) -> object:\n    return state._index\n",
        "private to the kit or Python",
    ),
    "Python's internals": (
        "def kind(message: object) -> object:\n    return message.__class__\n",
        "Python's internals",
    ),
}


def _violations(source: str, tmp_path: Path) -> list[str]:
    flow = tmp_path / "flow.py"
    flow.write_text(source)
    return [violation.why for violation in check_target(flow)]


@pytest.mark.parametrize("case", ALLOWED)
def test_ordinary_python_is_not_refused(case: str, tmp_path: Path) -> None:
    assert _violations(ALLOWED[case], tmp_path) == []


@pytest.mark.parametrize("case", REFUSED)
def test_what_a_flow_must_not_reach_is_refused_with_why(case: str, tmp_path: Path) -> None:
    source, why = REFUSED[case]
    refused = _violations(source, tmp_path)
    assert len(refused) == 1 and why in refused[0], refused
