"""The PostgreSQL schema, created on first start, and the connection pool both stores use.

Every server process runs the same idempotent ``CREATE ... IF NOT EXISTS`` when it
opens, under a transaction-scoped advisory lock: two processes starting at once
would otherwise race on PostgreSQL's catalog and one would fail. The schema's
version is a row in ``chatkit_schema``, as SQLite's is its ``user_version``: a
database written by another version of the kit is refused, never half-migrated.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from chatkit.live.storage.locations import shown
from chatkit.live.storage.messages import StoreError

SCHEMA_VERSION = 1
_LOCK_KEY = 0x636B6974  # any fixed number: the advisory lock that serialises schema creation

SCHEMA = """
CREATE TABLE IF NOT EXISTS chatkit_schema (
    version     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id          BIGSERIAL PRIMARY KEY,
    chat_id     TEXT   NOT NULL,
    seq         BIGINT NOT NULL,
    client_id   TEXT   NOT NULL,
    author      TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,  -- milliseconds since the Unix epoch, UTC
    UNIQUE (chat_id, seq),
    UNIQUE (chat_id, client_id)
);
CREATE TABLE IF NOT EXISTS chat_seq (
    chat_id     TEXT PRIMARY KEY,
    last_seq    BIGINT NOT NULL  -- the chat's newest seq; its row lock orders the chat's writers
);
CREATE TABLE IF NOT EXISTS users (
    name        TEXT PRIMARY KEY,
    password    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash  TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users (name),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_name);
CREATE TABLE IF NOT EXISTS chats (
    chat_id     TEXT PRIMARY KEY,
    creator     TEXT NOT NULL,
    invite_hash TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    chat_id     TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    PRIMARY KEY (chat_id, user_name)
);
CREATE INDEX IF NOT EXISTS members_by_user ON members (user_name);
CREATE TABLE IF NOT EXISTS invites (
    chat_id     TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    inviter     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_name, chat_id)
);
"""


async def open_pool(url: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool of connections to ``url`` with the schema in place; `StoreError` if not."""
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size)
    except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise StoreError(f"cannot connect to PostgreSQL at {shown(url)}: {error}") from None
    try:
        async with pool.acquire() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
            await db.execute(SCHEMA)
            versions = [row[0] for row in await db.fetch("SELECT version FROM chatkit_schema")]
            if not versions:
                await db.execute("INSERT INTO chatkit_schema (version) VALUES ($1)", SCHEMA_VERSION)
            elif versions != [SCHEMA_VERSION]:
                raise StoreError(
                    f"{shown(url)} has schema version {versions}; expected {SCHEMA_VERSION}"
                )
    except BaseException:
        await pool.close()
        raise
    return pool
