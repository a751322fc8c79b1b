"""The kit's optional parts, and the line that installs the one a command needs.

The core install is what grading needs. The live server and the terminal client
(``live``, with the Redis client for several servers) and PostgreSQL (``postgres``) are extras, so a learner who
only grades never downloads them; a command that needs one it does not have says the
line that installs it, instead of ending in a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

EXTRA_OF_MODULE = {
    "textual": "live",
    "socketio": "live",
    "engineio": "live",
    "aiohttp": "live",
    "uvicorn": "live",
    "websockets": "live",
    "starlette": "live",
    "httpx": "live",
    "redis": "live",
    "asyncpg": "postgres",
}
"""The top-level module each extra brings, as ``import`` names it."""

WHAT_EXTRA_BRINGS = {
    "live": "live server and terminal client",
    "postgres": "PostgreSQL support",
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The extra whose module ``error`` failed to find, or None when it is not one of ours."""
    return EXTRA_OF_MODULE.get((error.name or "").partition(".")[0])


def install_line(extra: str) -> str:
    return f'pip install -e ".[{extra}]"'


def run_needing_extras(command: str, run: Callable[[], int]) -> int:
    """Run ``chatkit COMMAND``; if it needs an extra this install left out, say how to
    install it and return 2."""
    try:
        return run()
    except ModuleNotFoundError as error:
        extra = missing_extra(error)
        if extra is None:
            raise
        print(
            f"chatkit {command} needs the kit's {WHAT_EXTRA_BRINGS[extra]}, which this install "
            f"leaves out. In the kit's folder, install them with:\n\n    {install_line(extra)}\n",
            file=sys.stderr,
        )
        return 2
