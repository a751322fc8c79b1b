"""Stop learner code that runs on and on without returning or pausing.

A scenario's time budget cannot stop ``while True: pass`` in ``send``: the event
loop never gets the chance to notice. pytest-timeout can, but only after the whole
scenario's limit, which for dozens of scenarios adds up to minutes. `HangWatch`
looks instead at *one call*: a thread samples the main thread's stack, and when
the same frame of the learner's code has been running, without a break, for
longer than any correct ``send``, ``reconcile`` or ``rollback`` ever needs, it
signals the main thread, which raises `StuckInLearnerCode` right there — so the
report can point at the line that loops.

The signal is sent with `_thread.interrupt_main`, the same way on every platform: the
main thread runs the watch's handler before its next bytecode, which is all it takes
to stop a loop in a flow. Unlike a real signal it does not cut short a wait in a system
call, and it need not: the sandbox gives a flow no sleeping, files or sockets to wait on.
"""

from __future__ import annotations

import _thread
import gc
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType, TracebackType

from chatkit.blame import blame_frame
from chatkit.limits import CALL_LIMIT_SECONDS, SAMPLE_SECONDS
from chatkit.portable import main_thread_clock, private_signal


class StuckInLearnerCode(SystemExit):
    """The learner's code ran too long without a break.

    Not an `Exception`, so a learner's ``except Exception`` cannot swallow it; a
    `SystemExit`, because asyncio lets only that and `KeyboardInterrupt` out of the
    event loop at once: the scenario ends there, instead of every other waiting send
    resuming into the same loop one after the other.
    """


class HangWatch:
    """While active, stops any single stretch of code under ``folder`` that overruns."""

    def __init__(self, folder: Path, limit: float = CALL_LIMIT_SECONDS) -> None:
        self.folder = str(folder.resolve()) + os.sep  # inside it, not a sibling starting alike
        self.limit = limit
        self._stop = threading.Event()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._watch, name="chatkit-hang-watch", daemon=True)
        self._tripped: str | None = None
        self._signal = private_signal()
        self._previous: object = None
        self._clock = main_thread_clock(self._main)
        self._collecting: float | None = None
        self._collected = 0.0
        """Clock time the main thread spent collecting garbage while the watch was on."""

    def __enter__(self) -> HangWatch:
        self._previous = signal.signal(self._signal, self._raise)
        gc.callbacks.append(self._on_collection)
        self._thread.start()
        return self

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        """A collection is the interpreter's pause, not the learner's loop: leave it out."""
        if phase == "start":
            self._collecting = self._clock()
        elif self._collecting is not None:
            self._collected += self._clock() - self._collecting
            self._collecting = None

    def _busy(self) -> float:
        """How long the main thread has run, less its garbage collections, by `_clock`."""
        return self._clock() - self._collected

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        gc.callbacks.remove(self._on_collection)
        signal.signal(self._signal, self._previous)  # type: ignore[arg-type]

    def _raise(self, signum: int, frame: FrameType | None) -> None:
        raise StuckInLearnerCode(
            f"{_flow_function(frame, self.folder) or self._tripped or 'your code'} ran for more than "
            f"{self.limit:g} s without "
            "returning or awaiting anything: is there an endless loop, or a blocking wait?"
        )

    def _watch(self) -> None:
        watched: FrameType | None = None
        since = 0.0
        while not self._stop.wait(SAMPLE_SECONDS):
            frame = self._learner_frame()
            now = self._busy()
            if frame is None or frame is not watched:
                watched, since = frame, now
                continue
            if now - since > self.limit and self._main is not None:
                self._tripped = frame.f_code.co_name
                _thread.interrupt_main(self._signal)
                watched, since = None, now
        del watched

    def _learner_frame(self) -> FrameType | None:
        """The outermost frame of the learner's code on the main thread's stack."""
        frame = sys._current_frames().get(self._main or 0)
        found = None
        while frame is not None:
            if frame.f_code.co_filename.startswith(self.folder):
                found = frame
            frame = frame.f_back
        return found


def _flow_function(frame: FrameType | None, folder: str) -> str | None:
    """The innermost of the learner's ``send``, ``reconcile`` and ``rollback`` still running."""
    where = blame_frame(frame, folder)
    return where.function if where is not None else None
