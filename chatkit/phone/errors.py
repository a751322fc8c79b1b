"""What the learner's code raised and where, and which of its lines changed each row, as a
phone tells the judge."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatkit.blame import Blame, Journal, blame_traceback
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


def error_data(error: BaseException, folder: str) -> dict[str, object]:
    """An exception the learner's code raised, as the wire carries it."""
    reason = getattr(error, "reason", None) if isinstance(error, DeliveryError) else None
    data: dict[str, object] = {
        "type": type(error).__name__,
        "message": str(error)[:MAX_MESSAGE],
        "where": blame_data(blame_traceback(error.__traceback__, folder)),
    }
    if isinstance(error, DeliveryError) and type(reason) is str:
        data["reason"] = reason[:MAX_MESSAGE]
    if isinstance(error, InvalidMessage):
        data["invalid"] = True
    if isinstance(error, SystemExit):
        data["code"] = repr(error.code)[:MAX_MESSAGE]
    return data


def blame_changes(journal: Journal, since: int, screen: ScreenWriter) -> list[list[object]]:
    """The learner's latest change to each field of each row and chat written on ``screen``,
    among the journal's changes after the first ``since``: ``[key, field, count, where]``."""
    changes = []
    for target, field, count, blame in journal.since(since):
        key = screen.key(target)
        if key is not None:
            changes.append([key, field, count, blame_data(blame)])
    return changes
