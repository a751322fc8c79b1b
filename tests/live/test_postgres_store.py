"""The PostgreSQL store keeps SQLite's promises, across connections and processes:
idempotent on (chat, client id), a gap-free seq per chat under concurrent writers,
committed before acknowledged, and pages in seq order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest

from chatkit.live.storage.locations import is_postgres_url, shown
from chatkit.live.storage.messages import StoreError
from chatkit.live.storage.postgres.messages import PostgresStore

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def opened(url: str, pool_size: int = 10, *, shared: bool = False) -> PostgresStore:
    store = PostgresStore(url, pool_size=pool_size, shared=shared, lock_wait_s=0.05)
    await store.open()
    return store


async def test_an_append_is_stored_once_and_committed_before_it_returns(postgres_url: str) -> None:
    store = await opened(postgres_url)
    try:
        first = await store.append("general", "c1", "alice", "hello")
        again = await store.append("general", "c1", "alice", "hello, retried")
        other_chat = await store.append("random", "c1", "alice", "same id, other chat")
        assert first.created and not again.created and other_chat.created
        assert again.message == first.message, "a retry was stored a second time"
        assert (first.message.seq, other_chat.message.seq) == (1, 1)
        # another connection, as another process would read it, sees what was acknowledged
        reader = await asyncpg.connect(postgres_url)
        try:
            rows = await reader.fetch("SELECT chat_id, seq, body FROM messages ORDER BY id")
        finally:
            await reader.close()
        assert [tuple(row) for row in rows] == [
            ("general", 1, "hello"),
            ("random", 1, "same id, other chat"),
        ]
    finally:
        await store.close()


async def test_concurrent_writers_get_one_gap_free_sequence(postgres_url: str) -> None:
    """Three stores (three pools, as three server processes would have) hammer one chat;
    each also sends the same 20 shared client ids, as clients failing over would."""
    stores = [await opened(postgres_url, pool_size=4, shared=True) for _ in range(3)]
    try:

        async def writer(index: int, store: PostgresStore) -> list[bool]:
            sends = [store.append("busy", f"w{index}-{n}", "alice", "x") for n in range(60)]
            sends += [store.append("busy", f"shared-{n}", "alice", "y") for n in range(20)]
            return [appended.created for appended in await asyncio.gather(*sends)]

        created = await asyncio.gather(*(writer(i, store) for i, store in enumerate(stores)))
        page = await stores[0].page("busy", after=0, limit=500)
    finally:
        for store in stores:
            await store.close()
    assert sum(map(sum, created)) == 3 * 60 + 20, "a shared client id was stored twice"
    assert [message.seq for message in page.messages] == list(range(1, 201))
    client_ids = [message.client_id for message in page.messages]
    assert len(set(client_ids)) == 200 and not page.has_more


async def test_a_refused_message_leaves_no_gap(postgres_url: str) -> None:
    """PostgreSQL refuses a NUL in text; the transaction's counter bump goes with it
    (a SEQUENCE would have skipped the number)."""
    store = await opened(postgres_url)
    try:
        await store.append("general", "c1", "alice", "one")
        with pytest.raises(StoreError):
            await store.append("general", "c2", "alice", "nul \x00 inside")
        after = await store.append("general", "c3", "alice", "two")
    finally:
        await store.close()
    assert after.message.seq == 2


async def test_pages_read_oldest_first_both_ways(postgres_url: str) -> None:
    store = await opened(postgres_url)
    try:
        for n in range(1, 8):
            await store.append("general", f"c{n}", "alice", f"message {n}")
        newest = await store.page("general", limit=3)
        older = await store.page("general", before=5, limit=3)
        oldest = await store.page("general", before=2, limit=3)
        forward = await store.page("general", after=4, limit=3)
        empty = await store.page("nowhere", limit=3)
    finally:
        await store.close()
    assert ([m.seq for m in newest.messages], newest.has_more) == ([5, 6, 7], True)
    assert ([m.seq for m in older.messages], older.has_more) == ([2, 3, 4], True)
    assert ([m.seq for m in oldest.messages], oldest.has_more) == ([1], False)
    assert ([m.seq for m in forward.messages], forward.has_more) == ([5, 6, 7], False)
    assert (empty.messages, empty.has_more) == ([], False)


async def test_the_schema_is_made_once_and_a_foreign_version_refused(postgres_url: str) -> None:
    together = [PostgresStore(postgres_url, shared=True) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in together))  # three processes starting
    for store in together:
        await store.check()
        await store.close()
    with pytest.raises(StoreError, match="not open"):
        await together[0].append("general", "c1", "alice", "closed")
    db = await asyncpg.connect(postgres_url)
    try:
        await db.execute("UPDATE chatkit_schema SET version = 99")
    finally:
        await db.close()
    with pytest.raises(StoreError, match="schema version"):
        await PostgresStore(postgres_url).open()


async def test_servers_share_a_database_only_if_they_share_redis(postgres_url: str) -> None:
    """No silent split: without --redis a server is alone on its database; with it,
    servers share it with each other and with no server of the other kind."""
    alone = await opened(postgres_url)
    try:
        with pytest.raises(StoreError, match="already serving") as refused:
            await opened(postgres_url)
        assert "--redis redis://" in str(refused.value) and "--db" in str(refused.value)
        with pytest.raises(StoreError, match="without --redis is already serving"):
            await opened(postgres_url, shared=True)
    finally:
        await alone.close()
    first, second = [await opened(postgres_url, shared=True) for _ in range(2)]
    try:
        with pytest.raises(StoreError, match="already serving"):
            await opened(postgres_url)
    finally:
        await first.close()
        await second.close()
    again = await opened(postgres_url)  # the lock went with the stores that held it
    await again.close()


def test_a_database_url_is_shown_without_its_password() -> None:
    assert shown("postgresql://chat:s3cret@db.school:5432/chat") == (
        "postgresql://chat:***@db.school:5432/chat"
    )
    assert shown("postgres://chat@db.school/chat") == "postgres://chat@db.school/chat"
    assert shown(Path("chat.sqlite3")) == "chat.sqlite3"
    assert is_postgres_url("postgres://db/chat") and not is_postgres_url("postgres.sqlite3")
