"""What decides a run's future that only the phone can see, rendered the same in every replay.

The judge's key (`chatkit.engine.timelines.canon.CanonicalState`) covers what the phone
showed and the server stored. The rest lives on the phone: where each unfinished send is
suspended and what its locals point at, and what the flow keeps in its modules — values,
objects, classes, functions' defaults and closures, and what it set on the shipped classes
it can reach (`chatkit.engine.timelines.shipped`). `HiddenState` renders all of it with
the same names as the judge's key (client ids as sends, rows as places on screen), and the
phone numbers what it renders: equal numbers for equal hidden states.
"""

from __future__ import annotations
import __future__

import asyncio
import os
from collections import deque
from collections.abc import Coroutine, Hashable, Sequence
from datetime import datetime
from pathlib import Path
from types import (
    BuiltinFunctionType,
    CellType,
    CodeType,
    CoroutineType,
    FrameType,
    FunctionType,
    GeneratorType,
    MethodType,
    ModuleType,
)
from typing import Any, Protocol

from chatkit.client import ChatClient
from chatkit.code_folder import CodeFolder
from chatkit.engine.scripted import Request, ScriptedServer
from chatkit.engine.timelines.canon import Names
from chatkit.engine.timelines.shipped import Shipped, changes, within_reach
from chatkit.model import Message, ServerMessage, Status
from chatkit.protocols import Flow
from chatkit.sandbox.device import device_modules
from chatkit.state import Chat, ChatState

NOT_STARTED = object()
"""What a send waits on before it was first stepped."""

_PLAIN: frozenset[type] = frozenset({type(None), bool, int, float, Status})
_KIT_CODE = CodeFolder(Path(__file__).resolve().parent.parent)
_RENDER_DEPTH = 3
_FEATURE = type(__future__.annotations)
"""What ``from __future__ import annotations`` binds in a module."""


class TaskLike(Protocol):
    """What the phone's key needs to know of a send it drives (`chatkit.phone.timeline`)."""

    done: bool
    waiting: object
    coro: Coroutine[Any, Any, Message]


