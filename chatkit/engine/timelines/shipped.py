"""The classes and functions a flow can import, as shipped, and putting them back after a run.

A flow can set an attribute on a class it imports (a counter on `chatkit.Status`, say,
or on ``uuid.UUID``). Every timeline starts from a fresh copy of the flow, but those
classes are the phone's own, shared by every run: what one run set would outlive it.
So their attributes are taken once, when this module loads and before any flow has run
here; the phone's key reads what a run changed (`changes`), and the run puts them back
when it ends (`restore_shipped`). Classes written in C cannot be changed at all.
"""

from __future__ import annotations

import contextlib
import importlib
import operator
from collections.abc import Iterable, Mapping
from itertools import chain
from types import FunctionType, ModuleType

import chatkit
from chatkit.held import instance_dict, is_python_class
from chatkit.sandbox.policy import MODULES, allowed_names

Shipped = tuple[object, dict[str, object]]
"""A class or function, and its attributes as shipped."""

_MISSING = object()


def _shipped() -> dict[int, Shipped]:
    """The classes and functions a flow can import — chatkit's public names and the allowed
    standard modules' — and the objects with attributes of their own among those names and
    on those classes (`dataclasses.MISSING`, an enum's members), each with its attributes as
    they are now, by ``id``."""
    places: list[tuple[ModuleType, Iterable[str]]] = [(chatkit, chatkit.__all__)]
    for name in MODULES:
        with contextlib.suppress(ImportError):
            places.append((importlib.import_module(name), allowed_names(name)))
    found: dict[int, Shipped] = {}
    for module, names in places:
        for name in names:
            value = getattr(module, name, None)
            if isinstance(value, FunctionType) or (
                isinstance(value, type) and is_python_class(value)
            ):
                _keep_class_or_function(value, found)
            else:
                _keep_object(value, found)
        # the classes its functions hand out (``type(asyncio.timeout(1))``) under any name
        for value in list(vars(module).values()):
            if isinstance(value, type) and is_python_class(value):
                _keep_class_or_function(value, found)
                _BY_MODULE.setdefault(module.__name__, []).append(id(value))
    return found


def _keep_class_or_function(value: type | FunctionType, found: dict[int, Shipped]) -> None:
    """Keep a class (and the Python classes it is made from: ``.mro()`` reaches them) or a
    function, and the objects a class holds."""
    if id(value) in found:
        return
    found[id(value)] = (value, dict(vars(value)))
    if not isinstance(value, type):
        return
    for held in vars(value).values():
        _OWNER.setdefault(id(held), id(value))
        _keep_object(held, found)
    for base in value.__mro__[1:]:
        if is_python_class(base):
            _OWNER.setdefault(id(base), id(value))
            _keep_class_or_function(base, found)


_BY_MODULE: dict[str, list[int]] = {}
"""Every Python class in each allowed module, by ``id``, under whatever name: a flow that
imports the module can reach them through what its functions return."""


_OWNER: dict[int, int] = {}
"""For an object kept on a shipped class (an enum's member), the class's ``id``: a flow
that reaches the class reaches it."""


def _keep_object(value: object, found: dict[int, Shipped]) -> None:
    """Keep ``value`` if it is an object (not a class, function or module) whose own
    attributes a flow could change: one with a ``__dict__``."""
    if isinstance(value, type | FunctionType | ModuleType) or id(value) in found:
        return
    attributes = instance_dict(value)
    if attributes is not None:
        found[id(value)] = (value, dict(attributes))


_AS_SHIPPED = _shipped()
_IN_ORDER = {
    key: (tuple(shipped), tuple(shipped.values())) for key, (_, shipped) in _AS_SHIPPED.items()
}
"""Each shipped object's attribute names and values, in their order (kept alive in
`_AS_SHIPPED`, so no other object can take one of their identities)."""
_ORDER = {key: number for number, key in enumerate(_AS_SHIPPED)}


def _held_by_owner() -> dict[int, list[int]]:
    """The reverse of `_OWNER`: the shipped objects each shipped class keeps, by ``id``."""
    held_by: dict[int, list[int]] = {}
    for held, owner in _OWNER.items():
        if held in _AS_SHIPPED:
            held_by.setdefault(owner, []).append(held)
    return held_by


_HELD = _held_by_owner()
_HANDED = frozenset(id(getattr(chatkit, name)) for name in chatkit.__all__) & _AS_SHIPPED.keys()
"""chatkit's, whose objects every flow is handed (so it can reach them without an import)."""


def _attributes(value: object) -> Mapping[str, object]:
    """What a shipped class, function or object holds now (not a copy)."""
    if isinstance(value, type | FunctionType):
        return vars(value)
    return instance_dict(value) or {}


def _as_shipped(value: object, now: Mapping[str, object]) -> bool:
    """Whether a shipped object holds the very objects it was shipped with, under the same
    names: by identity, in C, never by ``==`` (an object of the flow's that says it equals
    what it replaced is still a change, and state the key must read)."""
    names, values = _IN_ORDER[id(value)]
    return (
        len(now) == len(names)
        and all(map(operator.is_, now, names))
        and all(map(operator.is_, now.values(), values))
    )


def restore_shipped(watched: Iterable[Shipped] | None = None) -> None:
    """Put the classes, functions and objects a flow can import back as shipped (those
    ``watched``, a run's `HiddenState.reachable`; all by default)."""
    for value, shipped in _AS_SHIPPED.values() if watched is None else watched:
        now = _attributes(value)
        if _as_shipped(value, now):
            continue
        if not isinstance(value, type | FunctionType):
            attributes = instance_dict(value)
            if attributes is not None:
                attributes.clear()
                attributes.update(shipped)
            continue
        for name in [name for name in now if name not in shipped]:
            if isinstance(value, type):
                type.__delattr__(value, name)
            else:
                delattr(value, name)
        for name, original in shipped.items():
            if now.get(name, _MISSING) is not original:
                if isinstance(value, type):
                    type.__setattr__(value, name, original)
                else:
                    setattr(value, name, original)


def within_reach(modules: Iterable[ModuleType]) -> list[Shipped]:
    """The shipped classes, functions and objects a flow's modules name, and chatkit's, and
    the objects kept on those classes: the ones it can have set something on, in one order
    for every run."""
    modules = list(modules)
    named = set(map(id, chain.from_iterable(vars(module).values() for module in modules)))
    reached = named.intersection(_AS_SHIPPED).union(_HANDED)
    reached.update(*(_BY_MODULE.get(module.__name__, ()) for module in modules))
    while held := set().union(*(_HELD[owner] for owner in reached.intersection(_HELD))) - reached:
        reached |= held  # a base class's objects too
    return [_AS_SHIPPED[key] for key in sorted(reached, key=_ORDER.__getitem__)]


def changes(watched: list[Shipped]) -> list[tuple[str, str, object]]:
    """What a flow set on the shipped classes, functions and objects it can reach (nothing,
    mostly): each one's name, the attribute's name, and the value it holds now."""
    found: list[tuple[str, str, object]] = []
    for value, shipped in watched:
        now = _attributes(value)
        if _as_shipped(value, now):
            continue
        label = getattr(value, "__qualname__", None) or f"a {type(value).__qualname__}"
        found += [
            (str(label), name, held)
            for name, held in now.items()
            if shipped.get(name, _MISSING) is not held
        ]
        found += [(str(label), name, "deleted") for name in shipped if name not in now]
    return found


def is_shipped(value: object) -> bool:
    """Whether ``value`` is one of the classes and functions a flow can import."""
    return id(value) in _AS_SHIPPED
