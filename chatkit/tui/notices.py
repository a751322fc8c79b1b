"""Turning whatever the learner's code raises into a short notice a person can read.

The client runs unfinished and buggy code on purpose: that is the exercise. So an
exception from ``send``, ``reconcile`` or ``rollback`` must never end the app or
print a traceback. A starter that is not written yet gets a friendly pointer to
where to start; any other error is shown with its file, line and message, the
way the grader shows it.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chatkit.model import DeliveryError, InvalidMessage
from chatkit.target import kit_root

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing the pane tells the user, above the timeline."""

    text: str
    severity: Severity = "error"


def display_path(path: Path) -> str:
    """A path as the learner would type it: relative to the kit when it is inside it."""
    try:
        return str(path.resolve().relative_to(kit_root()))
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class Where:
    """The innermost place in the learner's file that an exception passed through."""

    file: str
    line: int
    function: str
    code: str


def where_in(error: BaseException, flow_path: Path) -> Where | None:
    """Where ``error`` was raised in ``flow_path`` (or its folder), or None if not there."""
    folder = flow_path.resolve().parent
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if Path(frame.filename).resolve().parent == folder
    ]
    if not frames:
        return None
    frame = frames[-1]
    return Where(frame.filename, frame.lineno or 0, frame.name, (frame.line or "").strip())


def explain(error: BaseException, doing: str, flow_path: Path) -> Notice:
    """The notice for an exception that escaped the flow while it was ``doing`` something.

    ``doing`` is the flow function the client called (``send`` or ``reconcile``); the
    traceback may show that the error came from another one it called in turn.
    """
    if isinstance(error, InvalidMessage):
        return Notice(f"Not sent: {error}", "warning")
    place = where_in(error, flow_path)
    function = place.function if place and place.function != "<module>" else doing
    if isinstance(error, NotImplementedError):
        return Notice(
            f"{function} is not written yet — open {display_path(flow_path)}; "
            "python grader.py shows where to start",
            "information",
        )
    message = str(error) or "(no message)"
    if isinstance(error, SystemExit):
        message = f"the code called sys.exit({error.code!r})"
    text = f"{type(error).__name__} in {function}: {message}"
    if place is not None:
        text += f"\n  {display_path(Path(place.file))}, line {place.line}"
        if place.code:
            text += f": {place.code}"
    if isinstance(error, DeliveryError) and doing == "send":
        text += "\n  Tip: catch DeliveryError in send and hand error.reason to rollback."
    return Notice(text)
