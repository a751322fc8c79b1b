"""Real ``chatkit serve --db postgresql://...`` processes: one serves a chat as the SQLite
server does (and a second without ``--redis`` refuses to split it), two with ``--redis``
on one database share accounts, tokens and sign-outs, and ``chatkit accounts`` makes a
class's accounts there."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ServerFactory
from live_support import Member, get_json, login

from chatkit.cli import main

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_a_server_on_postgresql_keeps_the_chat(
    start_server: ServerFactory, postgres_url: str
) -> None:
    server = start_server(db=postgres_url)
    second = [sys.executable, "-m", "chatkit.live", "--port", "0", "--db", postgres_url]
    refused = await asyncio.to_thread(
        subprocess.run, second, capture_output=True, text=True, timeout=25
    )
    assert refused.returncode == 2, "a second server without --redis split the database"
    assert "already serving" in refused.stderr and "--redis" in refused.stderr
    assert "Traceback" not in refused.stderr
    alice = await Member(server, "alice").start("general")
    try:
        for n in range(3):
            await alice.send("general", f"message {n}")
        await alice.until("all three are sent", lambda: alice.all_sent("general", 3))
    finally:
        await alice.close()
    server.restart()
    token = login(server, "alice")
    history = get_json(f"{server.url}/api/chats/general/messages", token=token)
    assert history["ok"] is True, history
    messages = history["messages"]
    assert isinstance(messages, list)
    assert [(m["seq"], m["body"], m["author"]) for m in messages] == [
        (1, "message 0", "alice"),
        (2, "message 1", "alice"),
        (3, "message 2", "alice"),
    ]


async def test_two_servers_share_tokens_and_sign_outs(
    start_server: ServerFactory, postgres_url: str, redis_url: str
) -> None:
    first = start_server("--redis", redis_url, db=postgres_url)
    second = start_server("--redis", redis_url, db=postgres_url)
    second.passwords = first.passwords  # the same accounts: made once, in the one database
    token = login(first, "alice")
    joined = get_json(f"{first.url}/api/chats/general/join", method="POST", body={}, token=token)
    assert joined["ok"] is True, joined
    send = {"client_id": "c1", "body": "sent to the second server"}
    url = f"{second.url}/api/chats/general/messages"
    stored = get_json(url, method="POST", body=send, token=token)
    assert stored["_status"] == 201, "the second server refused the first one's token"
    again = get_json(
        f"{first.url}/api/chats/general/messages", method="POST", body=send, token=token
    )
    assert again["_status"] == 200 and again["message"] == stored["message"], "stored twice"

    signed_out = get_json(f"{first.url}/api/logout", method="POST", body={}, token=token)
    assert signed_out["ok"] is True, signed_out
    assert get_json(url, token=token)["_status"] == 401, "signed out on one, not the other"
    resumed = get_json(f"{second.url}/api/login", method="POST", body={"token": token})
    assert resumed["_status"] == 401


def test_accounts_are_made_in_postgresql(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "class.csv"
    sheet.write_text("user,password\nada,ada-chose-this\ngrace,\n", encoding="utf-8")
    assert main(["accounts", "import", str(sheet), "--db", postgres_url]) == 0
    made = capsys.readouterr().out
    assert "2 accounts made in postgresql://" in made and "grace" in made
    assert main(["accounts", "import", str(sheet), "--database", postgres_url]) == 2
    assert "already an account named 'ada'" in capsys.readouterr().err
    assert main(["accounts", "list", "--db", postgres_url]) == 0
    assert capsys.readouterr().out.split() == ["ada", "grace"]
    unreachable = postgres_url.rsplit("/", 1)[0].rsplit(":", 1)[0] + ":1/nowhere"
    assert main(["accounts", "list", "--db", unreachable]) == 1
    assert "cannot connect to PostgreSQL" in capsys.readouterr().err
