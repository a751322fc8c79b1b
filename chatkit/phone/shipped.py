"""The classes and functions a flow can import, as shipped, and putting them back after a run.

A flow can set an attribute on a class it imports (a counter on `chatkit.Status`, say,
or on ``uuid.UUID``), on one of its methods (``Message.confirm.seen``), or give one a new
``__name__`` or ``__doc__``. Every timeline starts from a fresh copy of the flow, but those
classes are the phone's own, shared by every run: what one run set would outlive it.
So their attributes are taken once, when this module loads and before any flow has run
here; the phone's key reads what a run changed (`changes`), and the run puts them back
when it ends (`restore_shipped`). Classes written in C cannot be changed at all.
"""

from __future__ import annotations

import contextlib
import importlib
import operator
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain
from types import FunctionType, ModuleType
from typing import Any, cast

import chatkit
from chatkit.held import instance_dict, is_python_class
from chatkit.sandbox.policy import MODULES, allowed_names

Shipped = tuple[object, dict[str, object]]
"""A class or function, and its attributes as shipped."""

_MISSING = object()
_VALUES = operator.methodcaller("values")
_CLASS_NAME = type.__dict__["__name__"]
_FUNCTION_NAME = FunctionType.__dict__["__name__"]
_FUNCTION_DOC = FunctionType.__dict__["__doc__"]


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
            elif _keep_contents(value, f"{module.__name__}.{name}"):
                _BY_MODULE.setdefault(module.__name__, []).append(id(value))
            else:
                _keep_object(value, found)
        # the classes its functions hand out (``type(asyncio.timeout(1))``) under any name,
        # and those its aliases stand for (``typing.Callable[…].x = …`` sets it on
        # ``collections.abc.Callable``)
        for value in list(vars(module).values()):
            origin = getattr(value, "__origin__", None)
            for kind in (value, origin):
                if isinstance(kind, type) and is_python_class(kind):
                    _keep_class_or_function(kind, found)
                    _BY_MODULE.setdefault(module.__name__, []).append(id(kind))
    return found


def _keep_class_or_function(value: type | FunctionType, found: dict[int, Shipped]) -> None:
    """Keep a class (and the Python classes it is made from: ``.mro()`` reaches them) or a
    function, and the objects a class holds."""
    if id(value) in found:
        return
    found[id(value)] = (value, dict(vars(value)))
    for name, held in vars(value).items():
        if _keep_contents(held, f"{value.__qualname__}.{name}"):
            _OWNER.setdefault(id(held), id(value))
    if not isinstance(value, type):
        return
    for held in vars(value).values():
        for function in _functions_in(held):  # ``Message.confirm.seen = …`` is a change too
            _OWNER.setdefault(id(function), id(value))
            _keep_class_or_function(function, found)
        _OWNER.setdefault(id(held), id(value))
        _keep_object(held, found)
    for base in value.__mro__[1:]:
        if is_python_class(base):
            _OWNER.setdefault(id(base), id(value))
            _keep_class_or_function(base, found)


def _functions_in(held: object) -> list[FunctionType]:
    """The Python functions a class attribute is, or wraps (a method, a static or class
    method, a property's getter and setter): a flow reaches each through the class."""
    if isinstance(held, staticmethod | classmethod):
        inner: list[object] = [held.__func__]
    elif isinstance(held, property):
        inner = [held.fget, held.fset, held.fdel]
    else:
        inner = [held]
    return [function for function in inner if isinstance(function, FunctionType)]


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
        for name, held in attributes.items():
            if _keep_contents(held, f"a {type(value).__qualname__}.{name}"):
                _OWNER.setdefault(id(held), id(value))


CONTAINERS = (list, dict, set, deque, bytearray)
"""The kinds of container a flow could write into, found among what it can import."""
_PLAIN_KINDS = (dict, list, set, deque)
"""Containers of exactly these kinds are checked all together, in C (`Watched`)."""


def _keep_contents(value: object, label: str) -> bool:
    """Keep a container a flow can reach (``typing.EXCLUDED_ATTRIBUTES``, a class's dict
    of constants) with what it holds now; True if ``value`` is one."""
    if not isinstance(value, CONTAINERS):
        return False
    if id(value) not in _CONTENTS:
        _CONTENTS[id(value)] = (value, label, *_holding(value))
    return True


def _holding(container: Any) -> tuple[tuple[object, ...], tuple[object, ...]]:
    """What a container holds, as stored (no method of a subclass runs): its items, or a
    mapping's keys and values."""
    if isinstance(container, dict):
        return tuple(dict.keys(container)), tuple(dict.values(container))
    if isinstance(container, bytearray):
        return (bytes(container),), ()
    if isinstance(container, set):
        return tuple(set.__iter__(container)), ()
    if isinstance(container, deque):
        return tuple(deque.__iter__(container)), ()
    return tuple(list.__iter__(container)), ()


