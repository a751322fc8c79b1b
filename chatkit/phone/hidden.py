"""What decides a run's future that only the phone can see, rendered the same in every replay.

The judge's key (`chatkit.engine.timelines.canon.CanonicalState`) covers what the phone
showed and the server stored. The rest lives on the phone: where each unfinished send is
suspended and what its locals point at, and what the flow keeps in its modules — values,
objects, classes, functions' defaults and closures, and what it set on the shipped classes
it can reach (`chatkit.phone.shipped`). `HiddenState` renders all of it with
the same names as the judge's key (client ids as sends, rows as places on screen), and the
phone numbers what it renders: equal numbers for equal hidden states.
"""

from __future__ import annotations
import __future__

import abc
import asyncio
import gc
import os
import struct
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Coroutine, Hashable, Iterable, Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from enum import Enum
from functools import cache, partial
from pathlib import Path
from random import Random
from types import (
    AsyncGeneratorType,
    BuiltinFunctionType,
    ClassMethodDescriptorType,
    CodeType,
    CoroutineType,
    FrameType,
    FunctionType,
    GeneratorType,
    GetSetDescriptorType,
    MappingProxyType,
    MemberDescriptorType,
    MethodDescriptorType,
    MethodType,
    MethodWrapperType,
    ModuleType,
    SimpleNamespace,
    WrapperDescriptorType,
)
from typing import Any, Protocol
from uuid import UUID

from chatkit.client import ChatClient
from chatkit.code_folder import CodeFolder
from chatkit.held import cell_contents, has_dict, is_python_class, own_attributes, slot_names
from chatkit.model import Message, Status
from chatkit.phone.shipped import Watched, changes, is_shipped, within_reach
from chatkit.protocols import Flow
from chatkit.sandbox.device import device_modules, ids_given
from chatkit.script.names import CLIENT_CLOCK, Names
from chatkit.script.server import Request, ScriptedServer
from chatkit.state import Chat, ChatState

NOT_STARTED = object()
"""What a send waits on before it was first stepped."""

_PLAIN: frozenset[type] = frozenset({type(None), int})
"""Values written as they are: no other value in a key equals one of them (``True == 1``
and ``1.0 == 1``, so those are written with their type, see `_render`)."""
_IMMUTABLE: frozenset[type] = frozenset({bytes, range, Decimal, date, timedelta, type(...)})
"""Values whose text says all they are, written by C code that runs nothing of the flow's
(checked by exact type: a subclass may hold more). Not a time nor a zone: their text is
their zone's or offset's, which may be a class of the flow's."""
_AS_PLAIN: dict[type, Callable[[Any], object]] = {
    int: int.__int__,
    float: float.__float__,
    complex: complex.__getnewargs__,  # type: ignore[attr-defined]
    bytes: bytes.__getnewargs__,
    Decimal: Decimal.__str__,
    date: lambda value: date.__reduce__(value)[1],
    time: lambda value: time.__reduce_ex__(value, 4)[1],
    timedelta: lambda value: timedelta.__reduce__(value)[1],
}
"""For each built-in class of values a flow's class may extend, what an object of it holds
as that value, read by the built-in class's own C code (the flow's methods never run)."""
_STATE_IN_ATTRIBUTES: frozenset[type] = frozenset({object, SimpleNamespace, tzinfo})
"""Built-in classes that keep nothing of their own beyond the attributes."""
_KIT_OBJECTS = (ChatState, ChatClient, ScriptedServer, Request, Names)
"""What the kit hands a flow, rendered by what it is: the judge's key covers what they hold."""
_SUSPENDED: dict[type, Callable[[Any], FrameType | None]] = {
    GeneratorType: lambda generator: generator.gi_frame,
    CoroutineType: lambda coroutine: coroutine.cr_frame,
    AsyncGeneratorType: lambda generator: generator.ag_frame,
}
_BUILT_IN: frozenset[type] = frozenset(
    {
        BuiltinFunctionType,
        GetSetDescriptorType,
        MemberDescriptorType,
        WrapperDescriptorType,
        MethodDescriptorType,
        ClassMethodDescriptorType,
        MethodWrapperType,
        type(__future__.annotations),  # what ``from __future__ import annotations`` binds
    }
)
"""Python's own functions and descriptors: the same in every run."""
_ABC_DATA = type(abc.ABC._abc_impl)  # type: ignore[attr-defined]
"""What ``abc`` keeps on each abstract class (its registry and caches), written in C."""
_CACHED = type(cache(print))
"""``functools.cache`` and ``lru_cache``'s wrapper."""
_KIT_CODE = CodeFolder(Path(__file__).resolve().parent.parent)
_BUDGET = 20_000
"""The most values one key reads; a state bigger than that is one of its own."""
_MAX_DEPTH = 100


