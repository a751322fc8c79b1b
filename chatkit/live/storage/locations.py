"""What a ``--db`` value names, and how a message may show it.

A ``postgresql://`` (or ``postgres://``) URL names PostgreSQL; anything else is a
SQLite file. Nothing here opens a database, so every part of the storage
(`chatkit.live.storage.postgres` too) and the commands may ask.
"""

from __future__ import annotations

from pathlib import Path

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str | Path) -> bool:
    """Whether ``location`` (a ``--db`` value) names a PostgreSQL database."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def shown(location: str | Path) -> str:
    """``location`` as a message may show it: a URL's password is never printed."""
    if not is_postgres_url(location):
        return str(location)
    scheme, _, rest = str(location).partition("://")
    credentials, at, place = rest.rpartition("@")
    if not at or ":" not in credentials:
        return str(location)
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{place}"