Contents = tuple[object, str, tuple[object, ...], tuple[object, ...]]
"""A shipped container, where it is, and what it held as shipped (items, or keys and values)."""

_CONTENTS: dict[int, Contents] = {}
"""Every shipped container, by ``id``."""


def _holds_as_shipped(contents: Contents) -> bool:
    """Whether a shipped container holds the very objects it was shipped with, in order."""
    container, _, items, values = contents
    now_items, now_values = _holding(container)
    return (
        len(now_items) == len(items)
        and all(map(operator.is_, now_items, items))
        and all(map(operator.is_, now_values, values))
        if not isinstance(container, bytearray)
        else now_items == items
    )


def _put_back(contents: Contents) -> None:
    """Fill a shipped container again with what it was shipped with."""
    container: Any = contents[0]
    items, values = contents[2], contents[3]
    if isinstance(container, dict):
        dict.clear(container)
        dict.update(container, zip(items, values, strict=True))
    elif isinstance(container, bytearray):
        container[:] = cast(bytes, items[0])
    elif isinstance(container, set):
        set.clear(container)
        set.update(container, items)
    elif isinstance(container, deque):
        deque.clear(container)
        deque.extend(container, items)
    else:
        list.clear(container)
        list.extend(container, items)


_AS_SHIPPED = _shipped()
_IN_ORDER = {
    key: (tuple(shipped), tuple(shipped.values())) for key, (_, shipped) in _AS_SHIPPED.items()
}
"""Each shipped object's attribute names and values, in their order (kept alive in
`_AS_SHIPPED`, so no other object can take one of their identities)."""
_ORDER = {key: number for number, key in enumerate(_AS_SHIPPED)}
_CONTENTS_ORDER = {key: number for number, key in enumerate(_CONTENTS)}
_CONTAINED = [(held, owner) for held, owner in _OWNER.items() if held in _CONTENTS]
"""Each container kept on a shipped class, function or object, and that one's ``id``."""


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


def _view(value: object) -> Mapping[str, object]:
    """What a shipped class, function or object holds: a live view, not a copy (the same
    object for as long as the value lives, since a flow cannot write ``__dict__``)."""
    if isinstance(value, type | FunctionType):
        return vars(value)
    attributes = instance_dict(value)
    return {} if attributes is None else attributes


_VIEWS = {key: _view(value) for key, (value, _) in _AS_SHIPPED.items()}
_CLASS_NAMES = {
    key: _CLASS_NAME.__get__(value)
    for key, (value, _) in _AS_SHIPPED.items()
    if isinstance(value, type)
}
"""Each shipped class's ``__name__``: not in its ``__dict__``, and a flow may write it."""

_FUNCTION_NAMES = {
    key: (_FUNCTION_NAME.__get__(value), _FUNCTION_DOC.__get__(value))
    for key, (value, _) in _AS_SHIPPED.items()
    if isinstance(value, FunctionType)
}
"""Each shipped function's ``__name__`` and ``__doc__``: not in its ``__dict__``, and a
flow may write them."""


def _named_as_shipped(value: object) -> list[tuple[str, object, object]]:
    """The names a class or function holds apart from its ``__dict__`` that differ from
    how it was shipped: (name, now, as shipped)."""
    if isinstance(value, type):
        name, now = _CLASS_NAMES[id(value)], _CLASS_NAME.__get__(value)
        return [] if now is name else [("__name__", now, name)]
    if not isinstance(value, FunctionType):
        return []
    name, doc = _FUNCTION_NAMES[id(value)]
    told = [("__name__", _FUNCTION_NAME.__get__(value), name)]
    told.append(("__doc__", _FUNCTION_DOC.__get__(value), doc))
    return [(field, now, shipped) for field, now, shipped in told if now is not shipped]


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


def restore_shipped(watched: Watched | None = None) -> None:
    """Put the classes, functions and objects a flow can import back as shipped (those
    ``watched``, a run's `HiddenState.reachable`; all by default)."""
    if watched is not None and watched.unchanged():
        return
    for contents in _CONTENTS.values() if watched is None else watched.contents:
        if not _holds_as_shipped(contents):
            _put_back(contents)
    for value, shipped in _AS_SHIPPED.values() if watched is None else watched:
        for field, _, original in _named_as_shipped(value):
            if isinstance(value, type):
                type.__setattr__(value, field, original)
            else:
                setattr(value, field, original)
        now = _VIEWS[id(value)]
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


