"""Which of the learner's functions, and which line, made a change.

A broken rule is only half an explanation: the learner needs to know where to look.
The rule says what is wrong; the blame says who did it — the function (``send``,
``reconcile`` or ``rollback``) and the line of the learner's file that last changed
the row or the chat the rule is about.

While a scenario drives the learner's code, `Journal.recording` has the kit's rows
and chats note every attribute that is set, with the learner's frame that set it.
Outside those moments (a scale scenario building a long history, say) nothing is
noted and nothing costs more.
"""

from __future__ import annotations

import contextlib
import linecache
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType, TracebackType

from chatkit.code_folder import CodeFolder
from chatkit.kit_home import TargetError
from chatkit.model import Message
from chatkit.state import Chat
from chatkit.target import FUNCTIONS


@dataclass(frozen=True, slots=True)
class Blame:
    """Where the learner's code made a change, or raised: the flow function, and the line."""

    function: str | None
    """``send``, ``reconcile`` or ``rollback``: the innermost of them around the line, or
    None when none of the three is (code at module level, say)."""
    file: str
    line: int
    code: str
    """The line as written."""
    inner: str
    """The function the line is in: the flow function itself, or a helper it called."""


Place = tuple[FrameType, int]
"""A frame, and the line it is at."""


def blame_places(places: Iterable[Place], folder: str) -> Blame | None:
    """The innermost of ``places`` (outermost first) in the learner's ``folder``, and the
    innermost flow function around it.

    The one answer to "where in the learner's file": for a change (`blame_frame`), a
    suspended send (`blame_suspended`), a traceback (`blame_traceback`).
    """
    inside = CodeFolder(folder)
    learner = [(frame, line) for frame, line in places if inside.holds(frame.f_code)]
    if not learner:
        return None
    inner, line = learner[-1]
    around = [frame.f_code.co_name for frame, _ in learner if frame.f_code.co_name in FUNCTIONS]
    return _blame(inner, line, around[-1] if around else None)


_folders: dict[str, CodeFolder] = {}
"""The learner's folder of each grading, told apart once: the journal asks at every change."""


def blame_frame(frame: FrameType | None, folder: str) -> Blame | None:
    """The learner's code running at ``frame`` or around it (a stack, innermost first).

    The same answer as `blame_places` over the whole stack, found walking outward and
    stopping at the first flow function: the journal asks this at every change a flow
    makes, and the stack below the flow (pytest, asyncio) is deep.
    """
    inside = _folders.get(folder) or _folders.setdefault(folder, CodeFolder(folder))
    inner: FrameType | None = None
    line = 0
    while frame is not None:
        code = frame.f_code
        if inside.holds(code):
            if inner is None:
                inner, line = frame, frame.f_lineno
            if code.co_name in FUNCTIONS:
                return _blame(inner, line, code.co_name)
        frame = frame.f_back
    return None if inner is None else _blame(inner, line, None)


def _blame(inner: FrameType, line: int, function: str | None) -> Blame:
    code = inner.f_code
    return Blame(
        function=function,
        file=code.co_filename,
        line=line,
        code=linecache.getline(code.co_filename, line).strip(),
        inner=code.co_name,
    )


def blame_suspended(coro: object, folder: str) -> Blame | None:
    """Where a suspended send waits: the innermost of the learner's coroutines it awaits."""
    chain: list[Place] = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            chain.append((frame, frame.f_lineno))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return blame_places(chain, folder)


def blame_traceback(traceback: TracebackType | None, folder: str) -> Blame | None:
    """Where in the learner's code an error was raised."""
    chain: list[Place] = []
    while traceback is not None:
        chain.append((traceback.tb_frame, traceback.tb_lineno))
        traceback = traceback.tb_next
    return blame_places(chain, folder)


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """Why the learner's ``flow.py`` did not load, sorted once for every reader of it
    (the grader's probe, the terminal client)."""

    message: str
    error_type: str | None
    """The exception's name; None when the file ran but is not a flow yet (`TargetError`)."""
    place: Blame | None
    """Where in the learner's files it broke, when that is known."""


