"""Confine the process that runs learner code (the phone), where the system allows.

After `confine`, the process cannot open a network socket, start a process or a
program, signal another process, write anywhere but its own scratch folder (and
``/dev/null``), or read anything but:

- the target's folder (so ``solution/`` only when the solution is graded);
- the kit's runtime: the ``chatkit`` package, the scenarios being run, the kit's
  ``pyproject.toml`` and ``hints.md`` — never the kit's own tests or the reference;
- the Python installation (its standard library and site-packages) and what it
  stands on: the system's shared libraries, time zones and locales, random devices.

It takes Linux's Landlock for the files (`chatkit.sandbox.landlock`), a seccomp filter
for the calls (`chatkit.sandbox.seccomp`), and drops any capabilities (a root CI job
keeps none), in that order, after ``no_new_privs``. Everything already open stays
open: the results channel connected before, the pipes to the grader.

Where that is not possible — not Linux, a kernel without Landlock or seccomp, a
machine the filter does not know, ``CHATKIT_PORTABLE=1`` — grading works the same,
unconfined, and `confinement_notice` is the one line the report says about it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import shutil
import site
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from chatkit.kit_home import NotInKit, kit_root
from chatkit.portable import FORCE_FALLBACK, fallback_forced
from chatkit.sandbox import landlock, seccomp

__all__ = [
    "HOME",
    "SCRATCH",
    "Confinement",
    "ConfinementError",
    "child_environment",
    "confine",
    "confinement_notice",
    "learner_environment",
    "phone_rules",
    "scratch_folder",
]

SCRATCH = "CHATKIT_SCRATCH"
"""Names, in a confined child's environment, the only folder it may write in."""

KIT_RUNTIME = ("pyproject.toml", "hints.md")
"""The kit's own files a phone may read, beside the ``chatkit`` package and its scenarios."""
SYSTEM_READS = (
    "/lib", "/lib32", "/lib64", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/local/lib",
    "/etc/ld.so.cache", "/usr/share/zoneinfo", "/usr/share/locale", "/etc/localtime",
    "/dev/urandom", "/dev/random",
)  # fmt: skip
"""What Python stands on: shared libraries a module loads late, time zones, locales."""
DEV_NULL = Path(os.devnull)
PACKAGE = Path(__file__).resolve().parent.parent
"""The ``chatkit`` package the phone runs on (in the kit, or in site-packages)."""
HOME = PACKAGE.parent
"""Where a process that runs learner code starts: the folder holding ``chatkit`` (the kit,
or site-packages). Where a process starts is first on its path, before the standard
library, so it is never the learner's folder: a ``json.py`` there would run unconfined."""

_PR_GET_SECCOMP, _PR_SET_NO_NEW_PRIVS = 21, 38
_CAPABILITY_VERSION_3 = 0x20080522


class ConfinementError(RuntimeError):
    """Confinement was possible here but could not be applied: grading must not go on."""


def confinement_notice() -> str | None:
    """None where `confine` works here; else the one line a report says about it."""
    if fallback_forced():
        return "the phone ran unconfined: CHATKIT_PORTABLE=1 turns confinement off"
    if sys.platform != "linux":
        return "the phone ran unconfined: confinement needs Linux (Landlock and seccomp)"
    if platform.machine() not in seccomp.SECCOMP_ARCHES:
        return f"the phone ran unconfined: the kit cannot confine a {platform.machine()} machine"
    if landlock.abi_version() < 1:
        return "the phone ran unconfined: this Linux kernel has no Landlock (5.13 or later has it)"
    if not _seccomp_available():
        return "the phone ran unconfined: this Linux kernel has no seccomp filters"
    return None


def _seccomp_available() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return bool(libc.prctl(_PR_GET_SECCOMP, 0, 0, 0, 0) >= 0)  # fails where there is none


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A fresh folder for one child to write in, removed with whatever it left there."""
    folder = Path(tempfile.mkdtemp(prefix="chatkit-phone-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


KEPT_VARIABLES = frozenset(
    {
        "PATH", "LANG", "SYSTEMROOT", "TEMP", "TMP", "TMPDIR", FORCE_FALLBACK,
        "PYTHONPATH", "PYTHONHOME", "PYTHONHASHSEED", "PYTHONUTF8", "PYTHONIOENCODING",
    }
)  # fmt: skip
"""What a process running learner code keeps of the grader's environment: what Python
and the kit need (and locales, ``LC_*``). Nothing else — a teacher's tokens and secrets,
the grader's own settings — is there for a flow to read."""


def learner_environment(more: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a process that runs learner code (a phone, the probe)."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name in KEPT_VARIABLES or name.startswith("LC_")
    }
    return {**kept, "PYTHONDONTWRITEBYTECODE": "1", **(more or {})}


