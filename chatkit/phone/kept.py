"""What a flow keeps for itself, outside the chat state: a count the judge can compare.

A flow's state is the `ChatState` it is handed. Whatever its own modules hold besides
(a set of ids at module level, a cache in a function's defaults) should not grow with
every message: rule 14 names the leak a real client shipped, a set that only grows. The
scale family counts what the flow's modules hold, sends a few thousand messages more,
and counts again.

The count reads containers and objects as stored (`chatkit.held`), never through the
flow's own methods (a ``__len__`` or ``__iter__`` of its own would tell what it likes).
The states the flow is handed count nothing, and nor do modules, plain values, the
classes a flow imports (but what it set on them) and the kit's machinery (the server it is
handed, event loops);
every other object counts what it holds, the kit's data too (a `Chat` the flow made
itself is a set of ids like any other).
"""

from __future__ import annotations

import gc
import sys
from asyncio import AbstractEventLoop, Future, Task
from collections import deque
from collections.abc import Iterable
from functools import _lru_cache_wrapper, partial
from types import (
    AsyncGeneratorType,
    BuiltinFunctionType,
    CoroutineType,
    FrameType,
    FunctionType,
    GeneratorType,
    MethodType,
    MethodWrapperType,
    ModuleType,
)
from typing import Any

from chatkit.code_folder import CodeFolder
from chatkit.held import cell_contents, is_python_class, own_attributes
from chatkit.model import DeliveryError, InvalidMessage, Message, ServerMessage
from chatkit.phone.shipped import changes, within_reach
from chatkit.sandbox.caches import Cached
from chatkit.sandbox.device import device_modules
from chatkit.state import Chat, ChatState

BUDGET = 1_000_000
"""The count stops here: far past what a steady flow keeps, and quick to reach."""
_PLAIN = (str, bytes, int, float, complex, bool, type(None))
"""Values that hold nothing else."""
_CONTAINERS: tuple[Any, ...] = (list, tuple, set, frozenset, deque)
"""Containers read through their own type's iterator."""
_KIT_DATA = (Chat, ChatState, Message, ServerMessage, DeliveryError, InvalidMessage, Cached)
"""The kit's classes a flow can make things of (and keep what it likes in): a
``functools.cache`` of the flow's too, which remembers what it is called with."""
_BOUND = (BuiltinFunctionType, MethodWrapperType)
"""A built-in method bound to an object (``seen.add``), which holds it."""
_SUSPENDED: dict[type, str] = {
    GeneratorType: "gi_frame",
    CoroutineType: "cr_frame",
    AsyncGeneratorType: "ag_frame",
}


def kept_values(flow: object, folder: str, handed: Iterable[ChatState] = ()) -> dict[str, int]:
    """How many values the flow's own modules (those in ``folder``) hold, all the way down,
    by the module-level name that holds them (``flow.SEEN``, ``flow.__seen``): each container
    counts its items, each object its attributes (the kit's data too), each of the flow's
    classes and functions what they keep. The states the flow was ``handed``, and what they hold,
    count nothing: keeping them is a flow's job. A value two names reach counts for the
    first, in the order of their names."""
    prefix = CodeFolder(folder).prefix
    own = {
        module_name: module
        for module_name, module in device_modules(flow).items()
        if str(getattr(module, "__file__", None) or "").startswith(prefix)
    }
    builtins = vars(flow).get("__builtins__")
    roots = sorted(
        (
            (f"{module_name}.{name}", value)
            for module_name, module in own.items()
            for name, value in vars(module).items()
            if value is not builtins
        ),
        key=lambda root: root[0],
    )
    # and what it set on the classes it imports (``collections.Counter.seen = set()``)
    reach = within_reach(device_modules(flow).values())
    roots += [(f"{owner}.{name}", value) for owner, name, value in changes(reach)]
    seen = _state_parts(handed)
    kept: dict[str, int] = {}
    budget = BUDGET
    for root, value in roots:
        count, stack = 0, [value]
        while stack and count < budget:
            value = stack.pop()
            if id(value) in seen:
                continue
            seen.add(id(value))
            parts = _parts(value, own)
            count += len(parts)
            stack += parts
        budget -= count
        if count:
            kept[root] = count
    return kept


