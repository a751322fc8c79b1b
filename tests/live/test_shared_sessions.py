"""Sessions and members in a database several server processes share: a token one
process issued works on another, a sign-out on one is a sign-out on all, and a change of
membership reaches the others' live connections. Each registry here stands for one
server process (its own cache, its own connections to the database); the sharing tests
run on PostgreSQL and on SQLite alike, since both may be shared (SQLite with --redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from chatkit.live.server.faults import FaultInjector, FaultSettings
from chatkit.live.server.service import ChatService
from chatkit.live.server.sessions import Session, SessionRegistry
from chatkit.live.server.settings import ServerSettings
from chatkit.live.storage.accounts import AccountError, Accounts, AccountStore
from chatkit.live.storage.databases import account_store
from chatkit.live.storage.messages import SQLiteStore
from chatkit.model import ServerMessage

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PASSWORD = "a long enough password"


@asynccontextmanager
async def two_processes(location: str | Path) -> AsyncIterator[tuple[Accounts, Accounts]]:
    """Two stores on one database, as two server processes have; alice and bob have accounts."""
    first, second = account_store(location), account_store(location)
    await first.open()
    await second.open()
    await first.create_users([("alice", PASSWORD), ("bob", PASSWORD)])
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def registry(store: Accounts) -> SessionRegistry:
    return SessionRegistry(store, 10, ttl_s=3600, recheck_s=3600)


async def test_a_token_works_everywhere_and_a_sign_out_ends_it_everywhere(
    location: str | Path,
) -> None:
    async with two_processes(location) as two:
        here, there = registry(two[0]), registry(two[1])
        session, token = await here.login("alice", PASSWORD)
        elsewhere = await there.find(token)
        assert elsewhere is not None and elsewhere.user == "alice"
        there.bind("sid-on-the-other-process", elsewhere)
        other_http, other_token = await here.login("alice", PASSWORD)
        assert await there.find(other_token) is not None  # cached there, no connection

        await here.logout(session)
        await here.logout(other_http)
        assert await there.find(token) is None, "a signed-out token still works on another process"
        assert await there.find(other_token) is None, "the cache outlived the sign-out"
        found = await there.recheck()
        assert [(gone.user, sids) for gone, sids in found.revoked] == [
            ("alice", ["sid-on-the-other-process"])
        ]
        assert there.bound("sid-on-the-other-process") is None
        assert (await there.recheck()).revoked == [], "signed out twice"


async def test_membership_changes_reach_the_other_process(
    location: str | Path,
) -> None:
    async with two_processes(location) as two:
        here, there = registry(two[0]), registry(two[1])
        _, token = await here.login("alice", PASSWORD)
        elsewhere = await there.find(token)
        assert elsewhere is not None
        there.bind("sid", elsewhere)
        assert elsewhere.account.chats == set()

        await two[0].add_member("general", "alice")  # alice joined through the first process
        assert (await there.recheck()).left == []
        assert elsewhere.account.chats == {"general"}
        elsewhere.rooms.add("general")

        await two[0].remove_member("general", "alice")  # and left through it
        found = await there.recheck()
        assert [(session.user, chat) for session, chat in found.left] == [("alice", "general")]
        assert elsewhere.rooms == set() and elsewhere.account.chats == set()


async def test_private_chats_and_invites(postgres_url: str) -> None:
    """On PostgreSQL (the SQLite side is `test_private_chats`'s)."""
    async with two_processes(postgres_url) as two:
        first, second = two
        chat = await first.create_private_chat("alice")
        assert chat.chat_id.startswith("private-")
        assert await second.redeem_invite("not a code", "bob") is None
        fresh = await second.new_invite_code(chat.chat_id)
        assert await second.redeem_invite(chat.invite_code, "bob") is None, (
            "the old code still opens"
        )
        assert await first.redeem_invite(fresh, "bob") == chat.chat_id
        members = await second.chats_of(["alice", "bob", "nobody"])
        assert members == {"alice": {chat.chat_id}, "bob": {chat.chat_id}, "nobody": set()}
        assert await second.user_exists("bob") and not await second.user_exists("nobody")


async def test_accounts_are_made_all_or_none_and_a_new_password_signs_out(
    postgres_url: str,
) -> None:
    """On PostgreSQL (the SQLite side is `test_accounts`'s)."""
    async with two_processes(postgres_url) as two:
        first, second = two
        with pytest.raises(AccountError, match="already an account named 'alice'"):
            await first.create_users([("carol", PASSWORD), ("alice", PASSWORD)])
        assert await second.user_names() == ["alice", "bob"], "a failed import left some behind"
        sessions = registry(second)
        _, token = await sessions.login("alice", PASSWORD)
        await first.create_users([("alice", "a brand new password")], replace=True)
        assert await sessions.find(token) is None
        assert await second.check_password("alice", "a brand new password")
        assert not await second.check_password("alice", PASSWORD)


class _Rooms:
    """The realtime side, as far as a sign-out elsewhere concerns it."""

    def __init__(self) -> None:
        self.dropped: list[list[str]] = []
        self.changed = asyncio.Event()

    async def enter(self, session: Session, chat_id: str) -> None: ...

    async def leave(self, session: Session, chat_id: str) -> None: ...

    async def broadcast(self, message: ServerMessage) -> None: ...

    async def drop(self, sids: list[str], chat_ids: set[str]) -> None:
        self.dropped.append(sids)
        self.changed.set()

    async def faults_changed(self, faults: object) -> None: ...

    async def invited(self, user: str, chat_id: str, inviter: str) -> None: ...


async def test_the_server_signs_out_connections_revoked_elsewhere(
    location: str | Path, tmp_path: Path
) -> None:
    async with two_processes(location) as two:
        settings = ServerSettings(session_recheck_s=0.05)
        here, there = registry(two[0]), registry(two[1])
        service = ChatService(
            settings, SQLiteStore(tmp_path / "m.sqlite3"), FaultInjector(FaultSettings()), there
        )
        rooms = _Rooms()
        service.rooms = rooms
        session, token = await here.login("alice", PASSWORD)
        elsewhere = await there.find(token)
        assert elsewhere is not None
        there.bind("sid", elsewhere)
        watcher = asyncio.get_running_loop().create_task(service.watch_sessions())
        try:
            await here.logout(session)
            async with asyncio.timeout(10):
                await rooms.changed.wait()
        finally:
            watcher.cancel()
        assert rooms.dropped == [["sid"]]


class _HeldChats(AccountStore):
    """An account store whose membership reads wait until let go: a query in flight."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.asked = asyncio.Event()
        self.answer = asyncio.Event()

    async def chats_of(self, names: list[str]) -> dict[str, set[str]]:
        found = await super().chats_of(names)
        self.asked.set()
        await self.answer.wait()
        return found


async def test_a_recheck_keeps_a_join_made_while_it_read(tmp_path: Path) -> None:
    store = _HeldChats(tmp_path / "accounts.sqlite3")
    await store.open()
    try:
        await store.create_users([("alice", PASSWORD)])
        store.answer.set()
        sessions = registry(store)
        session, _ = await sessions.login("alice", PASSWORD)
        sessions.bind("sid", session)
        store.answer.clear()
        store.asked.clear()
        recheck = asyncio.get_running_loop().create_task(sessions.recheck())
        async with asyncio.timeout(10):
            await store.asked.wait()
        session.account.chats.add("general")  # a join answered while the read was out
        store.answer.set()
        await recheck
    finally:
        await store.close()
    assert session.account.chats == {"general"}, "the recheck undid a join"
