"""What the learner's code raised and where, and which of its lines changed each row, as a
phone tells the judge."""

from __future__ import annotations

from types import FunctionType
from typing import TYPE_CHECKING

from chatkit.blame import Blame, Journal, blame_traceback
from chatkit.held import instance_dict
from chatkit.model import DeliveryError, InvalidMessage

if TYPE_CHECKING:
    from chatkit.phone.screen import ScreenWriter

MAX_MESSAGE = 2000
"""An error's message is cut to this many characters on the wire."""


def blame_data(blame: Blame | None) -> list[object] | None:
    """A `Blame` as the wire carries it."""
    if blame is None:
        return None
    return [blame.function, blame.file, blame.line, blame.code, blame.inner]


_PLAIN = (str, int, float, bool, type(None))
"""Types whose text Python itself writes: telling them runs none of the flow's code."""
_ARGS = BaseException.__dict__["args"]
_TRACEBACK = BaseException.__dict__["__traceback__"]
_MRO = type.__dict__["__mro__"]
_NAME = type.__dict__["__name__"]


def error_data(error: BaseException, folder: str) -> dict[str, object]:
    """An exception the learner's code raised, as the wire carries it.

    Told without running any code of the flow's: an exception of its own whose
    ``__str__`` raises, loops or lies, or a ``reason`` that is a property, must not
    stop the phone telling the judge which function raised."""
    kind = type(error)
    reason = (instance_dict(error) or {}) if isinstance(error, DeliveryError) else {}
    data: dict[str, object] = {
        "type": _NAME.__get__(kind),
        "message": _message(error)[:MAX_MESSAGE],
        "where": blame_data(blame_traceback(_TRACEBACK.__get__(error), folder)),
    }
    if type(reason.get("reason")) is str:
        data["reason"] = str(reason["reason"])[:MAX_MESSAGE]
    if isinstance(error, InvalidMessage):
        data["invalid"] = True
    if isinstance(error, SystemExit):
        data["code"] = _plain(SystemExit.__dict__["code"].__get__(error))[:MAX_MESSAGE]
    return data


def _message(error: BaseException) -> str:
    """``str(error)`` when Python's own code writes it; else the text of its arguments."""
    args = _ARGS.__get__(error)
    if not _own_str(type(error)) and all(type(arg) in _PLAIN for arg in args):
        try:
            return str(error)
        except ValueError:  # an int too long to write
            pass
    if len(args) == 1:
        return _plain(args[0])
    return f"({', '.join(_plain(arg) for arg in args)})" if args else ""


def _own_str(kind: type) -> bool:
    """Whether a class of the flow's writes the exception's text (its own ``__str__``)."""
    for cls in _MRO.__get__(kind):
        if "__str__" in cls.__dict__:
            return type(cls.__dict__["__str__"]) is FunctionType
    return False


def _plain(value: object) -> str:
    """A value's text if Python writes it, else its type's name."""
    if type(value) is str:
        return str(value)
    if type(value) in _PLAIN:
        try:
            return repr(value)
        except ValueError:  # an int too long to write
            return "a very long number"
    return f"<{_NAME.__get__(type(value))}>"


def blame_changes(journal: Journal, since: int, screen: ScreenWriter) -> list[list[object]]:
    """The learner's latest change to each field of each row and chat written on ``screen``,
    among the journal's changes after the first ``since``: ``[key, field, count, where]``."""
    changes = []
    for target, field, count, blame in journal.since(since):
        key = screen.key(target)
        if key is not None:
            changes.append([key, field, count, blame_data(blame)])
    return changes
