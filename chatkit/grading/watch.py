"""``--watch``: grade again whenever a file of the target changes.

The screen is cleared before each report, and the score's history in this session
("62 → 78 → 100") is printed last, under the report: a failing report runs to a few
hundred lines, and the bottom of the terminal is what stays in view.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console, Group
from rich.rule import Rule
from rich.text import Text
from watchfiles import PythonFilter, watch

from chatkit.grading.results import GradeReport
from chatkit.grading.summary import scenarios
from chatkit.target import display_path

IDLE_MS = 300
"""How long the watcher waits for a change before it reports that it is idle."""


def history_line(scores: list[int]) -> str:
    return " → ".join(str(score) for score in scores)


def status(report: GradeReport, scores: list[int], folder: Path) -> Group:
    """What stays at the bottom of the screen: the session's scores and what is watched."""
    if report.load_error is not None:
        latest = "grade refused" if report.load_error.refused else "your code could not be loaded"
    else:
        latest = f"{report.passed} of {scenarios(len(report.results))} pass"
    return Group(
        Rule(style="dim"),
        Text.assemble(
            ("score this session: ", "bold"), (history_line(scores), "bold"), f"  ({latest})"
        ),
        Text(f"watching {display_path(str(folder))} for changes — Ctrl-C to stop", style="dim"),
    )


def watch_and_grade(
    folder: Path,
    grade_once: Callable[[], GradeReport],
    show: Callable[[GradeReport], None],
    console: Console,
    *,
    stop: threading.Event | None = None,
    on_idle: Callable[[], None] | None = None,
) -> list[int]:
    """Grade now, then after every change under ``folder``; return the scores seen.

    Runs until Ctrl-C or until ``stop`` is set. ``on_idle`` is called whenever the
    watcher has been running a while with no change: proof that it is watching.
    """
    scores: list[int] = []

    def once() -> None:
        report = grade_once()
        scores.append(report.score)
        console.clear()
        show(report)
        console.print(status(report, scores, folder))

    once()
    changes = watch(
        folder,
        watch_filter=PythonFilter(),
        stop_event=stop,
        yield_on_timeout=True,
        rust_timeout=IDLE_MS,
    )
    with contextlib.suppress(KeyboardInterrupt):
        for batch in changes:
            if batch:
                once()
            elif on_idle is not None:
                on_idle()
    return scores
