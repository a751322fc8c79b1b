"""Linux Landlock, through its three system calls: which files the phone may touch.

Landlock lets an unprivileged process take rights away from itself for good: once
restricted, it (and every thread it starts later) may open only what a rule allows,
whatever the files' owners and modes say, root included. This module speaks the
kernel's interface and nothing more; what to allow is `chatkit.sandbox.confine`'s call.

Rights the running kernel does not know are left out (each ABI version adds some), so
the same rules work from the first version on: files from 1, renames across folders
from 2, truncation from 3, TCP ``bind``/``connect`` from 4 (none is allowed), device
``ioctl`` from 5, and from 6 abstract Unix sockets and signals kept inside the phone.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["READ", "WRITE", "LandlockError", "abi_version", "restrict"]

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
"""The same numbers on every architecture (calls added since Linux 5.x share them)."""
_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK = 1 << 8, 1 << 9, 1 << 10, 1 << 11
MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV = 1 << 12, 1 << 13, 1 << 14, 1 << 15
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The rights a rule on a single file (not a folder) may carry."""
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

READ = READ_FILE | READ_DIR
_MAKE = MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | MAKE_SYM
WRITE = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | _MAKE | REFER | TRUNCATE
"""Everything in a folder of its own but running programs and making device nodes (which
root could use to read a disk past every rule)."""


class LandlockError(OSError):
    """The kernel refused a Landlock call."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _syscall(number: int, *arguments: int) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result: int = libc.syscall(ctypes.c_long(number), *map(ctypes.c_ulong, arguments))
    if result < 0:
        code = ctypes.get_errno()
        raise LandlockError(code, f"landlock: {os.strerror(code)}")
    return result


def abi_version() -> int:
    """The Landlock ABI this kernel offers: 0 where it has none (or it is turned off)."""
    try:
        return _syscall(_CREATE_RULESET, 0, 0, _CREATE_RULESET_VERSION)
    except OSError:
        return 0


def _handled_fs(abi: int) -> int:
    return _FS_BY_ABI[max(version for version in _FS_BY_ABI if version <= abi)]


def restrict(rules: Iterable[tuple[Path, int]], abi: int) -> None:
    """Restrict this thread (and the threads it starts) to ``rules``: (path, rights).

    A path's rights hold for everything beneath it. Paths that do not exist are left
    out; a file gets only the rights a file can have. ``no_new_privs`` must be set.
    """
    made = ruleset(rules, abi)
    try:
        restrict_self(made)
    finally:
        os.close(made)


def ruleset(rules: Iterable[tuple[Path, int]], abi: int) -> int:
    """A ruleset holding ``rules`` (see `restrict`), as a file descriptor closed on exec.

    Making one restricts nothing: a process that forks phones makes it once, and each
    phone restricts itself with it (`restrict_self`), in one call.
    """
    handled = _handled_fs(abi)
    attr = _RulesetAttr(
        handled_access_fs=handled,
        handled_access_net=_NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
        scoped=_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0,
    )
    made = _syscall(_CREATE_RULESET, ctypes.addressof(attr), ctypes.sizeof(attr), 0)
    try:
        for path, rights in rules:
            _add_rule(made, path, rights & handled)
    except BaseException:
        os.close(made)
        raise
    return made


def restrict_self(made: int) -> None:
    """Restrict this thread (and the threads it starts) to a `ruleset`; ``no_new_privs``
    must be set."""
    _syscall(_RESTRICT_SELF, made, 0)


def _add_rule(ruleset: int, path: Path, rights: int) -> None:
    try:
        folder = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not path.is_dir():
            rights &= _FILE_ONLY
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=folder)
        _syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.addressof(rule), 0)
    finally:
        os.close(folder)
