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
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType

from chatkit.blame import blame_frame
from chatkit.code_folder import CodeFolder
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
    """While active, stops any single stretch of code under ``folder`` that overruns.

    ``clock`` replaces the main thread's processor clock (`main_thread_clock`), so a
    test can move time by hand.
    """

    def __init__(
        self,
        folder: Path,
        limit: float = CALL_LIMIT_SECONDS,
        clock: Callable[[], float] | None = None,
        swallowed: Callable[[str, FrameType], None] | None = None,
    ) -> None:
        self.folder = CodeFolder(folder)
        self.limit = limit
        self._swallowed = swallowed
        """Called (on the watch's thread) when the learner's code caught the stop and ran
        on: the phone then ends itself at once, instead of the judge waiting out its time."""
        self._last_trip: FrameType | None = None
        self._stop = threading.Event()
        self._main = threading.main_thread().ident
        self._thread = threading.Thread(target=self._watch, name="chatkit-hang-watch", daemon=True)
        self._tripped: str | None = None
        self._signal = private_signal()
        self._previous: object = None
        self._clock = clock or main_thread_clock(self._main)
        self._collections: tuple[float, float | None] = (0.0, None)
        """Clock time the main thread spent collecting garbage while the watch was on, and
        when the collection under way (if any) began. One tuple, replaced whole, so the
        watch's thread never reads one half updated without the other."""

    def __enter__(self) -> HangWatch:
        self._previous = signal.signal(self._signal, self._raise)
        gc.callbacks.append(self._on_collection)
        self._thread.start()
        return self

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        """A collection is the interpreter's pause, not the learner's loop: leave it out."""
        collected, began = self._collections
        if phase == "start":
            self._collections = (collected, self._clock())
        elif began is not None:
            self._collections = (collected + self._clock() - began, None)

    def busy(self) -> float:
        """How long the main thread has run, less its garbage collections, by its clock.

        The watch's thread can read this at any moment, even from inside a collection's
        callbacks (the main thread runs them as Python, so it can be paused there): a
        collection under way counts as stopped at its start, and a clock reading that a
        collection's callback may have overtaken is read again.
        """
        while True:
            collections = self._collections
            now = self._clock()
            if self._collections is collections:
                collected, began = collections
                return (now if began is None else began) - collected

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
            f"{_flow_function(frame, str(self.folder.path)) or self._tripped or 'your code'} ran for more than "
            f"{self.limit:g} s without "
            "returning or awaiting anything: is there an endless loop, or a blocking wait?"
        )

    def _watch(self) -> None:
        watched: _Stretch | None = None
        since = 0.0
        while not self._stop.wait(SAMPLE_SECONDS):
            stretch = self._learner_stretch()
            now = self.busy()
            if stretch is None or stretch != watched:
                watched, since = stretch, now
                continue
            frame = stretch[0]
            if frame is self._last_trip and self._swallowed is not None:
                if now - since > _SWALLOWED_SECONDS:  # a stop unwinds at once: this one was caught
                    self._swallowed(self._swallowed_message(frame), frame)
                    return
                continue
            if now - since > self.limit and self._main is not None:
                self._last_trip, self._tripped = frame, frame.f_code.co_name
                _thread.interrupt_main(self._signal)
                watched, since = None, now
        del watched
        self._last_trip = None

    def _swallowed_message(self, frame: FrameType) -> str:
        where = _flow_function(frame, str(self.folder.path)) or frame.f_code.co_name
        return (
            f"{where} ran for more than {self.limit:g} s without returning or awaiting, and "
            "when it was stopped it caught the stop and ran on: an `except BaseException:` "
            "(or a bare `except:`) around a loop swallows it; catch `Exception` instead"
        )

    def _learner_stretch(self) -> _Stretch | None:
        """The outermost frame of the learner's code on the main thread's stack, and the
        frame that called or resumed it.

        Both, because a coroutine keeps its frame from one await to the next: seen twice,
        it may have paused in between. Each time the event loop (or the explorer) resumes
        it, the frame that does so is a new one, so an unchanged pair means one stretch.
        """
        frame = sys._current_frames().get(self._main or 0)
        found = None
        while frame is not None:
            if self.folder.holds(frame.f_code):
                found = frame
            frame = frame.f_back
        return None if found is None else (found, found.f_back)


_SWALLOWED_SECONDS = 2 * SAMPLE_SECONDS
"""How long the stopped stretch may still run, on the main thread's clock, before the stop
counts as caught: a stop that is not caught leaves the learner's code at once."""

_Stretch = tuple[FrameType, FrameType | None]
"""One stretch of the learner's code: its outermost frame, and the frame running it."""


def _flow_function(frame: FrameType | None, folder: str) -> str | None:
    """The innermost of the learner's ``send``, ``reconcile`` and ``rollback`` still running."""
    where = blame_frame(frame, folder)
    return where.function if where is not None else None
