"""The caches the standard library keeps for the whole process carry nothing between
copies of a flow (`chatkit.sandbox.shared_caches`)."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from chatkit.sandbox import FlowCode, ScriptedWorld
from chatkit.sandbox.shared_caches import allowed_caches, forget_shared_caches

MARKS = """
import typing
from decimal import Decimal

FIRST = str(typing.get_args(typing.Literal[Decimal("1")])[0]) == "1"
for number in range(400):  # pushes Decimal("1") out of the cache
    typing.Literal[number]
typing.Literal[Decimal("1.0")]  # what the next copy would find for Decimal("1")
"""


def typings_caches() -> list[Any]:
    """The caches typing lists for Python's own tests to clear (typing_extensions, once
    imported, adds its own there too: not ones a flow can reach)."""
    return [
        clear.__self__
        for clear in typing._cleanups  # type: ignore[attr-defined]
        if clear.__self__.__wrapped__.__module__ == "typing"
    ]


def test_every_cache_typing_clears_for_its_own_tests_is_forgotten() -> None:
    """typing lists its caches for Python's own test suite; a Python that adds one adds it
    there, and the walk over the allowed modules must find it too."""
    found = {id(cache) for cache in allowed_caches()}
    assert typings_caches()
    assert all(id(cache) in found for cache in typings_caches())


def test_each_copy_of_a_flow_loads_as_the_first(tmp_path: Path) -> None:
    """What one copy left in typing's cache (which of two equal values it met first) is not
    there for the next: no copy can tell it is not the first in its process."""
    (tmp_path / "flow.py").write_text(MARKS)
    code, world = FlowCode(tmp_path / "flow.py"), ScriptedWorld("caches")
    firsts = [code.device(world, name).FIRST for name in ("one", "two", "three")]  # type: ignore[attr-defined]
    assert firsts == [True, True, True]


def test_what_a_flow_cached_is_forgotten() -> None:
    typing.Literal[2.5]
    forget_shared_caches()
    assert all(cache.cache_info().currsize == 0 for cache in typings_caches())
