"""A seccomp filter for the phone: no new sockets, processes or programs; threads still work.

Landlock (`chatkit.sandbox.landlock`) decides which files the phone may touch; this
filter takes away the system calls that would reach past it. Each is refused with an
error Python raises as ``PermissionError`` (``OSError``), so learner code that tries
gets an exception, never a dead process:

- ``socket``: no new socket of any kind (the results channel was connected before);
  ``socketpair`` only for ``AF_UNIX``, which each scenario's asyncio loop needs for
  its wake-up pair and which reaches nothing outside the process;
- ``fork``, ``vfork`` and ``clone`` without ``CLONE_THREAD``: no new process, while
  threads (the hang watch's) start as usual. ``clone3`` passes its flags in memory a
  filter cannot read, so it answers "no such call" and the C library falls back to
  ``clone``, as container runtimes do;
- ``execve``, ``execveat``: no other program; ``io_uring_setup``: io_uring could open
  sockets without the ``socket`` call;
- signals only to its own process: ``kill``, ``tkill`` and ``tgkill`` with another
  process id are refused (the grader and anything else of the same user are out of
  reach), and so are the queued and pidfd ways of signalling.

The filter checks the architecture first (x86_64 and aarch64 number their calls
differently); a call made under another architecture's numbers is refused outright.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from dataclasses import dataclass
from enum import Enum, auto

__all__ = ["SECCOMP_ARCHES", "Arch", "Filter", "SeccompError", "filter_program"]


class SeccompError(OSError):
    """The kernel would not install the filter."""


class _Rule(Enum):
    """What the filter does with one system call."""

    REFUSE = auto()
    NO_SUCH_CALL = auto()
    THREADS_ONLY = auto()
    UNIX_ONLY = auto()
    OWN_PROCESS_ONLY = auto()


@dataclass(frozen=True)
class Arch:
    audit: int
    """The kernel's ``AUDIT_ARCH_*`` value for this architecture."""
    calls: dict[str, int]
    """Each filtered call's number on this architecture."""
    foreign: int | None = None
    """Numbers at or above this are another ABI's (x86_64's x32): all refused."""


_X86_64 = Arch(
    audit=0xC000003E,
    calls={
        "socket": 41, "socketpair": 53, "clone": 56, "fork": 57, "vfork": 58,
        "execve": 59, "kill": 62, "tkill": 200, "tgkill": 234,
        "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "execveat": 322,
        "pidfd_send_signal": 424, "io_uring_setup": 425, "clone3": 435,
    },
    foreign=0x40000000,
)  # fmt: skip
_AARCH64 = Arch(
    audit=0xC00000B7,
    calls={
        "socket": 198, "socketpair": 199, "clone": 220, "execve": 221,
        "kill": 129, "tkill": 130, "tgkill": 131, "rt_sigqueueinfo": 138,
        "rt_tgsigqueueinfo": 240, "execveat": 281, "pidfd_send_signal": 424,
        "io_uring_setup": 425, "clone3": 435,
    },
)  # fmt: skip

SECCOMP_ARCHES = {"x86_64": _X86_64, "aarch64": _AARCH64}
"""The machines the filter knows, by ``platform.machine()``; elsewhere nothing is filtered."""

_RULES = {
    "socket": _Rule.REFUSE,
    "socketpair": _Rule.UNIX_ONLY,
    "clone": _Rule.THREADS_ONLY,
    "clone3": _Rule.NO_SUCH_CALL,
    "fork": _Rule.REFUSE,
    "vfork": _Rule.REFUSE,
    "execve": _Rule.REFUSE,
    "execveat": _Rule.REFUSE,
    "io_uring_setup": _Rule.REFUSE,
    "kill": _Rule.OWN_PROCESS_ONLY,
    "tkill": _Rule.OWN_PROCESS_ONLY,
    "tgkill": _Rule.OWN_PROCESS_ONLY,
    "rt_sigqueueinfo": _Rule.REFUSE,
    "rt_tgsigqueueinfo": _Rule.REFUSE,
    "pidfd_send_signal": _Rule.REFUSE,
}

