"""Private chats: members only; in by invitation or invite code; a stranger cannot tell
whether one exists."""

from __future__ import annotations

import asyncio

import pytest
from conftest import ServerFactory
from live_support import Member, get_json, login

from chatkit.live.client.transports import HttpTransport, RequestFailed

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def refusal(attempt: object) -> tuple[str, str]:
    """The code and reason a refused call gave."""
    assert asyncio.iscoroutine(attempt)
    with pytest.raises(RequestFailed) as refused:
        await attempt
    return refused.value.code, refused.value.reason


async def test_only_members_read_or_post_and_strangers_learn_nothing(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    alice = await Member(server, "alice").start()
    bob = await Member(server, "bob").start()
    try:
        chat_id, code = await alice.socket.create_chat()
        assert chat_id.startswith("private-") and len(code) >= 16
        await alice.send(chat_id, "just us")
        ghost = "private-" + "x" * len(chat_id.removeprefix("private-"))

        def tries(target: str) -> list[object]:
            return [
                bob.socket.join(target),
                bob.socket.history(target),
                bob.socket.send(target, "b1", "let me in"),
                bob.socket.invite(target, "bob"),
                bob.socket.new_invite_code(target),
                bob.http.history(target),
                bob.http.send(target, "b2", "let me in"),
            ]

        real = [await refusal(attempt) for attempt in tries(chat_id)]
        missing = [await refusal(attempt) for attempt in tries(ghost)]
        assert {code for code, _ in real} == {"not_member"}
        assert [(c, r.replace(chat_id, "ID")) for c, r in real] == [
            (c, r.replace(ghost, "ID")) for c, r in missing
        ], "an existing private chat is refused differently from one that does not exist"
        token = login(server, "carol")
        for target in (chat_id, ghost):
            reply = get_json(f"{server.url}/api/chats/{target}/messages", token=token)
            assert (reply["_status"], reply["code"]) == (403, "not_member")
        assert bob.echoes == [], "a stranger heard a private message"
    finally:
        await alice.close()
        await bob.close()


async def test_in_by_name_or_by_code_and_out_by_leaving(start_server: ServerFactory) -> None:
    server = start_server()
    alice = await Member(server, "alice").start()
    bob = await Member(server, "bob").start()
    carol = await Member(server, "carol").start()
    dave = await Member(server, "dave").start()
    try:
        chat_id, code = await alice.socket.create_chat()
        await alice.send(chat_id, "before anyone came")

        await alice.socket.invite(chat_id, "bob")
        assert (await refusal(bob.socket.history(chat_id)))[0] == "not_member", "in unasked"
        assert await bob.socket.pending_invites() == [(chat_id, "alice")]
        await bob.socket.join(chat_id)  # accepts the invitation
        assert [m.body for m in await bob.socket.history(chat_id)] == ["before anyone came"]
        await bob.send(chat_id, "bob is in")

        assert await carol.socket.accept_invite(code) == chat_id
        await alice.send(chat_id, "welcome")
        await carol.until("carol hears the chat", lambda: len(carol.echoes) == 1)
        assert [m.body for m in carol.echoes] == ["welcome"]

        fresh = await carol.socket.new_invite_code(chat_id)  # any member may replace it
        assert (await refusal(dave.socket.accept_invite(code)))[0] == "not_found"
        assert await dave.socket.accept_invite(fresh) == chat_id

        await alice.socket.invite(chat_id, "nobody")  # answered as for anyone: no oracle

        await bob.socket.leave(chat_id)
        assert (await refusal(bob.socket.history(chat_id)))[0] == "not_member"
        assert (await refusal(bob.socket.join(chat_id)))[0] == "not_member", "back in uninvited"

        await asyncio.to_thread(server.stop)
        server.start(port=server.port)
        for member in (alice, bob, carol, dave):  # all back before they close
            await member.until("back after the restart", member.reconnected.is_set)
        history = await dave.http.history(chat_id)  # membership survived the restart
        assert [m.body for m in history] == ["before anyone came", "bob is in", "welcome"]
        assert (await refusal(bob.http.history(chat_id)))[0] == "not_member"
    finally:
        for member in (alice, bob, carol, dave):
            await member.close()


async def test_leaving_or_signing_out_stops_every_connection_hearing_the_chat(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    alice = await Member(server, "alice").start("general")
    phone = await Member(server, "bob").start("general")
    laptop = await Member(server, "bob").start("general")  # bob's second device
    carol = await Member(server, "carol").start("general")
    try:
        chat_id, _ = await alice.socket.create_chat()
        await alice.socket.invite(chat_id, "bob")
        await phone.socket.join(chat_id)
        await laptop.socket.join(chat_id)
        await alice.send(chat_id, "one")
        await laptop.until("the laptop hears it", lambda: len(laptop.echoes) == 1)

        await phone.socket.leave(chat_id)  # bob leaves, from his phone
        await alice.send(chat_id, "after bob left")
        await alice.send("general", "in general")
        await laptop.until("the laptop hears general", lambda: len(laptop.echoes) == 2)
        assert [m.body for m in laptop.echoes] == ["one", "in general"]

        async with HttpTransport(server.url, token=carol.socket.token) as http:
            await http.logout()  # carol signs out over HTTP; her socket was that session
        await alice.send("general", "after carol left")
        await laptop.until("the laptop hears it", lambda: len(laptop.echoes) == 3)
        with pytest.raises(RequestFailed) as signed_out:
            await carol.socket.typing("general")  # answered after any echo sent before it
        assert signed_out.value.code == "not_registered"
        assert "after carol left" not in [m.body for m in carol.echoes]
    finally:
        for member in (alice, phone, laptop, carol):
            await member.close()
