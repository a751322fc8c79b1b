"""The caches the standard library keeps for the whole process, emptied around a flow.

`typing` remembers each alias it made (``Literal[…]``, ``List[int]``), `re` each pattern
it compiled. Those caches belong to the process, not to one copy of a flow, and what
they hold shows: of two equal values (``Decimal("1")`` and ``Decimal("1.0")``) a cache
hands back the one it met first, and a value pushed out comes back as a new object.
So a flow could leave a mark there and read it later, where the explorer's key cannot
see it: a copy could tell it is not the first in its process (the explorer runs one per
timeline, a scenario's phone one), or carry a bit from one step of a timeline to the
next. Every copy of a flow therefore starts with these caches empty, and a graded phone
empties them again after each event it is handed (`forget_shared_caches`).

Which caches there are depends on the Python that runs the kit, so they are found, once,
by walking what the allowed modules hold (`chatkit.sandbox.policy.MODULES`).
"""

from __future__ import annotations

import functools
import importlib
import re
import types
from collections.abc import Callable

from chatkit.held import cell_contents, own_attributes
from chatkit.sandbox.policy import MODULES

_CACHE_TYPE = type(functools.lru_cache(maxsize=None)(len))
"""``functools.lru_cache``'s wrapper (written in C)."""
_DEPTH = 6


def allowed_caches() -> list[Callable[..., object]]:
    """Every ``functools.lru_cache`` that the allowed modules' functions, classes and
    objects hold, their closures included, in the order found (nearest first)."""
    found: list[Callable[..., object]] = []
    layer = [value for name in MODULES for value in vars(importlib.import_module(name)).values()]
    seen: set[int] = set()
    for _ in range(_DEPTH):
        inner: list[object] = []
        for value in layer:
            if id(value) in seen or isinstance(value, types.ModuleType):
                continue
            seen.add(id(value))
            if isinstance(value, _CACHE_TYPE):
                found.append(value)
            inner += _held(value)
        layer = inner
    return found


def _held(value: object) -> list[object]:
    """What a function, class or object of an allowed module holds that may be a cache."""
    if isinstance(value, _CACHE_TYPE):
        return [value.__wrapped__]
    if isinstance(value, classmethod | staticmethod):
        return [value.__func__]
    if isinstance(value, property):
        return [value.fget, value.fset, value.fdel]
    if isinstance(value, types.FunctionType):
        return [cell_contents(cell) for cell in value.__closure__ or ()]
    if isinstance(value, type):
        return list(vars(value).values())
    if type(value).__module__ in MODULES:  # ``typing.Literal``: a cache in a slot of its own
        return [type(value), *own_attributes(value).values()]
    return []


@functools.cache
def _clears() -> tuple[Callable[[], None], ...]:
    """What empties each cache, found the first time a process needs it (only those that
    run a flow do: the phones and the terminal client)."""
    return (
        *(cache.cache_clear for cache in allowed_caches()),  # type: ignore[attr-defined]
        re.purge,  # the patterns `re` compiled (a dict of its own, and a cache)
    )


def forget_shared_caches() -> None:
    """Empty every cache the standard library keeps for the whole process that a flow can
    fill and see: before a copy of the flow loads, and after each event a graded phone
    hands it."""
    for clear in _clears():
        clear()
