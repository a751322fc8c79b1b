"""What a flow keeps for itself, outside the chat state: a count the judge can compare.

A flow's state is the `ChatState` it is handed. Whatever its own modules hold besides
(a set of ids at module level, a cache in a function's defaults) should not grow with
every message: rule 14 names the leak a real client shipped, a set that only grows. The
scale family counts what the flow's modules hold, sends a few thousand messages more,
and counts again.

The count reads containers and objects through the built-in types' own methods, never
through the flow's (a ``__len__`` or ``__iter__`` of its own would tell what it likes);
the kit's objects (rows, the state) and modules, classes and plain values count nothing.
"""

from __future__ import annotations

from collections import deque
from functools import _lru_cache_wrapper
from types import CellType, FunctionType, ModuleType
from typing import Any

from chatkit.code_folder import CodeFolder
from chatkit.sandbox.device import device_modules

BUDGET = 1_000_000
"""The count stops here: far past what a steady flow keeps, and quick to reach."""
_PLAIN = (str, bytes, int, float, complex, bool, type(None))
"""Values that hold nothing else."""
_CONTAINERS: tuple[Any, ...] = (list, tuple, set, frozenset, deque)
"""Containers read through their own type's iterator."""


def kept_values(flow: object, folder: str) -> dict[str, int]:
    """How many values the flow's own modules (those in ``folder``) hold, all the way down,
    by the module-level name that holds them (``flow.SEEN``): each container counts its
    items, each of the flow's objects its attributes. A value two names reach counts for
    the first, in the order of their names."""
    prefix = CodeFolder(folder).prefix
    roots = sorted(
        (
            (f"{module_name}.{name}", value)
            for module_name, module in device_modules(flow).items()
            if str(getattr(module, "__file__", None) or "").startswith(prefix)
            for name, value in vars(module).items()
            if not name.startswith("__")
        ),
        key=lambda root: root[0],
    )
    seen: set[int] = set()
    kept: dict[str, int] = {}
    budget = BUDGET
    for root, value in roots:
        count, stack = 0, [value]
        while stack and count < budget:
            value = stack.pop()
            if id(value) in seen:
                continue
            seen.add(id(value))
            parts = _parts(value)
            count += len(parts)
            stack += parts
        budget -= count
        if count:
            kept[root] = count
    return kept


def _parts(value: Any) -> list[object]:
    """What ``value`` holds, read without running any code of the flow's."""
    kind = type(value)
    if kind in _PLAIN or isinstance(value, ModuleType | type):
        return []
    if kind.__module__.startswith("chatkit"):
        return []  # the kit's objects: the state and its rows are what a flow should keep
    mro = kind.__mro__
    if dict in mro:
        items: dict[object, object] = dict.copy(value)
        return [*items.keys(), *items.values()]
    for container in _CONTAINERS:
        if container in mro:
            return list(container.__iter__(value))
    if kind is _lru_cache_wrapper:  # functools.cache: what it remembers is out of sight
        return [None] * value.cache_info().currsize
    if kind is FunctionType:
        cells = [_cell(cell) for cell in value.__closure__ or ()]
        return [*(value.__defaults__ or ()), *(value.__kwdefaults__ or {}).values(), *cells]
    try:
        attributes = object.__getattribute__(value, "__dict__")
    except AttributeError:
        return []
    return [attributes] if type(attributes) is dict else []


def _cell(cell: CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not filled yet
        return None
