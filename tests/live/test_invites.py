"""Invites with consent: an invitation waits until the invitee accepts it, counts against
none of their chats, reads the same whether or not the account exists, and one person
can send only so many."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from conftest import ServerFactory
from live_support import Member

from chatkit.live.client.transports import RequestFailed
from chatkit.live.storage.accounts import MAX_PENDING_INVITES, Accounts
from chatkit.live.storage.databases import account_store

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

PASSWORD = "a long enough password"
INVITE_BURST = 20
"""`ServerSettings.invite_burst`: invitations one account may send at once..."""
INVITE_RATE = 0.5
"""...and `ServerSettings.invite_rate_per_s`, a second after that."""


@asynccontextmanager
async def accounts_at(location: str | Path) -> AsyncIterator[Accounts]:
    store = account_store(location)
    await store.open()
    await store.create_users([("alice", PASSWORD), ("bob", PASSWORD)])
    try:
        yield store
    finally:
        await store.close()


async def test_an_invite_waits_for_consent_on_either_store(location: str | Path) -> None:
    async with accounts_at(location) as store:
        chat = await store.create_private_chat("alice")
        assert await store.add_invite(chat.chat_id, "bob", "alice")
        assert not await store.add_invite(chat.chat_id, "bob", "alice"), "invited twice"
        assert not await store.add_invite(chat.chat_id, "nobody", "alice")
        assert (await store.chats_of(["bob"]))["bob"] == set(), "an invite made bob a member"
        assert await store.pending_invites("bob") == [(chat.chat_id, "alice")]

        assert await store.take_invite(chat.chat_id, "bob")
        assert (await store.chats_of(["bob"]))["bob"] == {chat.chat_id}
        assert await store.pending_invites("bob") == []
        assert not await store.take_invite(chat.chat_id, "bob"), "an invite was taken twice"
        assert not await store.add_invite(chat.chat_id, "bob", "alice"), "invited while in"

        declined = await store.create_private_chat("alice")
        await store.add_invite(declined.chat_id, "bob", "alice")
        await store.decline_invite(declined.chat_id, "bob")
        assert not await store.take_invite(declined.chat_id, "bob")

        for _ in range(MAX_PENDING_INVITES + 5):
            spam = await store.create_private_chat("alice")
            await store.add_invite(spam.chat_id, "bob", "alice")
        assert len(await store.pending_invites("bob")) == MAX_PENDING_INVITES


async def refused(attempt: object) -> str:
    try:
        await attempt  # type: ignore[misc]
    except RequestFailed as error:
        return error.code
    raise AssertionError("not refused")


async def test_nobody_is_put_in_a_chat_without_consent(start_server: ServerFactory) -> None:
    server = start_server()
    mallory = await Member(server, "mallory").start()
    victim = await Member(server, "victim").start()
    invited: list[object] = []
    victim.socket.sio.on("invited", handler=invited.append)
    try:
        chats = [(await mallory.socket.create_chat())[0] for _ in range(INVITE_BURST + 10)]
        started = time.monotonic()
        answers = await asyncio.gather(
            *(mallory.socket.sio.call("invite", {"chat_id": c, "user": "victim"}) for c in chats)
        )
        allowed = INVITE_BURST + INVITE_RATE * (time.monotonic() - started)
        invited_into = [c for c, answer in zip(chats, answers, strict=True) if answer["ok"]]
        assert INVITE_BURST <= len(invited_into) <= allowed, len(invited_into)
        assert {a["code"] for a in answers if not a["ok"]} == {"rate_limited"}
        carol = await Member(server, "carol").start()
        try:
            chat_id, _ = await carol.socket.create_chat()
            answers = [
                await carol.socket.sio.call("invite", {"chat_id": chat_id, "user": name})
                for name in ("victim", "nobody")
            ]
        finally:
            await carol.close()
        assert answers == [
            {"ok": True, "chat_id": chat_id, "user": name} for name in ("victim", "nobody")
        ], "the answer tells which names have accounts"

        pending = await victim.socket.pending_invites()
        assert {c for c, inviter in pending if inviter == "mallory"} == set(invited_into)
        assert victim.socket.chats == set()
        assert await refused(victim.socket.history(chats[0])) == "not_member"
        await victim.until("the invitations were announced", lambda: len(invited) > 0)

        own, _ = await victim.socket.create_chat()  # pending invites take no room
        await victim.socket.join(invited_into[1])  # consent: joining accepts the invitation
        await victim.socket.decline_invite(invited_into[2])
        assert await refused(victim.socket.join(invited_into[2])) == "not_member"
        pending = await victim.socket.pending_invites()
        left = {invited_into[0], *invited_into[3:]}
        assert {c for c, inviter in pending if inviter == "mallory"} == left
        assert victim.socket.chats == {own, invited_into[1]}
    finally:
        await mallory.close()
        await victim.close()
