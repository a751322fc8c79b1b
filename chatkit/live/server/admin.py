"""The host's admin token: the one credential that reads or turns the fault switches.

A fault switch changes the server for everyone (``refuse=1`` stops every send in
the class), so only the host may touch them. The token is made fresh at start and
printed, or read from a file the host keeps (``--admin-token-file``; a missing
file is created with a fresh token, readable by its owner only), so a script or
``chatkit chat --admin-token-file`` can use it too. Everyone still *sees* the
switches: the server announces every change to every connection, and tells each
one the current switches when it signs in.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from chatkit.live.server.errors import NotHost

TOKEN_BYTES = 24


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_from_file(path: Path) -> tuple[str, bool]:
    """The token in ``path`` and False, or (if there is no such file) a fresh one written
    there, readable by its owner only, and True. Raises ValueError for an empty file."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = new_token()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(token + "\n")
        return token, True
    if not token:
        raise ValueError(f"the admin token file {path} is empty")
    return token, False


def require_host(expected: str, presented: object) -> None:
    """Raise `NotHost` unless ``presented`` is the admin token (compared in constant time)."""
    if not isinstance(presented, str) or not hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode()
    ):
        raise NotHost(
            "only the host can read or change the fault switches; "
            "send the admin token the server printed at start"
        )
