"""What grading needs of the operating system, in one place, with a portable fallback.

The grader runs the learner's code in a child process and must stop it when it hangs.
Where POSIX offers them (Linux, macOS) it uses:

- pytest-timeout's SIGALRM, which ends one scenario past its hard limit while the
  child carries on with the next;
- a process group of the child's own, killed in one go, and a cap on its memory;
- SIGUSR1 for the hang watch's handler, and the main thread's processor time for its
  clock, so a busy machine never makes correct code look stuck;
- on Linux, phones laid out in memory the same way on every run (no address
  randomisation), so a flow that reads an address (``hash(object())``) gets the same
  grade every time.

Where they are missing (Windows) the fallback is: pytest-timeout's timer thread (it
ends the child, and a fresh child takes the scenarios left), the child alone killed,
no memory cap, SIGTERM for the handler (Windows never raises it) and the whole
process's processor time.

Each function looks for what it needs when it is called, so the fallback is taken by
itself wherever a feature is missing. ``CHATKIT_PORTABLE=1`` forces it on any system:
CI runs the grader's own tests once that way on Linux, the paths Windows takes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from chatkit.limits import MEMORY_LIMIT

FORCE_FALLBACK = "CHATKIT_PORTABLE"
"""Set to ``1`` to take the portable paths even where POSIX has more to offer."""


def fallback_forced() -> bool:
    """Whether ``CHATKIT_PORTABLE=1`` asks for the portable paths."""
    return os.environ.get(FORCE_FALLBACK) == "1"


def _posix_has(name: str) -> bool:
    return not fallback_forced() and hasattr(signal, name)


def _posix_processes() -> bool:
    """Whether the child gets POSIX's process group kill and memory cap."""
    return sys.platform != "win32" and not fallback_forced()


def timeout_method() -> Literal["signal", "thread"]:
    """How pytest-timeout stops a scenario past its hard limit in the child.

    With SIGALRM it raises in the scenario and the child carries on; without, its timer
    thread ends the child (status 1), and the grader starts a fresh one for the rest.
    """
    return "signal" if _posix_has("SIGALRM") else "thread"


def child_options() -> dict[str, Any]:
    """Popen options that start the child in a process group of its own, with its limits.

    A group of its own keeps the terminal's Ctrl-C for the grader, which stops the child
    itself; on POSIX one kill then takes whatever the child started too.
    """
    if sys.platform == "win32":
        # Windows has no per-process memory limit without a job object: no cap there.
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    if not memory_capped():
        return {"start_new_session": True}
    return {"start_new_session": True, "preexec_fn": limit_memory}


def limit_memory() -> None:
    """In the child, before it runs: a huge allocation fails at once with MemoryError.

    Where the system refuses the limit (macOS may), the child runs without it.
    """
    if sys.platform != "win32":  # never called there; this tells type checkers so
        import resource

        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def memory_capped() -> bool:
    """Whether a child's huge allocation is stopped by a cap (POSIX, not forced off)."""
    return _posix_processes()


def kill_child(child: subprocess.Popen[bytes]) -> None:
    """Stop the child at once: on POSIX its whole process group, else the child."""
    if not _posix_processes():
        child.kill()  # TerminateProcess on Windows; what the child started (a flow cannot) lives on
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)


def private_signal() -> signal.Signals:
    """A signal nothing else sends the grader's child, for the hang watch's handler.

    SIGUSR1 where there is one, else SIGTERM, which Windows never raises (the grader stops
    its child with TerminateProcess). Never SIGINT: a real Ctrl-C must still stop a plain
    ``pytest`` run, whatever the watch is doing.
    """
    if _posix_has("SIGUSR1"):
        return signal.Signals.SIGUSR1
    return signal.Signals.SIGTERM


def main_thread_clock(main: int | None) -> Callable[[], float]:
    """The main thread's own processor time where another thread can read it, else the
    whole process's processor time (every system has that one).

    Processor time stands still while the machine lets another process have the core,
    so a busy machine never makes correct learner code look stuck. The process's time
    also counts the watch's own thread, which sleeps nearly all the time.
    """
    getcpuclockid = getattr(time, "pthread_getcpuclockid", None)
    if getcpuclockid is None or main is None or fallback_forced():
        return time.process_time
    try:
        clock = getcpuclockid(main)
        time.clock_gettime(clock)
    except OSError:
        return time.process_time
    return lambda: time.clock_gettime(clock)


_ADDR_NO_RANDOMIZE = 0x0040000
_PERSONALITY_QUERY = 0xFFFFFFFF


@contextlib.contextmanager
def fixed_addresses() -> Iterator[None]:
    """Programs started inside this block run without address randomisation (Linux).

    An object's default hash and ``repr`` come from its address: with randomisation, the
    same flow could take another branch on every grading. Linux keeps the setting per
    thread and hands it to the programs the thread starts; it is put back after. Where
    it is not allowed (a container may refuse it), programs start as they would anyway.
    """
    libc = _libc() if sys.platform == "linux" and not fallback_forced() else None
    before = libc.personality(_PERSONALITY_QUERY) if libc is not None else -1
    changed = (
        before != -1 and libc is not None and libc.personality(before | _ADDR_NO_RANDOMIZE) != -1
    )
    try:
        yield
    finally:
        if changed and libc is not None:
            libc.personality(before)


def _libc() -> Any:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.personality.restype = ctypes.c_int
        libc.personality.argtypes = [ctypes.c_ulong]
        return libc
    return None
