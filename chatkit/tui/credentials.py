"""Secrets for ``chatkit chat``: from a file, an environment variable, or a prompt.

A secret on the command line would sit in the shell's history and in every
``ps`` listing, so ``chatkit chat`` never takes one there: it reads a file the
user points at, or an environment variable, or (for a password) asks.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

ADMIN_TOKEN_ENV = "CHATKIT_ADMIN_TOKEN"
PASSWORD_ENV = "CHATKIT_PASSWORD"


class CannotRead(Exception):
    """A secret file that cannot be read, or holds nothing; the message says which."""


def read_secret(path: Path | None, env: str) -> str | None:
    """The secret in ``path`` (its first line), else in ``$env``, else None."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise CannotRead(f"cannot read {path}: {error.strerror or error}") from None
        secret = text.splitlines()[0].strip() if text.strip() else ""
        if not secret:
            raise CannotRead(f"{path} is empty")
        return secret
    return os.environ.get(env) or None


def ask_password(user: str) -> str:
    """Ask at the terminal (nothing echoed); `CannotRead` if nothing was typed."""
    try:
        password = getpass.getpass(f"password for {user}: ")
    except (EOFError, KeyboardInterrupt):
        password = ""
    if not password:
        raise CannotRead(f"no password given for {user}")
    return password
