"""Accounts: nobody signs in as someone else; tokens are kept hashed, expire, are revoked
by signing out and survive a restart; a teacher makes a class's accounts from a CSV."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest
import socketio  # type: ignore[import-untyped]
from conftest import ServerFactory
from live_support import WAIT_S, Member, get_json, login

from chatkit.cli import main
from chatkit.live.client.transports import HttpTransport
from chatkit.live.server.errors import NotRegistered, RateLimited, Unavailable
from chatkit.live.server.limits import Limits
from chatkit.live.server.sessions import SessionRegistry
from chatkit.live.storage import accounts
from chatkit.live.storage.accounts import AccountStore
from chatkit.tui.credentials import CannotRead, read_secret

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_nobody_signs_in_as_someone_else(start_server: ServerFactory) -> None:
    server = start_server()
    alice_password, bob_password = server.account("alice"), server.account("bob")
    url = f"{server.url}/api/login"
    for body in (
        {"user": "alice", "password": bob_password},
        {"user": "alice", "password": alice_password + "x"},
        {"user": "nobody", "password": alice_password},
        {"user": "alice", "password": ""},
        {"user": "alice"},
        {"token": "forged-token"},
    ):
        reply = get_json(url, method="POST", body=body)
        assert reply["ok"] is False and reply["_status"] in (400, 401), (body, reply)
    wrong = get_json(url, method="POST", body={"user": "alice", "password": bob_password})
    unknown = get_json(url, method="POST", body={"user": "nobody", "password": bob_password})
    assert wrong["error"] == unknown["error"], "the answer tells which names have accounts"

    raw = socketio.AsyncClient(reconnection=False)
    await raw.connect(server.url, transports=["websocket"], auth={"token": "forged"})
    try:
        reply = await raw.call("login", {"user": "bob", "password": alice_password}, timeout=WAIT_S)
        assert reply["code"] == "not_registered"
        send = {"chat_id": "general", "client_id": "c1", "body": "as bob?"}
        assert (await raw.call("send", send, timeout=WAIT_S))["code"] == "not_registered"
        signed = await raw.call(
            "login", {"user": "alice", "password": alice_password}, timeout=WAIT_S
        )
        assert signed["ok"] is True and signed["user"] == "alice"
        again = await raw.call("login", {"user": "bob", "password": bob_password}, timeout=WAIT_S)
        assert again["ok"] is False, "one connection became two people"
    finally:
        await raw.disconnect()


async def test_tokens_are_kept_hashed_and_signing_out_revokes_them(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    alice = await Member(server, "alice").start("general")
    token = alice.socket.token
    assert token is not None
    http = get_json(f"{server.url}/api/chats/general/messages", token=token)
    assert http["ok"] is True, "the Socket.IO session does not work over HTTP"

    with sqlite3.connect(server.db) as db:
        hashes = [row[0] for row in db.execute("SELECT token_hash FROM sessions")]
        stored = db.execute("SELECT password FROM users WHERE name = 'alice'").fetchone()[0]
    assert hashlib.sha256(token.encode()).hexdigest() in hashes
    assert token not in hashes
    assert stored.startswith("scrypt$") and server.account("alice") not in stored

    await alice.socket.logout()
    await alice.http.close()
    assert get_json(f"{server.url}/api/chats/general/messages", token=token)["_status"] == 401
    resumed = get_json(f"{server.url}/api/login", method="POST", body={"token": token})
    assert resumed["_status"] == 401, "a signed-out token still signs in"

    second = login(server, "alice")
    async with HttpTransport(server.url, token=second) as http_only:
        await http_only.logout()
    assert get_json(f"{server.url}/api/chats/general/messages", token=second)["_status"] == 401


async def store_with_alice(folder: Path) -> AccountStore:
    """An open account store in ``folder`` that knows alice (password "a long enough password")."""
    path = folder / "accounts.sqlite3"
    db = accounts.connect(path)
    accounts.create_user(db, "alice", "a long enough password")
    db.close()
    store = AccountStore(path)
    await store.open()
    return store


async def test_a_session_expires(tmp_path: Path) -> None:
    store = await store_with_alice(tmp_path)
    try:
        lasting = SessionRegistry(store, 10, ttl_s=3600)
        _, token = await lasting.login("alice", "a long enough password")
        assert (await lasting.find(token)) is not None
        fleeting = SessionRegistry(store, 10, ttl_s=0)
        session, short = await fleeting.login("alice", "a long enough password")
        assert session.expired()
        assert await fleeting.find(short) is None
        assert await SessionRegistry(store, 10, ttl_s=3600).find(short) is None, "read back"
    finally:
        await store.close()


async def test_password_guesses_are_limited_per_address_not_per_connection(
    tmp_path: Path,
) -> None:
    store = await store_with_alice(tmp_path)
    try:
        limits = Limits(login_rate=0.01, login_burst=3)
        sessions = SessionRegistry(store, 10, ttl_s=60, limits=limits)
        for _ in range(3):
            with pytest.raises(NotRegistered):
                await sessions.login("alice", "guess", "192.0.2.9")
        with pytest.raises(RateLimited):
            await sessions.login("alice", "a long enough password", "192.0.2.9")
        session, _ = await sessions.login("alice", "a long enough password", "192.0.2.10")
        assert session.user == "alice", "one address's guesses locked out another"
    finally:
        await store.close()


class SlowChecks(AccountStore):
    """An account store whose password checks wait until the test lets them finish."""

    def __init__(self, path: Path, waiters: int) -> None:
        super().__init__(path)
        self.release = asyncio.Event()
        self.all_waiting = asyncio.Event()
        self.waiters = waiters

    async def check_password(self, name: str, password: str) -> bool:
        self.waiters -= 1
        if self.waiters == 0:
            self.all_waiting.set()
        await self.release.wait()
        return await super().check_password(name, password)


async def test_password_checks_over_the_bound_are_answered_busy_at_once(tmp_path: Path) -> None:
    path = tmp_path / "accounts.sqlite3"
    db = accounts.connect(path)
    accounts.create_user(db, "alice", "a long enough password")
    db.close()
    store = SlowChecks(path, waiters=2)
    await store.open()
    try:
        sessions = SessionRegistry(store, 10, ttl_s=60, limits=Limits(max_checks=2))
        first = [
            asyncio.create_task(sessions.login("alice", "a long enough password", f"192.0.2.{n}"))
            for n in range(2)
        ]
        await asyncio.wait_for(store.all_waiting.wait(), WAIT_S)
        with pytest.raises(Unavailable):
            await sessions.login("alice", "a long enough password", "192.0.2.9")
        store.release.set()
        assert [session.user for session, _ in await asyncio.gather(*first)] == ["alice"] * 2
        session, _ = await sessions.login("alice", "a long enough password", "192.0.2.9")
        assert session.user == "alice", "the bound was not given back"
    finally:
        await store.close()


def test_a_class_is_made_from_a_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db, out = tmp_path / "class.sqlite3", tmp_path / "passwords.csv"
    sheet = tmp_path / "class.csv"
    sheet.write_text("User,Password\nada,ada-chose-this\ngrace,\nlinus,\n", encoding="utf-8")
    assert main(["accounts", "import", str(sheet), "--db", str(db), "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = out.read_text().splitlines()
    assert lines[0] == "user,password" and [line.split(",")[0] for line in lines[1:]] == [
        "grace",
        "linus",
    ]
    generated = dict(line.split(",") for line in lines[1:])
    check = accounts.connect(db)
    try:
        assert accounts.check_password(check, "ada", "ada-chose-this")
        assert accounts.check_password(check, "grace", generated["grace"])
        assert not accounts.check_password(check, "grace", generated["linus"])
    finally:
        check.close()
    capsys.readouterr()

    for bad, reason in (
        ("user\nmary\nmary\n", "line 3: 'mary' is in the file twice"),
        ("name\nmary\n", "needs a header row with a 'user' column"),
        ("user,password\nmary,short\n", "line 2: a password needs at least 8"),
        ("user\n" + "x" * 40 + "\n", "line 2: a user name can be at most 32"),
        ("user\nada\n", "already an account named 'ada'"),
    ):
        sheet.write_text(bad, encoding="utf-8")
        assert main(["accounts", "import", str(sheet), "--db", str(db)]) == 2
        assert reason in capsys.readouterr().err, bad
    sheet.write_text("user\nmary\nada\n", encoding="utf-8")  # ada exists: nobody is added
    assert main(["accounts", "import", str(sheet), "--db", str(db)]) == 2
    assert main(["accounts", "list", "--db", str(db)]) == 0
    assert capsys.readouterr().out.split() == ["ada", "grace", "linus"]


def test_accounts_add_takes_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "one.sqlite3"
    monkeypatch.setenv("CHATKIT_PASSWORD", "correct horse battery")
    assert main(["accounts", "add", "ada", "--db", str(db)]) == 0
    assert main(["accounts", "add", "ada", "--db", str(db)]) == 2  # taken
    monkeypatch.setenv("CHATKIT_PASSWORD", "short")
    assert main(["accounts", "add", "bob", "--db", str(db)]) == 2
    assert "at least 8 characters" in capsys.readouterr().err
    (tmp_path / "pw").write_text("from a file, first line\nignored\n")
    assert read_secret(tmp_path / "pw", "UNSET_VARIABLE") == "from a file, first line"
    monkeypatch.setenv("CHATKIT_TEST_SECRET", "from the environment")
    assert read_secret(None, "CHATKIT_TEST_SECRET") == "from the environment"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(CannotRead):
        read_secret(tmp_path / "empty", "CHATKIT_TEST_SECRET")