class DeviceParts(Protocol):
    """What the phone's key reads of its run (`chatkit.phone.timeline.DeviceRun`)."""

    flow: Flow
    state: ChatState
    server: ScriptedServer
    client: ChatClient

    @property
    def tasks(self) -> Sequence[TaskLike]: ...


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
        home = getattr(run.flow, "__file__", None)
        self._folder = os.path.dirname(home) + os.sep if type(home) is str else None
        """The learner's folder: their modules, classes and functions are those from it."""
        self._all_modules = device_modules(run.flow)
        self._counted = -1
        self._own: list[ModuleType] = []
        self._names: set[str] = set()
        self._reachable: list[Shipped] = []
        """The shipped classes and functions the flow's modules can reach (`chatkit.engine.timelines.shipped.changes`)."""

    def key(self) -> Hashable:
        """The hidden state, with the screen it refers to."""
        chats, index, _ = self._screen(self.run.state, self.run.server)  # the judge has the server
        tasks = tuple(self._task_key(task) for task in self.run.tasks if not task.done)
        return (chats, index, tasks, self._flow_key())

    def _task_key(self, task: TaskLike) -> tuple[object, ...]:
        frames: list[tuple[CodeType, int, tuple[object, ...]]] = []
        awaited: object = task.coro
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
        waiting = task.waiting
        if isinstance(waiting, asyncio.Future):
            waiting = ("future", waiting.done())
        elif waiting is not None and waiting is not NOT_STARTED:
            waiting = type(waiting).__qualname__
        return (waiting, tuple(frames))

    def _flow_key(self) -> tuple[object, ...]:
        """What the flow keeps at module level (a learner's own bookkeeping), wherever it
        keeps it: in the flow or a helper module of its own, as plain values, objects'
        attributes, classes, functions' defaults and closures (a few levels deep).

        Every run starts with a fresh copy of the flow (`chatkit.phone.timeline`), so within
        a run these follow from its events alone.
        """
        modules = tuple(
            (module.__name__, self._namespace(vars(module), 0)) for module in self._learners
        )
        return (*modules, *changes(self.reachable))

    def _namespace(self, namespace: dict[str, object], depth: int) -> tuple[object, ...]:
        """Each name's value, but for what is the same in every run: Python's and the kit's
        own classes, functions and modules (what a flow sets on them is read once, in
        `chatkit.engine.timelines.shipped.changes`)."""
        return tuple(
            (name, self._render(value, depth))
            for name, value in namespace.items()
            if not name.startswith("__") and not self._shipped(value)
        )

    def _shipped(self, value: object) -> bool:
        if isinstance(value, FunctionType):
            return not self._learners_file(value.__code__.co_filename)
        if isinstance(value, type):
            return value.__module__ not in self._modules()
        if isinstance(value, ModuleType):
            return not self._learners_file(getattr(value, "__file__", None))
        return isinstance(value, BuiltinFunctionType | _FEATURE)

    def _render(self, value: object, depth: int) -> object:
        """A hashable stand-in for ``value`` that is the same in every replay.

        A client id becomes the send it belongs to, a row its place on screen, the
        state, client and server what they are; containers are rendered to a few
        levels, anything else by its type.
        """
        kind = type(value)
        if kind is str:
            text: str = value  # type: ignore[assignment]  # checked just above
            canonical = self.sends.get(text)
            if canonical is not None:
                return ("id", canonical)
            return text
        if kind in _PLAIN:
            return value
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
        if isinstance(value, str):
            return self._render(str(value), depth)
        if isinstance(value, Message):
            return ("copy", self._row_key(value))
        if isinstance(value, ServerMessage):
            return ("server copy", self._rename(value.client_id))
        if isinstance(value, ChatState | ChatClient | ScriptedServer | Request | Names):
            return type(value).__qualname__
        if isinstance(value, datetime):
            return self._time(value)
        if isinstance(value, asyncio.Future):
            return ("future", value.done())
        if isinstance(value, BaseException):
            return (type(value).__qualname__, str(value))
        if depth < _RENDER_DEPTH and not isinstance(value, _OPAQUE):
            held = self._held(value, depth + 1)
            if held is not None:
                return held
        if depth < _RENDER_DEPTH:
            if isinstance(value, list | tuple):
                items = (self._render(item, depth + 1) for item in value)
                return (type(value).__qualname__, *items)
            if isinstance(value, set | frozenset):
                rendered = [repr(self._render(item, depth + 1)) for item in value]
                return ("set", *sorted(rendered))
            if isinstance(value, dict):
                pairs = (
                    (self._render(k, depth + 1), self._render(v, depth + 1))
                    for k, v in value.items()
                )
                return ("dict", *pairs)
        return type(value).__qualname__

    def _held(self, value: object, depth: int) -> object:
        """What a learner's module, class, function or object holds (None for anything
        else): the places a flow can keep state besides plain containers."""
        if isinstance(value, ModuleType):
            if not self._learners_file(getattr(value, "__file__", None)):
                return ("module", value.__name__)
            return ("module", value.__name__, *self._namespace(vars(value), depth))
        if isinstance(value, FunctionType):
            if not self._learners_file(value.__code__.co_filename):
                return ("function", value.__qualname__)
            cells = tuple(self._render(_cell(cell), depth) for cell in value.__closure__ or ())
            return (
                "function",
                value.__qualname__,
                self._render(value.__defaults__, depth),
                self._render(value.__kwdefaults__, depth),
                cells,
                self._namespace(vars(value), depth),
            )
        if isinstance(value, MethodType):
            return ("method", self._render(value.__self__, depth), value.__func__.__qualname__)
        if isinstance(value, type):
            if value.__module__ not in self._modules():
                return ("class", value.__qualname__)
            return ("class", value.__qualname__, *self._namespace(dict(vars(value)), depth))
        kind = type(value)
        if kind.__module__ in self._modules():  # an object of a learner's class
            attributes = getattr(value, "__dict__", None)
            slots = [name for name in getattr(kind, "__slots__", ()) if hasattr(value, name)]
            held = dict(attributes) if type(attributes) is dict else {}
            held.update((name, getattr(value, name)) for name in slots)
            return (kind.__qualname__, *self._namespace(held, depth))
        if isinstance(value, deque):
            return ("deque", *(self._render(item, depth) for item in value))
        if isinstance(value, asyncio.Lock | asyncio.Event | asyncio.Semaphore):
            return (kind.__qualname__, repr(value).partition("[")[2])  # locked, waiters:1] …
        if kind.__module__ == "itertools":  # a count() is a counter: its repr says where
            return repr(value)
        return None

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
    def reachable(self) -> list[Shipped]:
        """The shipped classes and functions this run's flow can reach, as shipped: all it
        can have set something on (`chatkit.engine.timelines.shipped.restore_shipped` puts them back)."""
        self._learners  # noqa: B018  (brings them up to date)
        return self._reachable

    def _modules(self) -> set[str]:
        """The names of the learner's modules: the flow and its helpers."""
        return (
            self._names
            if len(self._all_modules) == self._counted
            else {module.__name__ for module in self._learners}
        )


def _cell(cell: CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not filled in yet
        return None


_OPAQUE = (ChatState, ChatClient, ScriptedServer, Request, Names, Message, Chat, ServerMessage)
"""Objects rendered by what they are (above), never by their attributes."""


def _is_kit_code(code: CodeType) -> bool:
    """True for code of the kit itself (the client, the scripted server), not the flow's."""
    return _KIT_CODE.holds(code)