class Unreadable(Exception):
    """The hidden state holds something its key cannot read faithfully."""


class TaskLike(Protocol):
    """What the phone's key needs to know of a send it drives (`chatkit.phone.timeline`)."""

    done: bool
    waiting: object
    coro: Coroutine[Any, Any, Message]

    @property
    def runner(self) -> object:
        """The asyncio task that runs it: what a flow holds of it (a task group's parent)
        is this send, whose state `_task_key` reads."""
        ...


class DeviceParts(Protocol):
    """What the phone's key reads of its run (`chatkit.phone.timeline.DeviceRun`)."""

    flow: Flow
    state: ChatState
    server: ScriptedServer
    client: ChatClient

    @property
    def tasks(self) -> Sequence[TaskLike]: ...

    @property
    def spawned(self) -> Sequence[asyncio.Task[Any]]:
        """The tasks the flow started that are not done."""
        ...


class HiddenState(Names):
    """What decides a run's future that only the phone can see, rendered the same in every
    replay: where each unfinished send is suspended, what its locals hold, and what the
    flow keeps in its modules."""

    def __init__(self, run: DeviceParts) -> None:
        super().__init__()
        self.run = run
        self._tokens: dict[int, str] = {
            id(run.state): "the state",
            id(run.client): "the client",
            id(run.client.server): "the server",
            id(run.client.view): "the server",
            id(run.server): "the scripted server",
        }
        self._builtins = vars(run.flow).get("__builtins__")
        """The built-ins the device gave the flow's modules: the same in every run."""
        home = getattr(run.flow, "__file__", None)
        self._folder = os.path.dirname(home) + os.sep if type(home) is str else None
        """The learner's folder: their modules, classes and functions are those from it."""
        self._all_modules = device_modules(run.flow)
        self._counted = -1
        self._own: list[ModuleType] = []
        self._names: set[str] = set()
        self._reachable = Watched([], [])
        """The shipped classes and functions the flow's modules can reach (`changes`)."""
        self._budget = _BUDGET
        self._numbers: dict[int, int] = {}
        """Each object read for the key being made, by ``id``: its number, in reading order."""
        self._kept: list[object] = []
        """What the key being made has read, alive until it is made (`_render`)."""
        self._known_static: dict[int, object] = {}
        """What `_static` found static, by ``id`` (kept alive here: no other object takes
        one of these identities)."""

    def key(self) -> Hashable:
        """The hidden state, with the screen it refers to; a state of its own (never equal
        to another) when something in it cannot be read."""
        chats, index, _ = self._screen(self.run.state, self.run.server)  # the judge has the server
        self._budget, self._numbers, self._kept = _BUDGET, {}, []
        for number, task in enumerate(self.run.tasks):
            self._tokens.setdefault(id(task.runner), f"send {number}")
        try:
            tasks = tuple(self._task_key(task) for task in self.run.tasks if not task.done)
            spawned = tuple(self._suspended(task.get_coro()) for task in self.run.spawned)
            return (chats, index, tasks, spawned, self._flow_key())
        except (Unreadable, RecursionError):
            return object()
        finally:
            self._numbers, self._kept = {}, []

    def _task_key(self, task: TaskLike) -> tuple[object, ...]:
        waiting = task.waiting
        if isinstance(waiting, asyncio.Future):
            waiting = ("future", waiting.done())
        elif waiting is not None and waiting is not NOT_STARTED:
            waiting = type(waiting).__qualname__
        return (waiting, self._suspended(task.coro))

    def _suspended(self, awaited: object) -> tuple[object, ...]:
        """Where a coroutine (and what it awaits) is suspended, and what the flow's frames
        on the way hold."""
        frames: list[tuple[CodeType, int, tuple[object, ...]]] = []
        render = self._render
        while True:
            kind = type(awaited)
            frame: FrameType | None
            if kind is CoroutineType:
                coroutine: CoroutineType[Any, Any, Any] = awaited  # type: ignore[assignment]
                frame, awaited = coroutine.cr_frame, coroutine.cr_await
            elif kind is GeneratorType:
                generator: GeneratorType[Any, Any, Any] = awaited  # type: ignore[assignment]
                frame, awaited = generator.gi_frame, generator.gi_yieldfrom
            else:
                break
            if frame is None:
                break
            code = frame.f_code
            if not _is_kit_code(code):  # the kit's own frames hold no news
                local = tuple((name, render(value, 0)) for name, value in frame.f_locals.items())
                frames.append((code, frame.f_lasti, local))
        return tuple(frames)

    def _flow_key(self) -> tuple[object, ...]:
        """What the flow keeps at module level (a learner's own bookkeeping), wherever it
        keeps it: in the flow or a helper module of its own, as plain values, objects'
        attributes, classes, functions' defaults and closures, to the end.

        Every run starts with a fresh copy of the flow (`chatkit.phone.timeline`), so within
        a run these follow from its events alone.
        """
        modules = tuple(
            (module.__name__, self._namespace(vars(module), 0)) for module in self._learners
        )
        changed = tuple(
            (owner, name, self._render(now, 0)) for owner, name, now in changes(self.reachable)
        )
        return (*modules, *changed, ("ids given", ids_given(self.run.flow)))

    def _namespace(self, namespace: dict[str, object], depth: int) -> tuple[object, ...]:
        """Each name's value, but for what is the same in every run (`_static`). Every
        name: a flow may write ``__doc__`` and ``__name__``, and a name it builds at run time
        can be any name (``SimpleNamespace(**{name: …})``)."""
        return tuple(
            (name, self._render(value, depth))
            for name, value in dict.items(namespace)
            if value is not self._builtins and not self._static(value)
        )

    def _static(self, value: object) -> bool:
        """Python's and the kit's own functions and modules, C classes, and the classes a
        flow imports (what it sets on those is read once, in
        `chatkit.phone.shipped.changes`): the same in every run.

        What is static stays so (an object's code, closure and class never change), so
        each one found is remembered for the run — but a module: it is the flow's own
        copy or not by what the flow has imported so far.
        """
        if self._known_static.get(id(value), self) is value:
            return True
        static = self._is_static(value)
        if static and type(value) is not ModuleType:
            self._known_static[id(value)] = value
        return static

    def _is_static(self, value: object) -> bool:
        kind = type(value)
        if kind is FunctionType:  # Python's and the kit's, but for a closure made at run time
            code = value.__code__  # type: ignore[attr-defined]
            return not self._learners_file(code.co_filename) and not value.__closure__  # type: ignore[attr-defined]
        if kind is BuiltinFunctionType:  # a function, or a method of an object (a generator)
            owner = value.__self__  # type: ignore[attr-defined]
            return owner is None or type(owner) is ModuleType
        if issubclass(kind, type):
            return is_shipped(value) or not is_python_class(value)  # type: ignore[arg-type]
        if kind is ModuleType:  # Python's, but not the copies the flow's device made
            learners = self._learners_file(getattr(value, "__file__", None))
            return not learners and self._all_modules.get(value.__name__) is not value  # type: ignore[attr-defined]
        if kind is classmethod or kind is staticmethod:
            return self._static(value.__func__)  # type: ignore[attr-defined]
        if kind is property:
            parts = (value.fget, value.fset, value.fdel)  # type: ignore[attr-defined]
            return all(part is None or self._static(part) for part in parts)
        return kind in _BUILT_IN

    def _render(self, value: object, depth: int) -> object:
        """A hashable stand-in for ``value`` that is the same in every replay.

        A client id becomes the send it belongs to, a row its place on screen, the
        state, client and server what they are. Everything else is read to the end:
        containers, objects' attributes, classes, functions' closures and defaults,
        suspended generators. An object met twice is written the second time as a
        reference to the first, so two names for one list differ from two equal lists.
        What cannot be read (or is too big to) makes the state one of its own
        (`Unreadable`): never merged with another, so never wrongly.
        """
        kind = type(value)
        if kind is str:
            text: str = value  # type: ignore[assignment]  # checked just above
            canonical = self.sends.get(text)
            return ("id", canonical) if canonical is not None else text
        if kind in _PLAIN:
            return value
        if kind is bool or kind is Status:
            return (kind.__qualname__, value)  # a flag is not a count, nor SENT the text "sent"
        if kind is float:
            return ("float", struct.pack("<d", value))  # every bit: 1.0 is not 1, nor -nan nan
        if kind is complex:
            return ("complex", struct.pack("<dd", value.real, value.imag))  # type: ignore[attr-defined]
        if kind is Message:
            position = self._positions.get(id(value))
            if position is not None:
                return ("row", position)
            return ("copy", self._row_key(value))  # type: ignore[arg-type]
        token = self._tokens.get(id(value))
        if token is not None:
            return token
        if kind is Chat:
            return ("chat", value.id)  # type: ignore[attr-defined]
        if issubclass(kind, _KIT_OBJECTS):
            return kind.__qualname__
        if issubclass(kind, asyncio.AbstractEventLoop):
            return "the event loop"
        if kind is datetime:
            return self._moment(value, depth)  # type: ignore[arg-type]
        if kind is UUID:  # a client id kept as a UUID is the send it belongs to, too
            text = str(value)
            canonical = self.sends.get(value.hex) or self.sends.get(text)  # type: ignore[attr-defined]
            return ("uuid", canonical or text)
        if kind in _IMMUTABLE:
            return (kind.__qualname__, repr(value))
        if kind is time:  # the clock time, and its zone read as an object
            return ("clock time", self._render(_AS_PLAIN[time](value), depth))
        if kind is timezone:  # its offset and name, read as objects
            return ("timezone", self._render(timezone.__getinitargs__(value), depth))  # type: ignore[attr-defined]
        if kind is CodeType:  # made from the same source in every run (a flow cannot compile)
            code: CodeType = value  # type: ignore[assignment]
            return ("code", code.co_filename, code.co_firstlineno, code.co_qualname, code.co_code)
        if kind is _ABC_DATA:  # what an ABC has cached: a flow cannot register with one
            return "an ABC's cache"
        self._budget -= 1
        if self._budget < 0 or depth > _MAX_DEPTH:
            raise Unreadable("too big or too deep to read")
        number = self._numbers.get(id(value))
        if number is not None:
            return ("ref", number)
        number = self._numbers[id(value)] = len(self._numbers)
        self._kept.append(value)  # alive until the key is made: no other object takes its id
        return ("#", number, self._contents(value, kind, depth + 1))

    def _moment(self, moment: datetime, depth: int) -> object:
        """A time a flow keeps: the server message it stamps, or the time itself, to the
        microsecond, fold and zone (read as stored: no code of its class or zone runs)."""
        server = self._time(moment)
        if server != CLIENT_CLOCK:
            return server
        state = datetime.__reduce_ex__(moment, 4)[1]
        return ("time", state[0], self._render(state[1] if len(state) > 1 else None, depth))

    def _contents(self, value: Any, kind: type, depth: int) -> object:
        """What an object holds (see `_render`), written with its type."""
        render, name = self._render, f"{kind.__module__}.{kind.__qualname__}"
        if kind is ModuleType:
            if self._static(value):
                return ("module", value.__name__)
            return ("module", value.__name__, self._namespace(vars(value), depth))
        if kind is BuiltinFunctionType:
            return ("built-in method", value.__qualname__, render(value.__self__, depth))
        if kind is _CACHED:  # functools.cache: what it keeps cannot be read
            if value.cache_info().currsize:
                raise Unreadable("a cache that holds values")
            return (name, render(value.__wrapped__, depth))
        if kind is FunctionType:
            if self._static(value):
                return ("function", name, value.__qualname__)
            cells = tuple(render(cell_contents(cell), depth) for cell in value.__closure__ or ())
            defaults = (render(value.__defaults__, depth), render(value.__kwdefaults__, depth))
            return ("function", value.__qualname__, defaults, cells, self._attributes(value, depth))
        if kind is MethodType:
            return ("method", render(value.__self__, depth), value.__func__.__qualname__)
        if kind is classmethod or kind is staticmethod:
            return (name, render(value.__func__, depth), self._attributes(value, depth))
        if kind is property:
            return (name, render((value.fget, value.fset, value.fdel), depth))
        if issubclass(kind, type):
            if self._static(value):
                return ("class", value.__module__, value.__qualname__)
            return ("class", value.__qualname__, self._namespace(dict(vars(value)), depth))
        if kind in _SUSPENDED:
            return ("suspended", *self._frame(_SUSPENDED[kind](value), depth))
        if issubclass(kind, asyncio.Future):
            return ("future", *self._future(value, depth))
        if issubclass(kind, str):
            return (name, str.__str__(value), self._attributes(value, depth))
        if issubclass(kind, datetime):
            return (name, self._moment(value, depth), self._attributes(value, depth))
        if issubclass(kind, list | tuple | deque):
            items = tuple(render(item, depth) for item in _items(value))
            maxlen = value.maxlen if issubclass(kind, deque) else None
            return (name, items, maxlen, self._attributes(value, depth))
        if issubclass(kind, set | frozenset):  # in the order it iterates, which a flow sees
            members = tuple(render(item, depth) for item in _items(value))
            return (name, members, self._attributes(value, depth))
        if issubclass(kind, dict):
            stored = (
                OrderedDict.items(value) if issubclass(kind, OrderedDict) else dict.items(value)
            )
            pairs = tuple((render(k, depth), render(v, depth)) for k, v in stored)
            factory = (
                render(value.default_factory, depth) if issubclass(kind, defaultdict) else None
            )
            return (name, pairs, factory, self._attributes(value, depth))
        if kind is MappingProxyType:  # a class's namespace, or a dataclass field's metadata
            (mapping,) = gc.get_referents(value)  # what it shows, read without its own code
            if type(mapping) is not dict:
                raise Unreadable("a read-only view of a mapping of the flow's own")
            return (
                name,
                tuple((render(k, depth), render(v, depth)) for k, v in dict.items(mapping)),
            )
        if issubclass(kind, bytearray):
            return (name, bytes(value), self._attributes(value, depth))
        if issubclass(kind, BaseException):
            arguments = render(value.args, depth)
            return (name, arguments, self._attributes(value, depth))
        if issubclass(kind, Enum):
            return (name, value.name, self._attributes(value, depth))
        if issubclass(kind, partial):
            parts = (value.func, value.args, value.keywords)
            return (name, render(parts, depth), self._attributes(value, depth))
        if issubclass(kind, Random):  # its state is plain numbers: kept as it is, unwalked
            return (name, Random.getstate(value), self._attributes(value, depth))
        if is_python_class(kind):
            built_in = _built_in_base(kind)
            if built_in in _AS_PLAIN:  # ``class Tally(int)``: its number, and its attributes
                plain = _AS_PLAIN[built_in](value)
                return (name, render(plain, depth), self._attributes(value, depth))
            if built_in not in _STATE_IN_ATTRIBUTES:
                raise Unreadable(f"a {kind.__qualname__} holds what its key cannot read")
        if _has_attributes(value, kind):
            return (name, self._attributes(value, depth))
        held = tuple(gc.get_referents(value))  # what its copy may leave out (a ``super``'s object)
        return (name, render(_reduced(value), depth), render(held, depth))

    def _attributes(self, value: object, depth: int) -> tuple[object, ...]:
        """An object's own attributes: its ``__dict__`` and its slots."""
        held = own_attributes(value)
        return self._namespace(held, depth) if held else ()

    def _frame(self, frame: FrameType | None, depth: int) -> tuple[object, ...]:
        """Where a generator or coroutine waits, and what its locals hold."""
        if frame is None:
            return ("finished",)
        local = tuple((name, self._render(item, depth)) for name, item in frame.f_locals.items())
        return (frame.f_code.co_qualname, frame.f_lasti, local)

    def _future(self, future: asyncio.Future[Any], depth: int) -> tuple[object, ...]:
        """A future's (or task's) outcome, and where a task's coroutine waits."""
        task = self._render(future.get_coro(), depth) if isinstance(future, asyncio.Task) else None
        if not future.done():
            return ("waiting", task)
        if future.cancelled():
            return ("cancelled", task)
        error = future.exception()
        if error is not None:
            return ("raised", self._render(error, depth), task)
        return ("done", self._render(future.result(), depth), task)

    def _learners_file(self, source: object) -> bool:
        return type(source) is str and self._folder is not None and source.startswith(self._folder)

    @property
    def _learners(self) -> list[ModuleType]:
        """The learner's modules this run's flow has run: the flow, then its helpers."""
        modules = self._all_modules
        if len(modules) != self._counted:  # the flow imported more since
            self._counted = len(modules)
            self._own = [
                module
                for module in modules.values()
                if module is self.run.flow or self._learners_file(getattr(module, "__file__", None))
            ]
            self._names = {module.__name__ for module in self._own}
            self._reachable = within_reach(self._all_modules.values())
        return self._own

    @property
    def reachable(self) -> Watched:
        """The shipped classes and functions this run's flow can reach, as shipped: all it
        can have set something on (`restore_shipped` puts them back)."""
        self._learners  # noqa: B018  (brings them up to date)
        return self._reachable

    def _modules(self) -> set[str]:
        """The names of the learner's modules: the flow and its helpers."""
        return (
            self._names
            if len(self._all_modules) == self._counted
            else {module.__name__ for module in self._learners}
        )