class Watched:
    """The shipped classes, functions and objects one flow can reach (`within_reach`), in
    one order for every run, with what checking them takes made once: a flow's key asks
    whether any changed at every step, and almost always none did."""

    def __init__(self, items: list[Shipped], contents: list[Contents]) -> None:
        self.items = items
        self.contents = contents
        dicts = [each for each in contents if type(each[0]) is dict]
        rows = [each for each in contents if type(each[0]) in (list, set, deque)]
        # checked in C, all together (a dict with the attributes, below); the rest (a dict's
        # subclass, a bytearray) one by one
        self._rows: tuple[Any, ...] = tuple(container for container, *_ in rows)
        self._row_sizes = [len(items) for _, _, items, _ in rows]
        self._row_items = tuple(chain.from_iterable(items for _, _, items, _ in rows))
        self._other_contents = [each for each in contents if type(each[0]) not in _PLAIN_KINDS]
        self._empty = tuple(_VIEWS[id(value)] for value, shipped in items if not shipped)
        full: list[tuple[Any, tuple[object, ...], tuple[object, ...]]] = [
            (_VIEWS[id(value)], tuple(shipped), tuple(shipped.values()))
            for value, shipped in items
            if shipped
        ]
        full += [(container, keys, values) for container, _, keys, values in dicts]
        self._full = tuple(mapping for mapping, _, _ in full)
        self._full_sizes = [len(names) for _, names, _ in full]
        self._full_names = tuple(chain.from_iterable(names for _, names, _ in full))
        self._full_values = tuple(chain.from_iterable(values for _, _, values in full))
        self._classes = tuple(value for value, _ in items if isinstance(value, type))
        self._class_names = tuple(_CLASS_NAMES[id(kind)] for kind in self._classes)
        self._functions = tuple(value for value, _ in items if isinstance(value, FunctionType))
        names_and_docs = [_FUNCTION_NAMES[id(function)] for function in self._functions]
        self._function_names = tuple(name for name, _ in names_and_docs)
        self._function_docs = tuple(doc for _, doc in names_and_docs)

    def __iter__(self) -> Iterator[Shipped]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def unchanged(self) -> bool:
        """Whether every one holds what it was shipped with (by identity, mostly in C)."""
        return (
            list(map(len, self._rows)) == self._row_sizes
            and all(map(operator.is_, chain.from_iterable(self._rows), self._row_items))
            and all(map(_holds_as_shipped, self._other_contents))
            and not any(map(len, self._empty))
            and list(map(len, self._full)) == self._full_sizes
            and all(map(operator.is_, chain.from_iterable(self._full), self._full_names))
            and all(
                map(
                    operator.is_,
                    chain.from_iterable(map(_VALUES, self._full)),
                    self._full_values,
                )
            )
            and all(map(operator.is_, map(_CLASS_NAME.__get__, self._classes), self._class_names))
            and all(
                map(
                    operator.is_,
                    map(_FUNCTION_NAME.__get__, self._functions),
                    self._function_names,
                )
            )
            and all(
                map(operator.is_, map(_FUNCTION_DOC.__get__, self._functions), self._function_docs)
            )
        )


def within_reach(modules: Iterable[ModuleType]) -> Watched:
    """The shipped classes, functions and objects a flow's modules name, and chatkit's, and
    the objects kept on those classes: the ones it can have set something on, in one order
    for every run."""
    modules = list(modules)
    named = map(id, chain.from_iterable(vars(module).values() for module in modules))
    shipped_names = frozenset(filter(_AS_SHIPPED.__contains__, named))  # a few of thousands
    seen = (shipped_names, frozenset(module.__name__ for module in modules))
    watched = _WATCHED.get(seen)
    if watched is None:
        watched = _WATCHED[seen] = _watched(*seen)
    return watched


_WATCHED: dict[tuple[frozenset[int], frozenset[str]], Watched] = {}
"""What `within_reach` found for each set of shipped objects named and of modules (every
run of a flow names the same ones): made ready to check once."""


def _watched(named: frozenset[int], modules: frozenset[str]) -> Watched:
    reached = set(named)
    reached.update(_HANDED, *(_BY_MODULE.get(name, ()) for name in modules))
    while held := set().union(*(_HELD[owner] for owner in reached if owner in _HELD)) - reached:
        reached |= held  # a base class's objects too
    contents = {each for each in reached if each in _CONTENTS}
    contents.update(held for held, owner in _CONTAINED if owner in reached)
    order = sorted(reached - contents, key=_ORDER.__getitem__)
    return Watched(
        [_AS_SHIPPED[each] for each in order],
        [_CONTENTS[each] for each in sorted(contents, key=_CONTENTS_ORDER.__getitem__)],
    )


def changes(watched: Watched) -> list[tuple[str, str, object]]:
    """What a flow set on the shipped classes, functions and objects it can reach (nothing,
    mostly): each one's name, the attribute's name, and the value it holds now."""
    if watched.unchanged():
        return []
    found: list[tuple[str, str, object]] = [
        (label, "holds", container)
        for contents in watched.contents
        if not _holds_as_shipped(contents)
        for container, label, _, _ in (contents,)
    ]
    for value, shipped in watched:
        label = getattr(value, "__qualname__", None) or f"a {type(value).__qualname__}"
        found += [(str(label), field, now) for field, now, _ in _named_as_shipped(value)]
        now = _VIEWS[id(value)]
        if _as_shipped(value, now):
            continue
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
