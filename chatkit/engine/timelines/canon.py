"""A run's canonical state: what decides its future, without the random client ids.

Two runs of the same world at the same point (the same events consumed) whose keys
are equal behave the same from there on, so the explorer checks what follows only
once. The judge's key (`CanonicalState`) holds what it saw and knows: the server's
stored messages (as the sends they belong to), the phone's rows, index, flags and
banner as the phone showed them, what the rule watch remembers, and where each send
is. What only the phone can see — where each unfinished send is suspended and what its
locals point at (a row, by its place on screen, or a stale copy, by value), and what the
flow keeps in its modules (values, objects, classes, functions' defaults and closures, and
what it set on chatkit's own classes) — the phone renders the same way
(`HiddenState`) and numbers: equal numbers for equal hidden states. Client ids become
the send they belong to (``s0``, ``s1``…, ``bob``), a client clock timestamp becomes
"the client's clock", a server timestamp the id of the server message that carries it.
"""

from __future__ import annotations
import __future__

import asyncio
import contextlib
import importlib
import os
from collections import deque
from collections.abc import Coroutine, Hashable, Iterable, Sequence
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

import chatkit
from chatkit.client import ChatClient
from chatkit.code_folder import CodeFolder
from chatkit.engine.rules import WatchMemory
from chatkit.engine.scripted import Request, ScriptedServer
from chatkit.model import Message, ServerMessage, Status
from chatkit.protocols import Flow
from chatkit.sandbox.device import device_modules
from chatkit.sandbox.policy import MODULES, allowed_names
from chatkit.state import Chat, ChatState

USER = "you"
OTHER = "bob"
CHAT = "general"
OTHER_CLIENT_ID = f"{OTHER}-device-1"
REFUSAL = "the server refused it"

NOT_STARTED = object()
"""What a send waits on before it was first stepped."""

_PLAIN: frozenset[type] = frozenset({type(None), bool, int, float, Status})
_KIT_CODE = CodeFolder(Path(__file__).resolve().parent.parent)
_RENDER_DEPTH = 3


class _Names:
    """Client ids as the sends they belong to, rows as their places, server times as ids."""

    def __init__(self) -> None:
        self.sends: dict[str, str] = {OTHER_CLIENT_ID: OTHER}
        """Each client id seen, by the send it belongs to (``s0``, ``s1``…, ``bob``)."""
        self._positions: dict[int, tuple[str, int]] = {}
        self._times: dict[datetime, int] = {}

    def name(self, client_id: str, send: str) -> None:
        """``client_id`` belongs to ``send`` from now on."""
        self.sends[client_id] = send

    def _rename(self, client_id: str) -> str:
        return self.sends.get(client_id, client_id)

    def _screen(
        self, state: ChatState, server: ScriptedServer
    ) -> tuple[tuple[object, ...], tuple[object, ...], tuple[object, ...]]:
        """The chats, the index and the server's stored messages, renamed; notes where each
        row is shown and which server message each server time belongs to."""
        rename = self._rename
        self._times = {
            message.created_at: message.id
            for stored in server.stored.values()
            for message in stored
        }
        positions: dict[int, tuple[str, int]] = {}
        chats = []
        for chat in state.chats.values():
            rows = []
            for number, row in enumerate(chat.rows):
                positions[id(row)] = (chat.id, number)
                rows.append(self._row_key(row))
            flight = tuple(sorted(rename(client_id) for client_id in chat.in_flight))
            chats.append((chat.id, tuple(rows), flight, chat.error))
        index = tuple(
            sorted(
                (rename(client_id), positions.get(id(message)) or self._row_key(message))
                for client_id, message in state.messages.items()
            )
        )
        self._positions = positions
        stored = tuple(
            (chat_id, tuple(rename(message.client_id) for message in messages))
            for chat_id, messages in server.stored.items()
        )
        return tuple(chats), index, stored

    def _row_key(self, row: Message) -> tuple[object, ...]:
        return (
            self._rename(row.client_id),
            row.chat_id,
            row.author,
            row.body,
            row.status,
            row.server_id,
            row.seq,
            row.error,
            self._time(row.created_at),
        )

    def _time(self, moment: datetime) -> object:
        """A server message's id if ``moment`` is its timestamp, else the client's clock."""
        return self._times.get(moment, "the client's clock")


class AttemptLike(Protocol):
    """What the judge's key needs to know of a send (`chatkit.engine.timelines.run`)."""

    @property
    def send(self) -> int: ...

    @property
    def retry(self) -> bool: ...

    @property
    def where(self) -> str: ...

    @property
    def request(self) -> Request | None: ...