CLONE_THREAD = 0x00010000
AF_UNIX = 1
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

# Classic BPF, as seccomp reads it: load a word of `struct seccomp_data`, compare, return.
_LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JUMP_AT_LEAST = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JUMP_BITS_SET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RETURN = 0x06  # BPF_RET | BPF_K
_NUMBER, _ARCH, _FIRST_ARGUMENT = 0, 4, 16  # offsets in seccomp_data (little-endian words)
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000


def _fail(code: int) -> int:
    return _ERRNO | code


class _Instruction(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    ]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Instruction))]


_Step = tuple[int, int, int, int]


def _block(number: int, rule: _Rule, pid: int) -> list[_Step]:
    """The instructions for one call: if it is ``number``, decide; else go on past them."""
    refuse = _fail(errno.EPERM)
    if rule is _Rule.REFUSE or rule is _Rule.NO_SUCH_CALL:
        answer = refuse if rule is _Rule.REFUSE else _fail(errno.ENOSYS)
        return [(_JUMP_EQUAL, 0, 1, number), (_RETURN, 0, 0, answer)]
    test = {
        _Rule.THREADS_ONLY: (_JUMP_BITS_SET, CLONE_THREAD),
        _Rule.UNIX_ONLY: (_JUMP_EQUAL, AF_UNIX),
        _Rule.OWN_PROCESS_ONLY: (_JUMP_EQUAL, pid),
    }[rule]
    return [
        (_JUMP_EQUAL, 0, 4, number),
        (_LOAD_WORD, 0, 0, _FIRST_ARGUMENT),
        (test[0], 0, 1, test[1]),
        (_RETURN, 0, 0, _ALLOW),
        (_RETURN, 0, 0, refuse),
    ]


def filter_program(arch: Arch, pid: int) -> list[_Step]:
    """The whole filter for ``arch``, with ``pid`` as the only process it may signal."""
    refuse = _fail(errno.EPERM)
    steps: list[_Step] = [
        (_LOAD_WORD, 0, 0, _ARCH),
        (_JUMP_EQUAL, 1, 0, arch.audit),
        (_RETURN, 0, 0, refuse),
        (_LOAD_WORD, 0, 0, _NUMBER),
    ]
    if arch.foreign is not None:
        steps += [(_JUMP_AT_LEAST, 0, 1, arch.foreign), (_RETURN, 0, 0, refuse)]
    for name, rule in _RULES.items():
        if name in arch.calls:
            steps += _block(arch.calls[name], rule, pid)
            steps.append((_LOAD_WORD, 0, 0, _NUMBER))  # a block with a test left another word
    steps.append((_RETURN, 0, 0, _ALLOW))
    return steps


class Filter:
    """The filter for this machine, built once: a process that forks phones builds it, and
    each phone installs it (`install`) with its own process id filled in."""

    def __init__(self) -> None:
        steps = filter_program(SECCOMP_ARCHES[platform.machine()], _ANY_PROCESS)
        self._instructions = (_Instruction * len(steps))(*(_Instruction(*step) for step in steps))
        self._process_slots = [
            number for number, step in enumerate(steps) if step[3] == _ANY_PROCESS
        ]

    def install(self) -> None:
        """Install the filter on this thread and the threads it starts from now on.

        The caller has set ``no_new_privs`` (without it an unprivileged process may not
        install a filter) and checked that this machine is in `SECCOMP_ARCHES`.
        """
        for slot in self._process_slots:
            self._instructions[slot].k = os.getpid()
        program = _Program(len(self._instructions), self._instructions)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong]
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(program), 0) != 0:
            code = ctypes.get_errno()
            raise SeccompError(code, f"seccomp filter refused: {os.strerror(code)}")


_ANY_PROCESS = 0xFFFF_FFFF
"""Where the phone's own process id goes in a `Filter` (no process has this id)."""
