"""Which database ``--db`` names, and the stores that open it.

A ``postgresql://`` (or ``postgres://``) URL picks PostgreSQL: messages, accounts,
sessions and members all live there, shared by every server process on it.
Anything else is a SQLite file, the embedded default. asyncpg is imported only
when a URL asks for it.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the stores load sqlite3 or asyncpg: only a server or a command needs them
    from chatkit.live.accounts import Accounts
    from chatkit.live.settings import ServerSettings
    from chatkit.live.storage import MessageStore

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


def account_store(location: str | Path) -> Accounts:
    """The accounts kept at ``location`` (a PostgreSQL URL or a SQLite path), not yet open."""
    if is_postgres_url(location):
        from chatkit.live.postgres.accounts import PostgresAccounts

        return PostgresAccounts(str(location))
    from chatkit.live.accounts import AccountStore

    return AccountStore(Path(location))


def message_store(settings: ServerSettings) -> MessageStore:
    """The message store ``settings`` ask for, not yet open."""
    if settings.database_url is not None:
        from chatkit.live.postgres.messages import PostgresStore

        return PostgresStore(settings.database_url, shared=settings.redis_url is not None)
    from chatkit.live.storage import SQLiteStore

    return SQLiteStore(
        settings.db_path,
        synchronous=settings.sqlite_synchronous,
        batch_max=settings.write_batch_max,
        shared=settings.redis_url is not None,
    )


def accounts_location(settings: ServerSettings) -> str | Path:
    """Where ``settings`` keep accounts: PostgreSQL's URL, ``--accounts-db`` or the --db file."""
    if settings.database_url is not None:
        return settings.database_url
    return settings.accounts_path or settings.db_path


def add_accounts(location: str | Path, rows: list[tuple[str, str]]) -> None:
    """Make accounts at ``location`` now, from synchronous code: a script's, or a test's
    inside a running event loop (PostgreSQL's client is async, so it gets a thread and a
    loop of its own)."""
    if not is_postgres_url(location):
        from chatkit.live import accounts

        db = accounts.connect(Path(location))
        try:
            accounts.create_users(db, rows)
        finally:
            db.close()
        return

    async def make() -> None:
        store = account_store(location)
        await store.open()
        try:
            await store.create_users(rows)
        finally:
            await store.close()

    with ThreadPoolExecutor(1, thread_name_prefix="chatkit-accounts") as thread:
        thread.submit(asyncio.run, make()).result()


def check_postgres(url: str, *, shared: bool) -> None:
    """Open the store once and close it, or raise `StoreError` saying why: a server that
    cannot reach its database, or may not serve it beside the servers already there
    (`chatkit.live.postgres.serving`), says so before it opens a port, not in a traceback."""
    from chatkit.live.postgres.messages import PostgresStore

    async def reach() -> None:
        store = PostgresStore(url, pool_size=1, shared=shared)
        await store.open()
        await store.close()

    asyncio.run(reach())