class CanonicalState(_Names):
    """The judge's canonical state of a run, kept beside it (`Run.canon`) as the run goes.

    It learns which send each client id belongs to as the phone's requests name them
    (`name`), and reads the rest from the judge's mirror, server and watch.
    """

    def key(
        self,
        state: ChatState,
        server: ScriptedServer,
        memory: WatchMemory,
        attempts: Sequence[AttemptLike],
        hidden: object,
    ) -> Hashable:
        """Everything that decides what happens next, minus the random client ids.

        ``memory`` is the watch's, renamed (`WatchMemory.renamed`); ``hidden`` the phone's
        number for what only it can see (`HiddenState`).
        """
        chats, index, stored = self._screen(state, server)
        sends = tuple(
            (attempt.send, attempt.retry, attempt.request is not None, attempt.where)
            for attempt in attempts
        )
        return (chats, index, stored, memory, sends, hidden)

    def rename(self, client_id: str) -> str:
        """The send ``client_id`` belongs to (``s0``…), or the id itself if none."""
        return self._rename(client_id)


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


class HiddenState(_Names):
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
        self._reachable: list[tuple[object, dict[str, object]]] = []
        """The shipped classes and functions the flow's modules can reach (`_changes`)."""

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
        return (*modules, *_changes(self.reachable))

    def _namespace(self, namespace: dict[str, object], depth: int) -> tuple[object, ...]:
        """Each name's value, but for what is the same in every run: Python's and the kit's
        own classes, functions and modules (what a flow sets on them is read once, in
        `_changes`)."""
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
        if isinstance(value, ChatState | ChatClient | ScriptedServer | Request | _Names):
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
            self._reachable = _within_reach(self._all_modules.values())
        return self._own

    @property
    def reachable(self) -> list[tuple[object, dict[str, object]]]:
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


def _shipped() -> dict[int, tuple[object, dict[str, object]]]:
    """The classes and functions a flow can import — chatkit's public names and the allowed
    standard modules' — each with its attributes as they are now: taken when this module
    loads, before any flow has run here. (Classes written in C cannot be changed at all.)"""
    places: list[tuple[ModuleType, Iterable[str]]] = [(chatkit, chatkit.__all__)]
    for name in MODULES:
        with contextlib.suppress(ImportError):
            places.append((importlib.import_module(name), allowed_names(name)))
    found: dict[int, tuple[object, dict[str, object]]] = {}
    for module, names in places:
        for name in names:
            value = getattr(module, name, None)
            if isinstance(value, FunctionType) or (
                isinstance(value, type) and value.__flags__ & _HEAP_TYPE
            ):
                found[id(value)] = (value, dict(vars(value)))
    return found


_HEAP_TYPE = 1 << 9
"""``Py_TPFLAGS_HEAPTYPE``: a class written in Python, whose attributes can be changed."""
_AS_SHIPPED = _shipped()
_CHATKIT_PUBLIC = frozenset(id(getattr(chatkit, name)) for name in chatkit.__all__)
_MISSING = object()
_FEATURE = type(__future__.annotations)
"""What ``from __future__ import annotations`` binds in a module."""


def restore_shipped(watched: Iterable[tuple[object, dict[str, object]]] | None = None) -> None:
    """Put the classes and functions a flow can import back as shipped (those ``watched``,
    a run's `HiddenState.reachable`; all by default): attributes a flow set on them (a
    counter on `Status`, say) would otherwise outlive the run that set them."""
    for value, shipped in _AS_SHIPPED.values() if watched is None else watched:
        now = vars(value)
        if now == shipped:
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


def _within_reach(modules: Iterable[ModuleType]) -> list[tuple[object, dict[str, object]]]:
    """The shipped classes and functions a flow's modules name (and chatkit's, whose
    objects every flow is handed): the ones it can have set something on."""
    named = {id(value) for module in modules for value in vars(module).values()}
    return [entry for key, entry in _AS_SHIPPED.items() if key in named or key in _CHATKIT_PUBLIC]


def _changes(watched: list[tuple[object, dict[str, object]]]) -> tuple[object, ...]:
    """What a flow set on the shipped classes and functions it can reach (nothing, mostly)."""
    return tuple(
        (getattr(value, "__qualname__", "?"), name, repr(now)[:200])
        for value, shipped in watched
        if vars(value) != shipped
        for name, now in vars(value).items()
        if shipped.get(name, _MISSING) is not now
    )


def _cell(cell: CellType) -> object:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not filled in yet
        return None


_OPAQUE = (ChatState, ChatClient, ScriptedServer, Request, _Names, Message, Chat, ServerMessage)
"""Objects rendered by what they are (above), never by their attributes."""


def _is_kit_code(code: CodeType) -> bool:
    """True for code of the kit itself (the client, the scripted server), not the flow's."""
    return _KIT_CODE.holds(code)