def load_failure(error: BaseException, path: Path) -> LoadFailure:
    """Sort what loading ``path`` raised: a file that does not parse, one that runs but
    is not a flow yet, or an exception (even ``sys.exit``) raised while it ran."""
    if isinstance(error, SyntaxError):
        line = error.lineno or 0
        code = (error.text or "").strip()
        where = Blame(None, error.filename or str(path), line, code, "<module>")
        return LoadFailure(error.msg, type(error).__name__, where)
    if isinstance(error, TargetError):
        return LoadFailure(str(error), None, None)
    message = str(error)
    if isinstance(error, SystemExit):
        message = f"the module called sys.exit({error.code!r}) while being imported"
    place = blame_traceback(error.__traceback__, str(path.resolve().parent))
    return LoadFailure(message, type(error).__name__, place)


CREATED = ("client_id",)
"""The field whose first write, as a row is made, tells who made it."""
_INIT_CODES: dict[type, CodeType] = {cls: cls.__init__.__code__ for cls in (Message, Chat)}


class Journal:
    """The last change the learner's code made to each field of each row and chat."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder.resolve())
        self._writes: dict[tuple[int, str], tuple[int, Blame, object]] = {}
        self.count = 0
        """How many changes were noted so far."""
        self._depth = 0

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Note every change to a row or a chat made while this block runs."""
        self._depth += 1
        if self._depth == 1:
            for cls in (Message, Chat):
                type.__setattr__(cls, "__setattr__", self._noting_setattr())
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                for cls in (Message, Chat):
                    type.__delattr__(cls, "__setattr__")

    def _noting_setattr(self) -> Callable[[object, str, object], None]:
        note = self.note

        def setattr_and_note(target: object, name: str, value: object) -> None:
            object.__setattr__(target, name, value)
            frame = sys._getframe(1)
            if frame.f_code is _INIT_CODES.get(type(target)) and name not in CREATED:
                return  # a new row or chat being filled in: only who made it counts
            note(target, name, frame)

        return setattr_and_note

    def note(self, target: object, field: str, frame: FrameType | None) -> None:
        blame = blame_frame(frame, self.folder)
        if blame is not None:
            self.count += 1
            self._writes[(id(target), field)] = (self.count, blame, target)

    def since(self, count: int) -> list[tuple[object, str, int, Blame]]:
        """The latest change to each field noted after the first ``count`` changes."""
        return [
            (target, field, number, blame)
            for (_, field), (number, blame, target) in self._writes.items()
            if number > count
        ]

    def latest(self, targets: Iterable[object], fields: tuple[str, ...]) -> Blame | None:
        """The most recent of the learner's changes to any of these fields of ``targets``."""
        found = [
            self._writes[key]
            for target in targets
            for field in fields
            if (key := (id(target), field)) in self._writes
        ]
        return max(found, key=lambda write: write[0])[1] if found else None


class RemoteJournal:
    """The judge's copy of a phone's journal: who last changed each row and chat.

    The phone names rows and chats by its own keys (`chatkit.phone.screen`); ``key`` maps
    the judge's mirror objects to them.
    """

    def __init__(self, key: Callable[[object], str | None]) -> None:
        self._key = key
        self._writes: dict[tuple[str, str], tuple[int, Blame]] = {}

    def take(self, key: str, field: str, count: int, blame: Blame) -> None:
        self._writes[(key, field)] = (count, blame)

    def latest(self, targets: Iterable[object], fields: tuple[str, ...]) -> Blame | None:
        """The most recent of the learner's changes to any of these fields of ``targets``,
        or to their making: a row made with a field's value, and never changed since, has
        it from the line that made it."""
        found = [
            self._writes[(key, field)]
            for target in targets
            if (key := self._key(target)) is not None
            for field in (*fields, *CREATED)
            if (key, field) in self._writes
        ]
        return max(found, key=lambda write: write[0])[1] if found else None
