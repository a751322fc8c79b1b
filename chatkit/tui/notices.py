"""Turning whatever the learner's code raises into a short notice a person can read.

The client runs unfinished and buggy code on purpose: that is the exercise. So an
exception from ``send``, ``reconcile`` or ``rollback`` must never end the app or
print a traceback. A starter that is not written yet gets a friendly pointer to
where to start; any other error is shown with its file, line and message, the
way the grader shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chatkit.blame import Blame, blame_traceback
from chatkit.model import DeliveryError, InvalidMessage
from chatkit.target import display_path

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing the pane tells the user, above the timeline."""

    text: str
    severity: Severity = "error"


def where_in(error: BaseException, flow_path: Path) -> Blame | None:
    """Where ``error`` was raised in the learner's folder, or None if not there."""
    return blame_traceback(error.__traceback__, str(flow_path.resolve().parent))


def explain(error: BaseException, doing: str, flow_path: Path) -> Notice:
    """The notice for an exception that escaped the flow while it was ``doing`` something.

    ``doing`` is the flow function the client called (``send`` or ``reconcile``); the
    traceback may show that the error came from another one it called in turn.
    """
    if isinstance(error, InvalidMessage):
        return Notice(f"Not sent: {error}", "warning")
    place = where_in(error, flow_path)
    function = (place.function if place else None) or doing
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
        text += f"\n  {display_path(place.file)}, line {place.line}"
        if place.code:
            text += f": {place.code}"
    if isinstance(error, DeliveryError) and doing == "send":
        text += "\n  Tip: catch DeliveryError in send and hand error.reason to rollback."
    return Notice(text)
