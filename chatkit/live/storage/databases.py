"""The stores a ``--db`` value names (`chatkit.live.storage.locations` says which).

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

from chatkit.live.storage.locations import is_postgres_url

if TYPE_CHECKING:  # the stores load sqlite3 or asyncpg: only a server or a command needs them
    from chatkit.live.storage.accounts import Accounts


def account_store(location: str | Path) -> Accounts:
    """The accounts kept at ``location`` (a PostgreSQL URL or a SQLite path), not yet open."""
    if is_postgres_url(location):
        from chatkit.live.storage.postgres.accounts import PostgresAccounts

        return PostgresAccounts(str(location))
    from chatkit.live.storage.accounts import AccountStore

    return AccountStore(Path(location))


def add_accounts(location: str | Path, rows: list[tuple[str, str]]) -> None:
    """Make accounts at ``location`` now, from synchronous code: a script's, or a test's
    inside a running event loop (PostgreSQL's client is async, so it gets a thread and a
    loop of its own)."""
    if not is_postgres_url(location):
        from chatkit.live.storage import accounts

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
    (`chatkit.live.storage.postgres.serving`), says so before it opens a port, not in a traceback."""
    from chatkit.live.storage.postgres.messages import PostgresStore

    async def reach() -> None:
        store = PostgresStore(url, pool_size=1, shared=shared)
        await store.open()
        await store.close()

    asyncio.run(reach())
