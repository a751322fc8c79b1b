"""Accounts, sessions, private chats and members in PostgreSQL: `Accounts` shared by
every server process on the database, so a token one issued works on all of them and
a sign-out on one is a sign-out everywhere (the row is gone)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import asyncpg  # type: ignore[import-untyped]

from chatkit.live.storage.accounts import (
    INVITE_BYTES,
    MAX_PENDING_INVITES,
    PRIVATE_PREFIX,
    TOKEN_BYTES,
    AccountError,
    PrivateChat,
    password_matches,
)
from chatkit.live.storage.passwords import hash_password, token_digest
from chatkit.live.storage.postgres.schema import open_pool
from chatkit.live.wire import now_ms

_INSERT_USER = "INSERT INTO users (name, password, created_at) VALUES ($1, $2, $3)"
_UPSERT_USER = _INSERT_USER + " ON CONFLICT (name) DO UPDATE SET password = excluded.password"


class PostgresAccounts:
    """`Accounts` in a PostgreSQL database; scrypt runs on threads, never on the event loop."""

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._hashing = ThreadPoolExecutor(
            min(4, os.cpu_count() or 1), thread_name_prefix="chatkit-passwords"
        )

    async def open(self) -> None:
        self._pool = await open_pool(self.url, max_size=self.pool_size)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()
        self._hashing.shutdown(wait=True)

    async def create_users(
        self, accounts: Iterable[tuple[str, str]], *, replace: bool = False
    ) -> int:
        loop = asyncio.get_running_loop()
        rows = list(accounts)
        hashes = await asyncio.gather(
            *(loop.run_in_executor(self._hashing, hash_password, pw) for _, pw in rows)
        )
        async with self._opened().acquire() as db, db.transaction():
            for (name, _), hashed in zip(rows, hashes, strict=True):
                try:
                    await db.execute(
                        _UPSERT_USER if replace else _INSERT_USER, name, hashed, now_ms()
                    )
                except asyncpg.UniqueViolationError:
                    raise AccountError(f"there is already an account named {name!r}") from None
                if replace:  # a new password signs out every old session
                    await db.execute("DELETE FROM sessions WHERE user_name = $1", name)
        return len(rows)

    async def user_names(self) -> list[str]:
        rows = await self._opened().fetch("SELECT name FROM users ORDER BY name")
        return [row[0] for row in rows]

    async def user_exists(self, name: str) -> bool:
        return (
            await self._opened().fetchval("SELECT 1 FROM users WHERE name = $1", name) is not None
        )

    async def check_password(self, name: str, password: str) -> bool:
        stored = await self._opened().fetchval("SELECT password FROM users WHERE name = $1", name)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._hashing, password_matches, password, stored)

    async def new_session(self, name: str, ttl_s: float) -> tuple[str, int]:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = now_ms()
        expires = now + int(ttl_s * 1000)
        async with self._opened().acquire() as db, db.transaction():
            await db.execute("DELETE FROM sessions WHERE expires_at <= $1", now)  # tidy as we go
            await db.execute(
                "INSERT INTO sessions (token_hash, user_name, created_at, expires_at) "
                "VALUES ($1, $2, $3, $4)",
                token_digest(token),
                name,
                now,
                expires,
            )
        return token, expires

    async def session(self, key: str) -> tuple[str, int] | None:
        row = await self._opened().fetchrow(
            "SELECT user_name, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
            key,
            now_ms(),
        )
        return None if row is None else (row[0], row[1])

    async def live_sessions(self, keys: list[str]) -> dict[str, int]:
        rows = await self._opened().fetch(
            "SELECT token_hash, expires_at FROM sessions "
            "WHERE token_hash = ANY($1::text[]) AND expires_at > $2",
            keys,
            now_ms(),
        )
        return {row[0]: row[1] for row in rows}

    async def revoke(self, key: str) -> None:
        await self._opened().execute("DELETE FROM sessions WHERE token_hash = $1", key)

    async def chats_of(self, names: list[str]) -> dict[str, set[str]]:
        rows = await self._opened().fetch(
            "SELECT user_name, chat_id FROM members WHERE user_name = ANY($1::text[])", names
        )
        chats: dict[str, set[str]] = {name: set() for name in names}
        for row in rows:
            chats[row[0]].add(row[1])
        return chats

    async def add_member(self, chat_id: str, name: str) -> None:
        await self._opened().execute(
            "INSERT INTO members (chat_id, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            chat_id,
            name,
        )

    async def remove_member(self, chat_id: str, name: str) -> None:
        await self._opened().execute(
            "DELETE FROM members WHERE chat_id = $1 AND user_name = $2", chat_id, name
        )

    async def create_private_chat(self, creator: str) -> PrivateChat:
        chat = PrivateChat(
            PRIVATE_PREFIX + secrets.token_urlsafe(9), secrets.token_urlsafe(INVITE_BYTES)
        )
        async with self._opened().acquire() as db, db.transaction():
            await db.execute(
                "INSERT INTO chats (chat_id, creator, invite_hash, created_at) "
                "VALUES ($1, $2, $3, $4)",
                chat.chat_id,
                creator,
                token_digest(chat.invite_code),
                now_ms(),
            )
            await db.execute(
                "INSERT INTO members (chat_id, user_name) VALUES ($1, $2)", chat.chat_id, creator
            )
        return chat

    async def new_invite_code(self, chat_id: str) -> str:
        code = secrets.token_urlsafe(INVITE_BYTES)
        await self._opened().execute(
            "UPDATE chats SET invite_hash = $1 WHERE chat_id = $2", token_digest(code), chat_id
        )
        return code

    async def redeem_invite(self, code: str, name: str) -> str | None:
        async with self._opened().acquire() as db, db.transaction():
            chat_id = await db.fetchval(
                "SELECT chat_id FROM chats WHERE invite_hash = $1", token_digest(code)
            )
            if chat_id is None:
                return None
            await db.execute(
                "INSERT INTO members (chat_id, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                chat_id,
                name,
            )
        return str(chat_id)

    async def add_invite(self, chat_id: str, name: str, inviter: str) -> bool:
        async with self._opened().acquire() as db, db.transaction():
            # one invitee's invites are added one at a time, so the bound holds
            await db.execute("SELECT pg_advisory_xact_lock(hashtext($1))", name)
            added = await db.fetchval(
                "INSERT INTO invites (chat_id, user_name, inviter, created_at) "
                "SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM users WHERE name = $2) "
                "AND NOT EXISTS (SELECT 1 FROM members WHERE chat_id = $1 AND user_name = $2) "
                "AND (SELECT count(*) FROM invites WHERE user_name = $2) < $5 "
                "ON CONFLICT DO NOTHING RETURNING 1",
                chat_id,
                name,
                inviter,
                now_ms(),
                MAX_PENDING_INVITES,
            )
        return added is not None

    async def pending_invites(self, name: str) -> list[tuple[str, str]]:
        rows = await self._opened().fetch(
            "SELECT chat_id, inviter FROM invites WHERE user_name = $1 "
            "ORDER BY created_at, chat_id",
            name,
        )
        return [(row[0], row[1]) for row in rows]

    async def take_invite(self, chat_id: str, name: str) -> bool:
        async with self._opened().acquire() as db, db.transaction():
            taken = await db.fetchval(
                "DELETE FROM invites WHERE chat_id = $1 AND user_name = $2 RETURNING 1",
                chat_id,
                name,
            )
            if taken is None:
                return False
            await db.execute(
                "INSERT INTO members (chat_id, user_name) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                chat_id,
                name,
            )
        return True

    async def decline_invite(self, chat_id: str, name: str) -> None:
        await self._opened().execute(
            "DELETE FROM invites WHERE chat_id = $1 AND user_name = $2", chat_id, name
        )

    def _opened(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the account store is not open")
        return self._pool