def child_environment(scratch: Path | None) -> dict[str, str]:
    """What a child's environment adds so that it confines itself, writing only in ``scratch``.

    Its temporary files go there too, and Python writes no bytecode (the kit is read-only).
    """
    if scratch is None:
        return {SCRATCH: "", "PYTHONDONTWRITEBYTECODE": "1"}
    return {SCRATCH: str(scratch), "TMPDIR": str(scratch), "PYTHONDONTWRITEBYTECODE": "1"}


def confine_if_asked(target_folder: Path, reads: Sequence[Path]) -> None:
    """In a child the grader started: `confine` if its environment says so (see
    `child_environment`), else nothing."""
    scratch = os.environ.pop(SCRATCH, None)
    if scratch is not None:
        confine(target_folder, reads, Path(scratch) if scratch else None)


def confine(target_folder: Path, reads: Sequence[Path], scratch: Path | None) -> None:
    """Confine this process for good, or do nothing where `confinement_notice` says why not.

    ``reads`` are the kit's files the run needs beyond its runtime (the scenarios). This
    must be the only thread: the restrictions hold for the caller and the threads it
    starts later, not for threads already running.
    """
    confinement = Confinement(target_folder, reads, scratch)
    try:
        confinement.enter()
    finally:
        confinement.close()


class Confinement:
    """What `confine` does, made ready once; `enter` then confines the calling process.

    A phone template makes one before it forks its phones and each phone enters it, in a
    few system calls: the rules are resolved, the Landlock ruleset is built and the
    seccomp filter compiled once for them all (each of those took a millisecond or so).
    """

    def __init__(self, target_folder: Path, reads: Sequence[Path], scratch: Path | None) -> None:
        self._ruleset: int | None = None
        self._filter: seccomp.Filter | None = None
        self._error: OSError | None = None
        if confinement_notice() is not None:
            return
        try:
            self._ruleset = landlock.ruleset(
                phone_rules(target_folder, reads, scratch), landlock.abi_version()
            )
            self._filter = seccomp.Filter()
        except OSError as error:  # told by `enter`, in the process that needed it
            self._error = error

    def enter(self) -> None:
        """Confine this process for good (nothing where `confinement_notice` says why not);
        it must be the only thread."""
        if self._error is not None:
            raise ConfinementError(f"the phone could not be confined: {self._error}")
        if self._ruleset is None or self._filter is None:
            return
        if _threads() != 1:
            raise ConfinementError("confinement must come before any other thread starts")
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
            landlock.restrict_self(self._ruleset)
            self.close()  # the confined process keeps no way to the ruleset
            self._filter.install()
            _drop_capabilities(libc)
        except OSError as error:
            raise ConfinementError(f"the phone could not be confined: {error}") from error

    def close(self) -> None:
        """Let the ruleset go (in this process: a forked copy keeps its own)."""
        if self._ruleset is not None:
            os.close(self._ruleset)
            self._ruleset = None


def _threads() -> int:
    """How many threads this process runs, those Python did not start included."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc: Python's own count is all there is
        return threading.active_count()


def phone_rules(
    target_folder: Path, reads: Sequence[Path], scratch: Path | None
) -> list[tuple[Path, int]]:
    """What the phone may touch: (path, Landlock rights) for everything beneath each path."""
    try:
        kit: Path | None = kit_root()
    except NotInKit:  # graded from outside a kit: grading stops there, saying so
        kit = None
    readable = [target_folder, PACKAGE, *reads]
    if kit is not None:
        readable += [kit / name for name in KIT_RUNTIME]
    beneath = _python_installation() + [Path(path) for path in SYSTEM_READS]
    # A folder that holds the kit would open the reference and the kit's tests with it.
    readable += [folder for folder in beneath if kit is None or not kit.is_relative_to(folder)]
    rules = [(path, landlock.READ) for path in readable]
    rules.append((DEV_NULL, landlock.READ_FILE | landlock.WRITE_FILE | landlock.TRUNCATE))
    if scratch is not None:
        rules.append((scratch, landlock.WRITE))
    return rules


def _python_installation() -> list[Path]:
    """The running interpreter's library folders: standard library and site-packages.

    The search path may hold more (an editable install's folder, the current folder):
    only what lies in the installation's own prefixes counts.
    """
    paths = sysconfig.get_paths()
    places = {paths[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    places.update(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        places.add(site.getusersitepackages())
    prefixes = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)]
    for entry in sys.path:
        resolved = Path(entry or ".").resolve()
        if any(resolved.is_relative_to(prefix) for prefix in prefixes):
            places.add(entry)
    return [Path(place).resolve() for place in places]


def _drop_capabilities(libc: ctypes.CDLL) -> None:
    """Give up every capability (a phone run by root keeps none); no way back after
    ``no_new_privs``."""
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