def _items(value: Any) -> Iterable[object]:
    """A container's items as stored, whatever its class says its iterator is."""
    bases: tuple[Any, ...] = (list, tuple, deque, set, frozenset)
    for base in bases:
        if isinstance(value, base):
            items: Iterable[object] = base.__iter__(value)
            return items
    raise Unreadable(f"a {type(value).__qualname__} is not a container")


def _built_in_base(kind: type) -> type:
    """The class written in C that a Python class extends (``object``, or ``int`` for
    ``class Tally(int)``): what it keeps apart from its attributes."""
    return next(base for base in kind.__mro__ if not is_python_class(base))


def _has_attributes(value: object, kind: type) -> bool:
    return has_dict(value) or bool(slot_names(kind))


def _reduced(value: object) -> object:
    """What Python's own copy protocol says a C object holds (an iterator's position, say);
    refused for a class of the flow's, whose answer could be anything."""
    kind = type(value)
    if is_python_class(kind) and not is_shipped(kind):
        raise Unreadable(f"a {kind.__qualname__} holds what its key cannot read")
    try:
        return object.__reduce_ex__(value, 4)
    except Exception as error:
        raise Unreadable(f"a {kind.__qualname__} cannot be read: {error}") from None


def _is_kit_code(code: CodeType) -> bool:
    """True for code of the kit itself (the client, the scripted server), not the flow's."""
    return _KIT_CODE.holds(code)