def _state_parts(states: Iterable[ChatState]) -> set[int]:
    """The states a flow was handed and the containers they hold, by ``id``."""
    ids: set[int] = set()
    for state in states:
        ids.update((id(state), id(state.chats), id(state.messages)))
        for chat in state.chats.values():
            ids.update((id(chat), id(chat.rows), id(chat.in_flight)))
    return ids


def _parts(value: Any, own: dict[str, ModuleType]) -> list[object]:
    """What ``value`` holds, read without running any code of the flow's."""
    kind = type(value)
    if kind in _PLAIN or kind is ModuleType:
        return []
    if isinstance(value, type):  # the flow's own classes keep what is set on them
        mine = own.get(type.__getattribute__(value, "__module__")) is not None
        return list(dict(type.__dict__["__dict__"].__get__(value)).values()) if mine else []
    if _is_kit_class(kind) and not issubclass(kind, _KIT_DATA):
        return []  # the server it was handed, the clients: the kit's, not what the flow keeps
    if isinstance(value, AbstractEventLoop):
        return []  # what a lock or a queue of the flow's runs on
    mro = kind.__mro__
    if dict in mro:
        items: dict[object, object] = dict.copy(value)
        return [*items.keys(), *items.values(), *own_attributes(value).values()]
    for container in _CONTAINERS:
        if container in mro:
            return [*container.__iter__(value), *own_attributes(value).values()]
    if kind in _BOUND:  # ``seen.add``: the set it adds to
        return [value.__self__]
    if kind is _lru_cache_wrapper:  # functools.cache: what it remembers is out of sight
        return [None] * value.cache_info().currsize
    if kind is FunctionType:
        cells = [cell_contents(cell) for cell in value.__closure__ or ()]
        defaults = [*(value.__defaults__ or ()), *(value.__kwdefaults__ or {}).values()]
        return [*defaults, *cells, *own_attributes(value).values()]
    if kind is MethodType:
        return [value.__self__, value.__func__]
    if kind is staticmethod or kind is classmethod:
        return [value.__func__, *own_attributes(value).values()]
    if kind is property:
        return [value.fget, value.fset, value.fdel]
    if issubclass(kind, partial):
        return [
            value.func,
            *value.args,
            *value.keywords.values(),
            *own_attributes(value).values(),
        ]
    if isinstance(value, Future):  # a task keeps its coroutine; a future, what it hands back
        held: list[object] = [value.get_coro()] if isinstance(value, Task) else []
        if value.done() and not value.cancelled() and value.exception() is None:
            held.append(value.result())
        return held
    frame_name = _SUSPENDED.get(kind)
    if frame_name is not None:  # a generator keeps its locals
        frame: FrameType | None = getattr(value, frame_name)
        return list(frame.f_locals.values()) if frame is not None else []
    if not is_python_class(kind):  # a C object (an ``itertools.repeat``): what it would copy
        return _reduced(value)
    return list(own_attributes(value).values())


def _reduced(value: object) -> list[object]:
    """What a C object holds: what Python's own copy protocol says, and every object it
    points to (a copy may leave some out: a ``super`` copies as its class alone)."""
    try:
        copied: list[object] = [object.__reduce_ex__(value, 4)]
    except Exception:
        copied = []
    return [*copied, *gc.get_referents(value)]


def _is_kit_class(kind: type) -> bool:
    """Whether ``kind`` is one of the kit's own classes: found, under its name, in the kit
    module it names (a class of the flow's cannot pass for one by its module's name)."""
    module_name = type.__dict__["__module__"].__get__(kind)
    if type(module_name) is not str or module_name.partition(".")[0] != "chatkit":
        return False
    found: object = sys.modules.get(module_name)
    for part in type.__dict__["__qualname__"].__get__(kind).split("."):
        if found is None:
            return False
        found = vars(found).get(part) if isinstance(found, ModuleType | type) else None
    return found is kind
