"""``--watch``: grade again whenever a file of the target changes.

The screen is cleared before each grading and the score's history in this session
is shown on top ("62 → 78"), so progress is visible at a glance.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from watchfiles import PythonFilter, watch

from chatkit.grading.results import GradeReport

IDLE_MS = 300
"""How long the watcher waits for a change before it reports that it is idle."""


def history_line(scores: list[int]) -> str:
    return " → ".join(str(score) for score in scores)


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
        if len(scores) > 1:
            console.print(f"[bold]score this session:[/] {history_line(scores)}")
        show(report)
        console.print(f"[dim]watching {folder} for changes — Ctrl-C to stop[/]")

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
